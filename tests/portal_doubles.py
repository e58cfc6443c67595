"""An in-memory :class:`PortalBackend`, for the tests of the preferences page itself.

The page's tests (over httpx and behind Mangum in ``tests/unit/test_portal_app.py``, in
headless Chromium in ``tests/integration/test_portal_browser.py``) are about what the web
layer does with a backend's answers, not about the rules behind them, which the ledger's
backend keeps and ``tests/unit/test_choice_rules.py`` and
``tests/integration/test_choices_portal.py`` test. One double serves both, so the page is
tested against the same answers however it is driven: a link is refused in the same
words, and a choice is checked, recorded and confirmed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rollout.choices.portal_api import (
    ChoiceForm,
    ChoiceOutcome,
    ChoicePage,
    ChoiceRefused,
    TokenRefused,
)


@dataclass
class InMemoryPortalBackend:
    """One tenant's one link (``token``) to ``page``; keeps each choice it records.

    Like the ledger's backend, it refuses another token, a used link, a form secret other
    than the page's, a window the page does not offer and a stay outside the page's
    bounds, and then records nothing. The confirmation names the action and the page's
    title, so a title a test makes hostile reaches the confirmation page too.
    """

    page: ChoicePage
    token: str
    recorded: list[ChoiceForm] = field(default_factory=list)

    def open(self, token: str) -> ChoicePage:
        self._usable(token)
        return self.page

    def choose(self, token: str, form: ChoiceForm) -> ChoiceOutcome:
        self._usable(token)
        if form.form_secret != self.page.form_secret:
            raise TokenRefused("this form is out of date: open your link again")
        if form.action == "window" and form.window not in {w.value for w in self.page.windows}:
            raise ChoiceRefused(f"{form.window} is not one of your upgrade windows")
        earliest, latest = self.page.opt_out_earliest, self.page.opt_out_latest
        if form.action == "opt_out" and not (form.until and earliest <= form.until <= latest):
            raise ChoiceRefused(f"you can stay until {latest} at the latest")
        self.recorded.append(form)
        return ChoiceOutcome(f"recorded: {form.action} for {self.page.title}")

    def _usable(self, token: str) -> None:
        if token != self.token:
            raise TokenRefused("this link is not valid: open the link from your latest notice")
        if self.recorded:
            raise TokenRefused("this link has been used already")
