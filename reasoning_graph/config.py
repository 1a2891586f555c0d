"""`ReasoningConfig`: what to spend and how, validated once at the edge."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["STRATEGIES", "ReasoningConfig", "Strategy"]

Strategy = Literal[
    "self_consistency",
    "best_of_n",
    "weighted_vote",
    "revision",
    "parallel_revision",
    "compute_optimal",
]
"""How the graph spends its samples.

- `self_consistency`: `n` samples, majority vote on the extracted answer.
- `best_of_n`: `n` samples, the verifier's highest score wins.
- `weighted_vote`: `n` samples, votes weighted by verifier score.
- `revision`: one chain of `n` attempts, each revising the earlier ones.
- `parallel_revision`: `chains` chains sharing `n` attempts between them.
- `compute_optimal`: a probe of a few samples estimates the question's difficulty; a policy
  calibrated on data picks the plan for that difficulty and a budget of `n` generations, and
  sampling stops early once the vote is settled.
"""

EarlyStop = Literal["none", "settled", "confidence"]
"""When voting strategies stop sampling early: never, once the leader cannot be overturned
by the samples left, or also once the leader is `stop_confidence` likely to be the majority
(Adaptive-Consistency's Beta rule)."""

STRATEGIES: tuple[str, ...] = get_args(Strategy)


class ReasoningConfig(BaseModel):
    """How much test-time compute to spend on a question, and how.

    Example:
        ```python
        from reasoning_graph import ReasoningConfig

        config = ReasoningConfig(strategy="weighted_vote", n=8, budget_tokens=4000)
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy = "self_consistency"
    n: int = Field(default=4, ge=1, le=1024)
    """Generations to spend: samples for voting strategies, attempts for revision."""
    chains: int | None = Field(default=None, ge=1, le=1024)
    """Parallel chains for `parallel_revision`; `None` means round(sqrt(n))."""
    budget_tokens: int | None = Field(default=None, ge=1)
    """Hard cap on completion tokens across all calls; `None` means no cap."""
    max_tokens: int = Field(default=512, ge=1, le=131072)
    """Most completion tokens one generation may use."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    seed: int = 0
    """Base seed; sample `i` of a run uses `seed + i`, so runs are reproducible."""
    share_prompt: bool = True
    """Ask for all samples of one prompt in one request (the server's `n`)."""
    revision_context: int = Field(default=4, ge=1, le=64)
    """How many earlier attempts of its chain a revision sees."""
    system_prompt: str | None = None
    """Replaces the default system prompt of the generator."""
    early_stop: EarlyStop = "none"
    """Early stopping for `self_consistency`; `compute_optimal` takes it from its policy."""
    stop_confidence: float = Field(default=0.95, gt=0.5, le=1.0)
    wave_size: int | None = Field(default=None, ge=1)
    """Samples per wave when stopping early; `None` means 4 (or the policy's)."""
    logprobs: bool = False
    """Ask for token log-probabilities (they sharpen the difficulty estimate)."""
    policy: str | None = None
    """Policy file for `compute_optimal`; `None` means the one shipped with the package."""

    @field_validator("strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: object) -> object:
        if isinstance(value, str) and value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; choose one of: {', '.join(STRATEGIES)}")
        return value
