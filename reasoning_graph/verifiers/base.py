"""The interface every verifier implements: `Verifier`, and `StepVerifier` for process rewards.

A verifier scores a solution in [0, 1]; a step verifier (a process reward model, a
step-grading judge) also scores each step. Both are async and tiny, so a new backend is one
file. Verdicts are pydantic models at this edge and plain numbers inside the graph state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reasoning_graph.errors import ProviderError
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage

__all__ = [
    "StepVerdict",
    "StepVerifier",
    "Verdict",
    "Verifier",
    "calls_per_score",
    "gather_charged",
]

_T = TypeVar("_T")


class Verdict(BaseModel):
    """A verifier's score of one solution, in [0, 1], with what it cost."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    usage: TokenUsage
    rationale: str | None = None


@runtime_checkable
class Verifier(Protocol):
    """Scores a candidate solution to a question."""

    @property
    def reserve_tokens(self) -> int:
        """Most completion tokens one `score` call may spend (0 when no model is called)."""
        ...

    async def score(self, question: str, solution: str) -> Verdict:
        """Return how likely `solution` is a correct answer to `question`."""
        ...


class StepVerdict(BaseModel):
    """A verifier's score of each step of one solution, each in [0, 1], with what it cost.

    `step_scores` has one score per step given, in order. `aggregate_step_scores` in
    `reasoning_graph.steps` folds them into one solution score.
    """

    model_config = ConfigDict(frozen=True)

    step_scores: list[float]
    usage: TokenUsage
    rationale: str | None = None

    @field_validator("step_scores")
    @classmethod
    def _in_unit_interval(cls, scores: list[float]) -> list[float]:
        bad = [s for s in scores if not 0.0 <= s <= 1.0]
        if bad:
            raise ValueError(f"step scores must lie in [0, 1]; got {bad[:3]!r}")
        return scores


def calls_per_score(verifier: Verifier) -> int:
    """Model calls one score of `verifier` costs, which `max_calls` reserves for it.

    A verifier says so with an optional `reserve_calls` property (an `LLMJudge` and a reward
    model: 1; an `EnsembleVerifier`: its members' summed; a `ProgrammaticVerifier`: 0).
    Without one, a verifier that reserves completion tokens is taken to call a model once
    per score, and one that reserves none to call no model.
    """
    declared = getattr(verifier, "reserve_calls", None)
    if isinstance(declared, int) and declared >= 0:
        return declared
    return 1 if verifier.reserve_tokens > 0 else 0


@runtime_checkable
class StepVerifier(Verifier, Protocol):
    """A `Verifier` that also scores every step of a solution (process rewards).

    `isinstance(verifier, StepVerifier)` tells whether a verifier can guide step-level
    search; a plain `Verifier` still serves outcome-scored strategies.
    """

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        """Return how likely each prefix `steps[:i + 1]` is still on a correct path."""
        ...


async def gather_charged(
    calls: Iterable[Awaitable[_T]], usage_of: Callable[[_T], TokenUsage]
) -> list[_T]:
    """Await `calls` together and return their results in order.

    Every call runs to its end, so none is left spending unseen. If one fails with a
    `ProviderError`, the first such error is raised with the usage of the calls that
    succeeded added to its `spent`: those tokens were spent, and the graph charges them.

    Raises:
        ProviderError: A call failed; `spent` holds what the others spent.
    """
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failed: ProviderError | None = None
    spent = zero_usage()
    for outcome in outcomes:
        if isinstance(outcome, ProviderError):
            failed = failed or outcome
        elif isinstance(outcome, BaseException):
            raise outcome  # a bug, not a backend failure: let it surface
        else:
            spent = add_usage(spent, usage_of(outcome))
    if failed is not None:
        failed.spent = add_usage(failed.spent or zero_usage(), spent)
        raise failed
    return [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
