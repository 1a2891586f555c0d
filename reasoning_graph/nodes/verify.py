"""`verify`: score the candidates that have no score yet, when the plan asks for scores.

In step search a step verifier (`StepVerifier.score_steps`) scores every step of a beam (of
its `lookahead` rollout when it has one) and the plan's `step_aggregation` folds them into
the beam's score; a verifier without step scores scores the whole text.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reasoning_graph.errors import ProviderError
from reasoning_graph.events import ScoredEvent, record
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.nodes.think import failure_update
from reasoning_graph.state import Candidate, Plan, ReasoningState
from reasoning_graph.steps import aggregate_step_scores, check_aggregation, split_steps
from reasoning_graph.usage import add_usage, zero_usage
from reasoning_graph.verifiers.base import StepVerifier, Verdict, Verifier

__all__ = ["make_verify_node"]

_Scored = tuple[Verdict, list[float] | None]


async def _score(verifier: Verifier, question: str, plan: Plan, candidate: Candidate) -> _Scored:
    """The candidate's verdict and, from a step verifier in step search, its step scores."""
    rollout = candidate.get("rollout")
    text = rollout if rollout else candidate["text"]
    search = plan.get("search")
    if search is None or not search["step_verify"] or not isinstance(verifier, StepVerifier):
        return await verifier.score(question, text), None
    separator = search["step_separator"]
    steps = split_steps(text, separator=separator)
    if not steps:  # an empty beam has nothing to grade
        return Verdict(score=0.0, usage=zero_usage(), rationale="no steps"), []
    graded = await verifier.score_steps(question, steps)
    how = check_aggregation(search["step_aggregation"])
    score = aggregate_step_scores(graded.step_scores, how)
    own = len(split_steps(candidate["text"], separator=separator))
    verdict = Verdict(score=score, usage=graded.usage, rationale=graded.rationale)
    return verdict, list(graded.step_scores[:own])


def make_verify_node(
    verifier: Verifier | None,
) -> NodeFunction[ReasoningState]:
    """Build the `verify` node; with no verifier, or a plan that needs no scores, it passes."""

    async def verify(state: ReasoningState) -> dict[str, Any]:
        plan = state.get("plan")
        if verifier is None or plan is None or not plan["verify"]:
            return {}
        failed_ids = {
            candidate_id
            for failure in state.get("failures", [])
            if failure["node"] == "verify"
            for candidate_id in failure["candidate_ids"]
        }
        unscored = [
            c
            for c in state.get("candidates", {}).values()
            if c["score"] is None and c["id"] not in failed_ids
        ]
        if not unscored:
            return {}
        question = state["question"]
        verdicts = await asyncio.gather(
            *(_score(verifier, question, plan, c) for c in unscored), return_exceptions=True
        )
        scored: dict[str, Candidate] = {}
        usage = zero_usage()
        update: dict[str, Any] = {"failures": [], "events": []}
        for candidate, outcome in zip(unscored, verdicts, strict=True):
            if isinstance(outcome, ProviderError):
                lost = failure_update("verify", [candidate["id"]], outcome)
                update["failures"] += lost["failures"]
                update["events"] += lost["events"]
                if outcome.spent is not None:  # what the failed scoring spent all the same
                    usage = add_usage(usage, outcome.spent)
                continue
            if isinstance(outcome, BaseException):
                raise outcome  # a bug, not a backend failure: let it surface
            verdict, step_scores = outcome
            scored[candidate["id"]] = {**candidate, "score": verdict.score}
            if step_scores is not None:
                scored[candidate["id"]]["step_scores"] = step_scores
            usage = add_usage(usage, verdict.usage)
            event: ScoredEvent = {
                "type": "scored",
                "id": candidate["id"],
                "answer": candidate["answer"],
                "score": verdict.score,
            }
            update["events"].append(record("verify", event))
        return {**update, "candidates": scored, "usage": {"verify": usage}}

    return verify
