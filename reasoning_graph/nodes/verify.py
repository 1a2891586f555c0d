"""`verify`: score the candidates that have no score yet, when the plan asks for scores."""

from __future__ import annotations

import asyncio
from typing import Any

from reasoning_graph.errors import ProviderError
from reasoning_graph.events import emit
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.nodes.think import failure_update
from reasoning_graph.providers.base import Verdict, Verifier
from reasoning_graph.state import Candidate, ReasoningState
from reasoning_graph.usage import add_usage, zero_usage

__all__ = ["make_verify_node"]


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
            *(verifier.score(question, c["text"]) for c in unscored), return_exceptions=True
        )
        scored: dict[str, Candidate] = {}
        usage = zero_usage()
        update: dict[str, Any] = {"failures": [], "events": []}
        for candidate, verdict in zip(unscored, verdicts, strict=True):
            if isinstance(verdict, ProviderError):
                lost = failure_update("verify", [candidate["id"]], verdict)
                update["failures"] += lost["failures"]
                update["events"] += lost["events"]
                continue
            if not isinstance(verdict, Verdict):
                raise verdict  # a bug, not a backend failure: let it surface
            scored[candidate["id"]] = {**candidate, "score": verdict.score}
            usage = add_usage(usage, verdict.usage)
            emit(
                {
                    "type": "scored",
                    "id": candidate["id"],
                    "answer": candidate["answer"],
                    "score": verdict.score,
                }
            )
            update["events"].append(
                {
                    "node": "verify",
                    "kind": "scored",
                    "data": {"id": candidate["id"], "score": verdict.score},
                }
            )
        return {**update, "candidates": scored, "usage": {"verify": usage}}

    return verify
