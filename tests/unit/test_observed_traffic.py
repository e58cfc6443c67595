"""What a rehearsal says tenants got, judged from their answers alone."""

from __future__ import annotations

import json
import threading

from rollout.local.observed_traffic import (
    Recording,
    first_failure,
    observed_split,
    served_after,
    settings_continuity,
    strays,
)
from rollout.local.traffic import Answer


def answer(tenant: str, colour: str, at: float, status: int | None = 200,
           theme: str = "dark") -> Answer:
    body = json.dumps({"settings": {"theme": theme}}).encode() if status == 200 else b"{}"
    return Answer(tenant, colour, status, sent_at=at, answered_at=at + 0.01, body=body)


def test_the_split_counts_only_requests_sent_in_the_span_and_leaves_pinned_tenants_out(
        ) -> None:
    answers = [answer("a", "green", 1.0), answer("a", "blue", 1.5), answer("b", "blue", 1.6),
               answer("p", "blue", 1.7), answer("a", "green", 2.0)]
    split = observed_split(answers, "green", 1.0, 2.0, excluded=["p"])
    assert (split.requests, split.served, split.percent) == (3, 1, 100 / 3)
    assert observed_split(answers, "green", 5.0, 6.0).percent == 0.0


def test_a_pinned_tenant_served_by_another_colour_is_a_stray_and_failures_to_connect_are_not(
        ) -> None:
    answers = [answer("p", "blue", 1), answer("p", "green", 2), answer("p", "none", 3, None),
               answer("q", "blue", 4), answer("a", "green", 5)]
    assert strays(answers, {"p": "blue", "q": "blue"}) == {"p": 1, "q": 0}


def test_continuity_compares_a_tenants_first_answer_on_the_new_colour_with_its_last_on_the_old(
        ) -> None:
    answers = [answer("a", "blue", 1, theme="light"), answer("a", "blue", 2, theme="dark"),
               answer("a", "green", 3, theme="dark"), answer("a", "green", 4, theme="other"),
               answer("b", "blue", 1, theme="dark"), answer("b", "green", 2, theme="midnight"),
               answer("c", "green", 1), answer("d", "blue", 1),
               answer("e", "blue", 1), answer("e", "green", 2, status=500)]
    assert settings_continuity(answers, "blue", "green") == (["a"], ["b"])


def test_the_first_failure_and_what_a_colour_served_after_a_moment() -> None:
    answers = [answer("a", "green", 1), answer("a", "green", 2, status=500),
               answer("a", "green", 1.5, status=502), answer("a", "blue", 3, status=500),
               answer("a", "green", 4)]
    failed = first_failure(answers, "green")
    assert failed is not None and failed.status == 502
    assert first_failure(answers[:1], "green") is None
    assert [a.sent_at for a in served_after(answers, "green", 1.5)] == [2, 4]


def test_a_recording_counts_and_keeps_every_answer_from_many_threads() -> None:
    recording = Recording()

    def send(index: int) -> None:
        for n in range(50):
            recording.answered(answer(f"t{index}", "blue", n))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recording.taken()) == recording.requests == 200
    assert recording.per_tenant["t3"]["blue"] == 50
