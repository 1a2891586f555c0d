"""A solution's score from its step scores, shared by the process-reward verifiers."""

from __future__ import annotations

from reasoning_graph.steps import (
    DEFAULT_STEP_SEPARATOR,
    StepAggregation,
    aggregate_step_scores,
    split_steps,
)
from reasoning_graph.usage import zero_usage
from reasoning_graph.verifiers.base import StepVerifier, Verdict

__all__ = ["score_by_steps"]


async def score_by_steps(
    verifier: StepVerifier,
    question: str,
    solution: str,
    *,
    separator: str = DEFAULT_STEP_SEPARATOR,
    aggregation: StepAggregation = "last",
) -> Verdict:
    """Split `solution` into steps, score each with `verifier`, aggregate.

    An empty solution scores 0 without a call.
    """
    steps = split_steps(solution, separator=separator)
    if not steps:
        return Verdict(score=0.0, usage=zero_usage(), rationale="empty solution: no steps")
    verdict = await verifier.score_steps(question, steps)
    score = aggregate_step_scores(verdict.step_scores, aggregation)
    return Verdict(score=score, usage=verdict.usage, rationale=verdict.rationale)
