"""`BenchRecord`: one question answered by one strategy at one budget, as written to JSONL.

This is the contract between the bench runner (which writes records), the report (which
summarises and plots them), replay, and `calibrate` (which fits a compute-optimal policy from
them). Candidates are kept in launch order with their seeds, so the first `k` candidates of a
sampling run are exactly the `k` samples a probe of size `k` would draw.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BenchCandidate", "BenchRecord", "RECORD_VERSION"]

RECORD_VERSION = 1


class BenchCandidate(BaseModel):
    """What a record keeps of each candidate (no full text: records stay small)."""

    model_config = ConfigDict(frozen=True)

    id: str
    answer: str | None
    score: float | None
    seed: int | None
    round: int
    chain: int | None
    completion_tokens: int | None
    mean_logprob: float | None = None
    parent_id: str | None = None
    step_scores: list[float] | None = None
    complete: bool | None = None


class BenchRecord(BaseModel):
    """One (question, strategy, budget) run of a benchmark."""

    model_config = ConfigDict(frozen=True)

    version: int = RECORD_VERSION
    dataset: str
    example_id: str
    split: str | None = None
    question: str
    gold: str
    human_difficulty: str | None = None
    """The data set's own difficulty label (e.g. MATH level, a reasoning-gym setting)."""
    strategy: str
    n: int
    budget_tokens: int | None = None
    answer: str | None
    correct: bool
    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    seconds: float
    difficulty_score: float | None = None
    difficulty_bin: int | None = None
    plan: dict[str, object] | None = None
    """For `compute_optimal`: the plan the controller chose."""
    candidates: list[BenchCandidate]
    error: str | None = None
