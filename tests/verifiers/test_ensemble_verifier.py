"""Tests of `EnsembleVerifier`: combining, weights, and surviving failed members."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from reasoning_graph.errors import ConfigurationError, ProviderUnavailableError
from reasoning_graph.providers.fake import FakeVerifier
from reasoning_graph.usage import zero_usage
from reasoning_graph.verifiers.base import StepVerdict, Verdict
from reasoning_graph.verifiers.ensemble import EnsembleVerifier
from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier


class Down:
    """A member whose backend is down."""

    reserve_tokens = 3

    async def score(self, question: str, solution: str) -> Verdict:
        raise ProviderUnavailableError("server down")

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        raise ProviderUnavailableError("server down")


class Buggy:
    reserve_tokens = 0

    async def score(self, question: str, solution: str) -> Verdict:
        raise ZeroDivisionError("bug")


def scorer(value: float, *, reserve: int = 0) -> FakeVerifier:
    return FakeVerifier({}, default=value, reserve_tokens=reserve)


async def test_weighted_mean_and_summed_usage() -> None:
    ensemble = EnsembleVerifier([scorer(1.0, reserve=2), scorer(0.0, reserve=3)], weights=[3, 1])
    verdict = await ensemble.score("q", "s")
    assert verdict.score == pytest.approx(0.75)
    assert verdict.usage["completion_tokens"] == 5 and verdict.usage["llm_calls"] == 2
    assert ensemble.reserve_tokens == 5


@pytest.mark.parametrize(("how", "expected"), [("min", 0.2), ("max", 0.9), ("mean", 0.55)])
async def test_combinations(how, expected) -> None:
    ensemble = EnsembleVerifier([scorer(0.2), scorer(0.9)], how=how)
    assert (await ensemble.score("q", "s")).score == pytest.approx(expected)


async def test_a_failed_member_is_skipped_and_noted() -> None:
    ensemble = EnsembleVerifier([Down(), scorer(0.6)], weights=[5, 1])
    verdict = await ensemble.score("q", "s")
    assert verdict.score == pytest.approx(0.6)
    assert verdict.rationale is not None and "#0 Down failed: server down" in verdict.rationale
    assert ensemble.reserve_tokens == 3


async def test_all_members_failing_raises_provider_error() -> None:
    with pytest.raises(ProviderUnavailableError, match="Every verifier"):
        await EnsembleVerifier([Down(), Down()]).score("q", "s")


async def test_bugs_are_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        await EnsembleVerifier([Buggy(), scorer(1.0)]).score("q", "s")


async def test_steps_skip_members_without_step_scores() -> None:
    steps_member = ProgrammaticVerifier(lambda q, s: 0.5, check_steps=lambda q, st: [1.0, 0.0])
    ensemble = EnsembleVerifier([scorer(1.0), steps_member, Down()])
    verdict = await ensemble.score_steps("q", ["a", "b"])
    assert verdict.step_scores == [1.0, 0.0]
    assert verdict.rationale is not None
    assert "#0 FakeVerifier skipped: no step scores" in verdict.rationale
    assert "#2 Down failed" in verdict.rationale


async def test_steps_need_at_least_one_able_member() -> None:
    with pytest.raises(ConfigurationError, match="scores steps"):
        await EnsembleVerifier([scorer(1.0)]).score_steps("q", ["a"])


async def test_member_with_wrong_step_count_is_skipped() -> None:
    class Short:
        reserve_tokens = 0

        async def score(self, question: str, solution: str) -> Verdict:
            return Verdict(score=1.0, usage=zero_usage())

        async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
            return StepVerdict(step_scores=[1.0], usage=zero_usage())

    good = ProgrammaticVerifier(lambda q, s: 0.25)
    verdict = await EnsembleVerifier([Short(), good]).score_steps("q", ["a", "b"])
    assert verdict.step_scores == [0.25, 0.25]
    assert verdict.rationale is not None and "1 scores for 2 steps" in verdict.rationale


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"weights": [1.0]}, "one weight per verifier"),
        ({"weights": [0.0, 0.0]}, "not all 0"),
        ({"weights": [-1.0, 2.0]}, ">= 0"),
        ({"how": "median"}, "how"),
    ],
)
def test_bad_options(options, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        EnsembleVerifier([scorer(1.0), scorer(0.0)], **options)


def test_empty_ensemble_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        EnsembleVerifier([])


class SpentThenDown:
    """A member that spent 7 tokens on 2 calls before its backend failed."""

    reserve_tokens = 4

    def _error(self) -> ProviderUnavailableError:
        error = ProviderUnavailableError("down after two calls")
        error.spent = {"prompt_tokens": 10, "completion_tokens": 7, "llm_calls": 2, "requests": 2}
        return error

    async def score(self, question: str, solution: str) -> Verdict:
        raise self._error()

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        raise self._error()


async def test_what_members_spent_is_charged_even_when_they_fail_or_are_skipped() -> None:
    """Spent tokens are charged whatever became of the scores: a failed member's `spent`, a
    member skipped for a wrong step count, and everything when all members fail. (Before,
    all three were dropped from the verdict's usage, so the controller undercounted.)"""
    charged = {"prompt_tokens": 1, "completion_tokens": 2, "llm_calls": 1, "requests": 1}

    class Short:
        reserve_tokens = 2

        async def score(self, question: str, solution: str) -> Verdict:
            return Verdict(score=1.0, usage=charged)

        async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
            return StepVerdict(step_scores=[1.0], usage=charged)

    good = ProgrammaticVerifier(lambda q, s: 0.25)
    verdict = await EnsembleVerifier([SpentThenDown(), good]).score("q", "s")
    assert verdict.usage == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "llm_calls": 2,
        "requests": 2,
    }

    steps = await EnsembleVerifier([SpentThenDown(), Short(), good]).score_steps("q", ["a", "b"])
    assert steps.step_scores == [0.25, 0.25]
    assert steps.usage == {
        "prompt_tokens": 11,
        "completion_tokens": 9,
        "llm_calls": 3,
        "requests": 3,
    }

    with pytest.raises(ProviderUnavailableError) as caught:
        await EnsembleVerifier([SpentThenDown(), SpentThenDown()]).score("q", "s")
    assert caught.value.spent == {
        "prompt_tokens": 20,
        "completion_tokens": 14,
        "llm_calls": 4,
        "requests": 4,
    }
