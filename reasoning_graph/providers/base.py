"""The two interfaces every backend implements: `Generator` and `Verifier`.

A generator samples chat completions; a verifier scores a solution in [0, 1], and a step
verifier (a process reward model, a step-grading judge) also scores each step. All are
async and tiny, so a new backend is one file. Results are pydantic models at this edge and
plain dicts inside the graph state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.messages import ChatMessage
from reasoning_graph.usage import TokenUsage

__all__ = [
    "check_sampling",
    "ChatMessage",
    "Completion",
    "Generation",
    "Generator",
    "StepVerdict",
    "StepVerifier",
    "TokenLogprob",
    "Verdict",
    "Verifier",
]


class TokenLogprob(BaseModel):
    """A sampled token, its log-probability and the most likely alternatives."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    top_logprobs: dict[str, float] = Field(default_factory=dict)


class Completion(BaseModel):
    """One sampled completion.

    `completion_tokens` is exact when the server reported it for this completion alone
    (one completion per request) and `None` when only the request's total is known.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: str | None = None
    completion_tokens: int | None = None
    logprobs: list[TokenLogprob] | None = None
    seed: int | None = None


class Generation(BaseModel):
    """What one `Generator.generate` call returns: the completions and the exact spend."""

    model_config = ConfigDict(frozen=True)

    completions: list[Completion]
    usage: TokenUsage


@runtime_checkable
class Generator(Protocol):
    """Samples chat completions from a model.

    Implementations must return exactly `n` completions (or raise `ProviderError`), never
    produce more than `max_tokens` completion tokens per completion, and report the token
    usage of every request they made, retries excluded.
    """

    @property
    def model_name(self) -> str:
        """The model's name, for results and cache keys."""
        ...

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> Generation:
        """Sample `n` completions of `messages`."""
        ...


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


@runtime_checkable
class StepVerifier(Verifier, Protocol):
    """A `Verifier` that also scores every step of a solution (process rewards).

    `isinstance(verifier, StepVerifier)` tells whether a verifier can guide step-level
    search; a plain `Verifier` still serves outcome-scored strategies.
    """

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        """Return how likely each prefix `steps[:i + 1]` is still on a correct path."""
        ...


def check_sampling(
    n: int, max_tokens: int, top_logprobs: int = 0, *, max_top_logprobs: int | None = None
) -> None:
    """Raise `ConfigurationError` unless `n` and `max_tokens` are at least 1 and, when the
    backend caps it, `top_logprobs` is between 0 and `max_top_logprobs`."""
    top_ok = max_top_logprobs is None or 0 <= top_logprobs <= max_top_logprobs
    if n >= 1 and max_tokens >= 1 and top_ok:
        return
    message = f"n={n!r} and max_tokens={max_tokens!r} must be at least 1"
    if max_top_logprobs is not None:
        message += f", and top_logprobs={top_logprobs!r} between 0 and {max_top_logprobs}"
    raise ConfigurationError(message)
