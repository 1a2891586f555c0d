"""Tests of `ProgrammaticVerifier` and `answer_checker`."""

from __future__ import annotations

import threading

import pytest

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.verifiers.base import StepVerifier, Verifier
from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier, answer_checker


async def test_bool_and_float_results_become_scores() -> None:
    assert (await ProgrammaticVerifier(lambda q, s: True).score("q", "s")).score == 1.0
    assert (await ProgrammaticVerifier(lambda q, s: False).score("q", "s")).score == 0.0
    verdict = await ProgrammaticVerifier(lambda q, s: 0.25, name="quarter").score("q", "s")
    assert verdict.score == 0.25 and verdict.rationale == "quarter: 0.25"
    assert verdict.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "llm_calls": 0,
        "requests": 0,
    }


async def test_sync_checks_run_off_the_event_loop_thread() -> None:
    threads: list[threading.Thread] = []

    def check(question: str, solution: str) -> bool:
        threads.append(threading.current_thread())
        return True

    await ProgrammaticVerifier(check).score("q", "s")
    assert threads and threads[0] is not threading.main_thread()


async def test_async_checks_are_awaited() -> None:
    async def check(question: str, solution: str) -> float:
        return 0.5

    assert (await ProgrammaticVerifier(check).score("q", "s")).score == 0.5


async def test_a_checker_bug_surfaces() -> None:
    def broken(question: str, solution: str) -> bool:
        raise KeyError("oops")

    with pytest.raises(KeyError):
        await ProgrammaticVerifier(broken).score("q", "s")


async def test_out_of_range_results_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="returned 3"):
        await ProgrammaticVerifier(lambda q, s: 3, name="bad").score("q", "s")


async def test_steps_default_to_scoring_prefixes() -> None:
    verifier = ProgrammaticVerifier(lambda q, s: "wrong" not in s)
    verdict = await verifier.score_steps("q", ["fine", "wrong turn", "recovered"])
    assert verdict.step_scores == [1.0, 0.0, 0.0]
    assert isinstance(verifier, StepVerifier) and isinstance(verifier, Verifier)
    assert verifier.reserve_tokens == 0


async def test_explicit_step_check_and_its_length_check() -> None:
    verifier = ProgrammaticVerifier(
        lambda q, s: True, check_steps=lambda q, steps: [len(s) < 4 for s in steps]
    )
    assert (await verifier.score_steps("q", ["abc", "abcdef"])).step_scores == [1.0, 0.0]
    short = ProgrammaticVerifier(lambda q, s: True, check_steps=lambda q, steps: [1.0])
    with pytest.raises(ConfigurationError, match="1 scores for 2 steps"):
        await short.score_steps("q", ["a", "b"])


async def test_answer_checker_uses_math_equivalence() -> None:
    verifier = ProgrammaticVerifier(answer_checker("0.5"))
    assert (await verifier.score("q", "So x = \\boxed{\\frac{1}{2}}")).score == 1.0
    assert (await verifier.score("q", "The answer is 3.")).score == 0.0
    assert (await verifier.score("q", "I do not know")).score == 0.0
    assert "answer_checker('0.5')" in repr(verifier)


def test_answer_checker_needs_a_gold_answer() -> None:
    with pytest.raises(ConfigurationError, match="gold"):
        answer_checker(" ")
