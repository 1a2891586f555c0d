"""`revise`: write the next attempt of one revision chain, given its earlier attempts."""

from __future__ import annotations

from typing import Any

from reasoning_graph.errors import ProviderError
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.nodes.think import (
    candidate_record,
    check_count,
    failure_update,
    new_candidate,
)
from reasoning_graph.prompts import revise_messages
from reasoning_graph.providers.base import Generator
from reasoning_graph.state import ReviseTask

__all__ = ["make_revise_node"]


def make_revise_node(
    generator: Generator, *, system_prompt: str | None = None
) -> NodeFunction[ReviseTask]:
    """Build the `revise` node over `generator`."""

    async def revise(state: ReviseTask) -> dict[str, Any]:
        try:
            generation = await generator.generate(
                revise_messages(state["question"], state["attempts"], system_prompt=system_prompt),
                n=1,
                max_tokens=state["max_tokens"],
                temperature=state["temperature"],
                seed=state["seed"],
            )
            check_count(generation, 1)
        except ProviderError as error:
            return failure_update("revise", [state["id"]], error)
        candidate = new_candidate(
            generation.completions[0],
            candidate_id=state["id"],
            node="revise",
            seed=state["seed"],
            chain=state["chain"],
            round_=state["round"],
            parent_id=state["parent_id"],
        )
        return {
            "candidates": {state["id"]: candidate},
            "usage": {"revise": generation.usage},
            "events": [candidate_record(candidate)],
        }

    return revise
