"""`Result`: the answer of a run with the evidence behind it and what it cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from reasoning_graph.confidence import Confidence
from reasoning_graph.online_stop import run_notes
from reasoning_graph.state import OnlineStopMark, candidate_order
from reasoning_graph.usage import TokenUsage, add_usage, total_usage, zero_usage

__all__ = [
    "CandidateResult",
    "DifficultyResult",
    "FailureResult",
    "IgnoredOption",
    "Result",
    "UsageResult",
]


class CandidateResult(BaseModel):
    """One candidate solution: its text, extracted answer and verifier score."""

    model_config = ConfigDict(frozen=True)

    id: str
    answer: str | None
    score: float | None
    text: str
    node: str
    round: int
    chain: int | None
    parent_id: str | None
    finish_reason: str | None
    completion_tokens: int | None
    seed: int | None
    mean_logprob: float | None = None
    confidence: Confidence | None = None
    """Token confidence (`reasoning_graph.confidence`), when the provider returned logprobs."""
    step_scores: list[float] | None = None
    """Step search: the step verifier's score of each step of this beam."""
    complete: bool | None = None
    """Step search: whether the beam ended (final answer, empty step or `max_steps`)."""
    rollout: str | None = None
    """`lookahead`: the beam's text and the greedy rollout its score came from."""
    online_stop: OnlineStopMark | None = None
    """Online trace termination (`ReasoningConfig.online_stop`), for a sample drawn after
    the warm-up: `watched` to its end, `stopped` (its answer abstains), or `unsupported`."""


class DifficultyResult(BaseModel):
    """The controller's difficulty estimate; see `reasoning_graph.difficulty`."""

    model_config = ConfigDict(frozen=True)

    score: float | None = None
    bin: int | None = None
    agreement: float | None = None
    mean_verifier_score: float | None = None
    token_confidence: float | None = None
    samples: int = 0
    prior: float | None = None
    """`compute_optimal` with a policy prior: P(solvable) from the question's text alone."""
    probe_score: float | None = None
    """The probe-only score, when `score` combines it with the prior."""
    confidence: float | None = None
    """The probe's mean token confidence (DeepConf), when its samples carry one."""
    gave_up: bool = False
    """The prior gave the question up before any sample: one sample was drawn."""


class UsageResult(BaseModel):
    """Exact token usage as the servers reported it, calls and requests, in total and per node.

    `llm_calls` counts generations and reward-model passes (8 samples from one request with
    `n=8` are 8 calls); it is what `max_calls` caps. `requests` counts the requests sent for
    them (that one request; 0 for samples served from a cache). `by_node` sums to the totals.
    """

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    requests: int
    by_node: dict[str, TokenUsage]


class FailureResult(BaseModel):
    """A branch that failed after its retries; the run went on without it."""

    model_config = ConfigDict(frozen=True)

    node: str
    candidate_ids: list[str]
    error: str
    message: str


class IgnoredOption(BaseModel):
    """An option of a call that resumed a saved run and was not applied.

    A thread keeps the settings it started with (its plan, strategy, budget, prompts), so
    that a resumed run finishes the run that was begun. `deadline_s` and
    `max_question_chars` are about the call, and always apply.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    """The `ReasoningConfig` field, e.g. `"n"`."""
    given: Any
    """The value this call asked for."""
    kept: Any
    """The value the saved run started with, which it keeps."""


class Result(BaseModel):
    """What `solve` returns.

    Attributes:
        answer: The selected final answer, or `None` when no candidate stated one.
        strategy: The strategy that ran.
        plan: The controller's plan (for `compute_optimal`, the plan it chose).
        difficulty: The controller's difficulty estimate.
        candidates: Every candidate, in the order they were started.
        selected_id: The id of the candidate that best represents the answer.
        usage: Exact token usage, in total and per node.
        failures: Branches that failed after their retries.
        ignored_options: When this call resumed a saved thread, the options it gave that
            differ from the settings the thread started with, which the run kept; empty
            otherwise.
        notes: One line each on what did not run as asked but did not fail the run (token
            confidence asked of a provider that returned no logprobs, online termination
            asked of one that cannot stop a trace); empty otherwise.
    """

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str | None
    strategy: str
    plan: dict[str, Any]
    difficulty: DifficultyResult
    candidates: list[CandidateResult]
    selected_id: str | None
    usage: UsageResult
    failures: list[FailureResult]
    ignored_options: list[IgnoredOption] = []
    notes: list[str] = []

    @property
    def selected(self) -> CandidateResult | None:
        """The candidate that best represents the answer."""
        return next((c for c in self.candidates if c.id == self.selected_id), None)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Result:
        """Build a result from the graph's output state."""
        # Through add_usage, so a state saved before `requests` existed reads as 0 of them.
        by_node = {
            node: add_usage(zero_usage(), spent)
            for node, spent in (state.get("usage") or {}).items()
        }
        candidates = sorted((state.get("candidates") or {}).values(), key=candidate_order)
        return cls(
            question=state["question"],
            answer=state.get("answer"),
            strategy=state["plan"]["strategy"],
            plan=dict(state["plan"]),
            difficulty=DifficultyResult(**(state.get("difficulty") or {})),
            candidates=[CandidateResult(**c) for c in candidates],
            selected_id=state.get("selected_id"),
            usage=UsageResult(**total_usage(by_node), by_node=by_node),
            failures=[FailureResult(**f) for f in state.get("failures") or []],
            notes=run_notes(state["plan"], candidates),
        )
