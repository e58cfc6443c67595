"""The preferences page's HTML: what changes, when, the risks, and the tenant's choice.

Pure: a :class:`~rollout.choices.portal_api.ChoicePage` in, a string out. Every text is
escaped (tenant ids, release notes and refusal messages are written by people), styles
are inline and nothing is fetched, so the page works offline, without JavaScript and
under a Content-Security-Policy that forbids every fetch.

The choice is three small forms rather than one: each sends only its own fields, so the
browser's own checks (a window picked, a date within bounds) apply to the button
pressed and to nothing else. The link's token and the form secret appear only in the
hidden fields of those forms, never in text a person reads or a URL the form posts to.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from rollout.choices.portal_api import ChoiceOutcome, ChoicePage, WindowOption

FORM_ACTION = "choose"
"""Relative, so the page also works under an API Gateway stage's path; without a query,
so the token goes in the body, never in a URL a proxy would log."""

STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:44rem;margin:0 auto;padding:1.5rem 1.25rem 3rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 .25rem}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem}
section{background:#fff;border:1px solid #d1d5db;border-radius:8px;padding:.25rem 1.25rem 1rem;
margin:1rem 0}
.when{font-size:1.1rem}
.notice{border-left:4px solid #2563eb;background:#eff6ff;padding:.75rem 1rem;border-radius:4px}
.refused{border-left:4px solid #b91c1c;background:#fef2f2;padding:.75rem 1rem;border-radius:4px}
fieldset{border:1px solid #9ca3af;border-radius:6px;margin:1rem 0;padding:.75rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.option{display:block;margin:.35rem 0}
input[type=date]{font:inherit;padding:.3rem .4rem}
button{font:inherit;margin-top:.75rem;padding:.5rem 1rem;border-radius:6px;
border:1px solid #1e3a8a;background:#1d4ed8;color:#fff;cursor:pointer}
button:focus,input:focus{outline:3px solid #f59e0b;outline-offset:2px}
.muted{color:#4b5563}
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _sentence(text: str) -> str:
    """``text`` escaped, as a sentence: a capital first, one full stop last."""
    text = text.strip().rstrip(".")
    return _text(text[:1].upper() + text[1:] + ".")


def document(title: str, body: str) -> str:
    """A whole page: ``body`` (already HTML) under ``title`` (text)."""
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            f"<title>{_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in items) + "</ul>"


def _hidden(token: str, page: ChoicePage) -> str:
    return (f"<input type=\"hidden\" name=\"t\" value=\"{_text(token)}\">"
            f"<input type=\"hidden\" name=\"form_secret\" value=\"{_text(page.form_secret)}\">")


def _window_option(index: int, option: WindowOption) -> str:
    checked = " checked" if option.current else ""
    planned = " <span class=\"muted\">(planned now)</span>" if option.current else ""
    return (f"<label class=\"option\" for=\"window-{index}\">"
            f"<input type=\"radio\" id=\"window-{index}\" name=\"window\" "
            f"value=\"{_text(option.value)}\" required{checked}> "
            f"{_text(option.label)}{planned}</label>")


def _window_form(token: str, page: ChoicePage) -> str:
    if not page.windows:
        return ""
    options = "".join(_window_option(i, option) for i, option in enumerate(page.windows, 1))
    return (f"<form method=\"post\" action=\"{FORM_ACTION}\">{_hidden(token, page)}"
            "<fieldset><legend>Upgrade in another of your windows</legend>"
            f"<p class=\"muted\">Times are in your time zone, {_text(page.timezone)}.</p>"
            f"{options}<button type=\"submit\" name=\"action\" value=\"window\">"
            "Upgrade in this window</button></fieldset></form>")


def _opt_out_form(token: str, page: ChoicePage) -> str:
    return (f"<form method=\"post\" action=\"{FORM_ACTION}\">{_hidden(token, page)}"
            "<fieldset><legend>Stay on your current version for now</legend>"
            "<label for=\"until\">Stay on your current version until</label> "
            f"<input type=\"date\" id=\"until\" name=\"until\" required "
            f"min=\"{page.opt_out_earliest.isoformat()}\" "
            f"max=\"{page.opt_out_latest.isoformat()}\" aria-describedby=\"until-bounds\">"
            f"<p id=\"until-bounds\" class=\"muted\">Any day from {page.opt_out_earliest} "
            f"to {page.opt_out_latest}.</p>"
            "<button type=\"submit\" name=\"action\" value=\"opt_out\">"
            "Stay on my current version</button></fieldset></form>")


def _confirm_form(token: str, page: ChoicePage) -> str:
    return (f"<form method=\"post\" action=\"{FORM_ACTION}\">{_hidden(token, page)}"
            "<fieldset><legend>Keep the planned time</legend>"
            f"<p>Your upgrade stays as planned: {_text(page.when)}.</p>"
            "<button type=\"submit\" name=\"action\" value=\"confirm\">"
            "Confirm the planned time</button></fieldset></form>")


def _choices(token: str, page: ChoicePage) -> str:
    if not page.open:
        reason = page.closed_reason or "choices about this release are closed"
        return (f"<p class=\"notice\">You can no longer change this upgrade: "
                f"{_text(reason.rstrip('.'))}.</p>")
    return (_window_form(token, page) + _opt_out_form(token, page)
            + _confirm_form(token, page))


def choice_page(page: ChoicePage, token: str, refusal: str | None = None) -> str:
    """The page the link opens; with ``refusal``, the reason the last choice was not
    recorded, shown above the facts and announced to screen readers."""
    alert = (f"<p class=\"refused\" role=\"alert\">Not recorded: {_text(refusal)}</p>"
             if refusal else "")
    recorded = (f"<p class=\"notice\">On record: {_text(page.recorded)}.</p>"
                if page.recorded else "")
    body = (f"<h1>{_text(page.title)}: version {_text(page.release)}</h1>"
            f"<p class=\"muted\">For {_text(page.tenant)}</p>{alert}"
            f"<p class=\"when\">Your upgrade is planned: <strong>{_text(page.when)}</strong>"
            f" <span class=\"muted\">(times in {_text(page.timezone)})</span></p>{recorded}"
            f"<section aria-labelledby=\"changes\"><h2 id=\"changes\">What changes</h2>"
            f"{_list(page.changes)}<h2>What you gain</h2>{_list(page.benefits)}"
            f"<h2>Risks</h2>{_list(page.risks)}<h2>If something goes wrong</h2>"
            f"<p>{_text(page.rollback_plan)}</p></section>"
            f"<section aria-labelledby=\"choice\"><h2 id=\"choice\">Your choice</h2>"
            f"{_choices(token, page)}</section>")
    return document(f"{page.title}: version {page.release}", body)


def outcome_page(outcome: ChoiceOutcome) -> str:
    """The confirmation: what was recorded, and that the link is spent."""
    body = ("<h1>Your choice is recorded</h1>"
            f"<p class=\"notice\" role=\"status\">{_sentence(outcome.message)}</p>"
            "<p class=\"muted\">This link has done its job and cannot be used again. "
            "You can close this page.</p>")
    return document("Your choice is recorded", body)


def refused_link_page(reason: str) -> str:
    """The answer to a link that cannot be used: the reason, and nothing else."""
    body = ("<h1>This link cannot be used</h1>"
            f"<p class=\"refused\" role=\"alert\">this link cannot be used: {_text(reason)}</p>")
    return document("This link cannot be used", body)


def plain_page(title: str, message: str) -> str:
    """A page of one message (a request the page cannot read)."""
    return document(title, f"<h1>{_text(title)}</h1><p>{_text(message)}</p>")
