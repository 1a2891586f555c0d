"""Online trace termination (DeepConf online): the monitor and the threshold against
hand-computed values, scripted low-confidence traces stopped with exact usage, and what
happens with a provider that cannot stop a trace or returns no logprobs.

The embedded provider's path is in tests/providers/test_llama_cpp_provider.py, the OpenAI
streaming path in tests/providers/test_openai_provider.py, the budget property in
tests/test_budget_property.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoning_graph import asolve
from reasoning_graph.nodes.think import new_candidate
from reasoning_graph.online_stop import (
    STOP_REASON,
    TraceMonitor,
    can_stop_online,
    online_stop_note,
    online_threshold,
)
from reasoning_graph.providers.base import Completion, TokenLogprob
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.state import Candidate

POLICY = Path(__file__).parent / "fixtures" / "policy_all_plans.json"
TEXT = "a b c d e f The answer is 4."  # ten words: ten tokens
SURE = [-0.1, -5.0]  # token confidence with k = 2: -(-0.1 - 5.0) / 2 = 2.55
UNSURE = [-0.7, -0.8]  # -(-0.7 - 0.8) / 2 = 0.75


def token(*top: float) -> TokenLogprob:
    return TokenLogprob(
        token="t",
        logprob=top[0] if top else -1.0,
        top_logprobs={f"t{i}": v for i, v in enumerate(top)},
    )


def alternating(index: int) -> list[float]:
    """Even completions sure, odd ones unsure."""
    return SURE if index % 2 == 0 else UNSURE


def test_the_monitor_stops_once_a_full_window_falls_below_the_threshold() -> None:
    monitor = TraceMonitor({"threshold": 1.0, "window": 2, "top_k": 2})
    # Token confidences 2.0, 0.5 (window mean 1.25), -, 0.4 (mean 0.45 < 1.0: stop).
    assert monitor.observe(token(-1.0, -3.0)) is False  # window not full yet
    assert monitor.observe(token(-0.25, -0.75)) is False
    assert monitor.observe(token()) is False  # no alternatives: not measured
    assert monitor.observe(token(-0.3, -0.5)) is True
    assert monitor.stopped and monitor.tokens == 4
    assert monitor.observe(token(-5.0, -5.0)) is True  # sticky: llama.cpp asks twice


def test_a_trace_shorter_than_the_window_is_never_stopped() -> None:
    monitor = TraceMonitor({"threshold": 100.0, "window": 3, "top_k": 2})
    assert not any(monitor.observe(token(-0.1, -0.2)) for _ in range(2))
    assert monitor.observe(token(-0.1, -0.2)) is True


def warm(index: int, lowest: float | None) -> Candidate:
    candidate = new_candidate(
        Completion(text="x"), candidate_id=f"c{index}", node="think", seed=index
    )
    if lowest is not None:
        candidate["confidence"] = {
            "tokens": 1,
            "mean": lowest,
            "lowest_group": lowest,
            "bottom_group": lowest,
            "tail": lowest,
            "window": 1,
            "top_k": 2,
        }
    return candidate


def test_the_threshold_is_the_warmup_quantile_deepconf_sets() -> None:
    warmup = [warm(0, 3.0), warm(1, 1.0), warm(2, 4.0), warm(3, 2.0)]
    later = [warm(4, 0.0), warm(5, 9.0)]  # after the warm-up: not counted
    # DeepConf-high keeps 90%: the 10th percentile, 1.0 + 0.3 * (2.0 - 1.0) = 1.3.
    assert online_threshold([*warmup, *later], {"keep": 0.9, "warmup": 4}) == pytest.approx(1.3)
    # DeepConf-low keeps 10%: the 90th percentile, 3.0 + 0.7 * (4.0 - 3.0) = 3.7.
    assert online_threshold(warmup, {"keep": 0.1, "warmup": 4}) == pytest.approx(3.7)
    # Warm-up samples without confidence are left out; none with it, no threshold.
    assert online_threshold([warm(0, None), warm(1, 2.0)], {"keep": 0.5, "warmup": 2}) == 2.0
    assert online_threshold([warm(0, None)], {"keep": 0.5, "warmup": 2}) is None


async def test_a_low_confidence_trace_is_stopped_with_its_tokens_counted() -> None:
    generator = FakeGenerator([TEXT], logprobs=alternating)
    result = await asolve(
        "2 + 2?",
        generator=generator,
        n=8,
        online_stop=0.5,
        confidence_window=2,
        top_logprobs=2,
    )

    # The warm-up (c0..c3, the default wave of 4) ran whole, unwatched; its threshold is the
    # median lowest group confidence, (0.75 + 2.55) / 2 = 1.65.
    first, second = generator.calls
    assert (first.n, second.n) == (4, 4)
    by_id = {c.id: c for c in result.candidates}
    assert all(by_id[f"c{i}"].online_stop is None for i in range(4))
    assert all(by_id[f"c{i}"].completion_tokens == 10 for i in range(4))
    # After it, the sure traces run to their end, the unsure ones stop once a window of two
    # tokens is in: two tokens, counted, their answer abstaining.
    for i in (4, 6):
        assert by_id[f"c{i}"].online_stop == "watched"
        assert by_id[f"c{i}"].finish_reason == "stop" and by_id[f"c{i}"].answer == "4"
    for i in (5, 7):
        stopped = by_id[f"c{i}"]
        assert stopped.online_stop == "stopped" and stopped.finish_reason == STOP_REASON
        assert stopped.completion_tokens == 2 and stopped.text == "a b"
        assert stopped.answer is None
    assert result.usage.completion_tokens == 4 * 10 + 2 * 10 + 2 * 2
    assert result.usage.completion_tokens == sum(
        c.completion_tokens or 0 for c in result.candidates
    )
    assert result.answer == "4" and result.notes == []


async def test_stopped_traces_abstain_from_the_vote() -> None:
    """The unsure traces say 5 in their first four words, so even cut after a window of four
    their text states it; stopped, they abstain, and the two sure 4s win 2 to 1. Without
    online stop, 5 wins 6 to 2.

    Planted bug: `mark_online` keeping a stopped trace's answer made this fail (5 won 6 to 2
    online too); reverted."""

    def script(messages: object, index: int) -> str:
        answer = 4 if index in (0, 4) else 5
        return f"The answer is {answer}. I checked it twice"

    def logprobs(index: int) -> list[float]:
        return SURE if index in (0, 4) else UNSURE

    options = {"n": 8, "confidence_window": 4, "top_logprobs": 2, "wave_size": 2}
    plain = await asolve("2 + 2?", generator=FakeGenerator(script, logprobs=logprobs), **options)
    online = await asolve(
        "2 + 2?", generator=FakeGenerator(script, logprobs=logprobs), online_stop=0.5, **options
    )
    assert plain.answer == "5"
    # Warm-up c0 (sure, 4) and c1 (unsure, 5); threshold 1.65; c2, c3, c5, c6, c7 stop.
    marks = [c.online_stop for c in online.candidates]
    assert marks == [None, None, "stopped", "stopped", "watched", *["stopped"] * 3]
    stopped = [c for c in online.candidates if c.online_stop == "stopped"]
    assert all(c.text == "The answer is 5." and c.answer is None for c in stopped)
    assert online.answer == "4"


async def test_compute_optimal_takes_its_probe_as_the_warmup() -> None:
    generator = FakeGenerator([TEXT], logprobs=alternating)
    result = await asolve(
        "2 + 2?",
        generator=generator,
        strategy="compute_optimal",
        policy=str(POLICY),
        n=8,
        online_stop=0.5,
        confidence_window=2,
        top_logprobs=2,
    )
    probe_n = result.plan["online_stop"]["warmup"]
    assert probe_n == generator.calls[0].n
    marks = [c.online_stop for c in result.candidates if c.node == "think"]
    assert all(mark is None for mark in marks[:probe_n])
    assert result.notes == []
    # The probe (c0 sure, c1 unsure) sets the median, 1.65; the chosen plan's c2 is sure, c3 not.
    assert marks[probe_n:] == ["watched", "stopped"]
    stopped = result.candidates[-1]
    assert stopped.completion_tokens == 2 and stopped.answer is None


async def test_a_provider_that_cannot_stop_runs_every_trace_to_the_end_with_a_note() -> None:
    generator = FakeGenerator([TEXT], logprobs=alternating, stops_online=False)
    assert not can_stop_online(generator) and can_stop_online(FakeGenerator([TEXT]))
    result = await asolve(
        "2 + 2?", generator=generator, n=6, online_stop=0.5, confidence_window=2, top_logprobs=2
    )
    assert all(c.completion_tokens == 10 for c in result.candidates)
    assert [c.online_stop for c in result.candidates] == [None] * 4 + ["unsupported"] * 2
    assert result.answer == "4"
    [note] = result.notes
    assert note.startswith("online trace termination not applied: the provider cannot stop")
    assert "2 sample(s) ran to the end" in note


async def test_without_logprobs_there_is_no_threshold_and_a_note() -> None:
    result = await asolve("2 + 2?", generator=FakeGenerator([TEXT]), n=6, online_stop=0.5)
    assert all(c.online_stop is None and c.completion_tokens == 10 for c in result.candidates)
    assert result.answer == "4"
    assert any("no token confidence to set the threshold from" in n for n in result.notes)


async def test_nothing_after_the_warmup_means_nothing_to_say() -> None:
    result = await asolve(
        "2 + 2?", generator=FakeGenerator([TEXT], logprobs=alternating), n=3, online_stop=0.5
    )
    assert result.notes == [] and len(result.candidates) == 3


def test_the_note_names_a_plan_that_does_not_sample() -> None:
    plan = {"online_stop": {"keep": 0.9, "warmup": 2}, "selection": "weighted", "chains": 2}
    note = online_stop_note(plan, [warm(0, 1.0)])
    assert note is not None and "revises chains or searches steps" in note
