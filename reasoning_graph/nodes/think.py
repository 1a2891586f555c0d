"""`think`: sample fresh solutions for one branch (one request when the prompt is shared)."""

from __future__ import annotations

from typing import Any, Literal

from reasoning_graph.answers import extract_answer
from reasoning_graph.errors import ProviderError, ProviderResponseError
from reasoning_graph.events import emit
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.prompts import solve_messages
from reasoning_graph.providers.base import Completion, Generation, Generator
from reasoning_graph.state import Candidate, Failure, ThinkTask

__all__ = [
    "check_count",
    "emit_candidate",
    "failure_update",
    "make_think_node",
    "new_candidate",
]


def new_candidate(
    completion: Completion,
    *,
    candidate_id: str,
    node: Literal["think", "revise"],
    seed: int,
    chain: int | None = None,
    round_: int = 0,
    parent_id: str | None = None,
) -> Candidate:
    """A candidate from a completion, its answer extracted and not yet scored."""
    return {
        "id": candidate_id,
        "parent_id": parent_id,
        "chain": chain,
        "round": round_,
        "node": node,
        "text": completion.text,
        "answer": extract_answer(completion.text),
        "score": None,
        "finish_reason": completion.finish_reason,
        "completion_tokens": completion.completion_tokens,
        "seed": completion.seed if completion.seed is not None else seed,
        "mean_logprob": (
            sum(t.logprob for t in completion.logprobs) / len(completion.logprobs)
            if completion.logprobs
            else None
        ),
    }


def emit_candidate(candidate: Candidate) -> None:
    """Stream a `candidate` event for a finished candidate."""
    emit(
        {
            "type": "candidate",
            "id": candidate["id"],
            "answer": candidate["answer"],
            "score": candidate["score"],
            "node": candidate["node"],
            "chain": candidate["chain"],
            "round": candidate["round"],
        }
    )


def failure_update(node: str, ids: list[str], error: ProviderError) -> dict[str, Any]:
    """The state update of a branch that failed after its retries; streams a `failure`."""
    failure: Failure = {
        "node": node,
        "candidate_ids": ids,
        "error": type(error).__name__,
        "message": str(error),
    }
    emit({"type": "failure", **failure})
    return {
        "failures": [failure],
        "events": [{"node": node, "kind": "branch_failed", "data": dict(failure)}],
    }


def check_count(generation: Generation, expected: int) -> None:
    """Raise `ProviderResponseError` unless the generator returned `expected` completions."""
    if len(generation.completions) != expected:
        raise ProviderResponseError(
            f"the generator returned {len(generation.completions)} completions for n={expected}"
        )


def make_think_node(
    generator: Generator, *, system_prompt: str | None = None
) -> NodeFunction[ThinkTask]:
    """Build the `think` node over `generator`."""

    async def think(state: ThinkTask) -> dict[str, Any]:
        try:
            generation = await generator.generate(
                solve_messages(state["question"], system_prompt=system_prompt),
                n=len(state["ids"]),
                max_tokens=state["max_tokens"],
                temperature=state["temperature"],
                seed=state["seeds"][0],
                logprobs=state["logprobs"],
            )
            check_count(generation, len(state["ids"]))
        except ProviderError as error:
            return failure_update("think", state["ids"], error)
        candidates = {
            candidate_id: new_candidate(
                completion, candidate_id=candidate_id, node="think", seed=seed, chain=chain
            )
            for candidate_id, seed, chain, completion in zip(
                state["ids"], state["seeds"], state["chains"], generation.completions, strict=True
            )
        }
        for candidate in candidates.values():
            emit_candidate(candidate)
        return {
            "candidates": candidates,
            "usage": {"think": generation.usage},
            "events": [
                {
                    "node": "think",
                    "kind": "candidate",
                    "data": {"id": c["id"], "answer": c["answer"]},
                }
                for c in candidates.values()
            ],
        }

    return think
