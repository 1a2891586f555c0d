"""Token and call accounting: plain data, summed per node, safe to checkpoint."""

from __future__ import annotations

from collections.abc import Mapping

from typing_extensions import TypedDict

__all__ = ["TokenUsage", "add_usage", "merge_node_usage", "total_usage", "zero_usage"]


class TokenUsage(TypedDict):
    """Tokens and calls as the model servers reported them."""

    prompt_tokens: int
    completion_tokens: int
    llm_calls: int


def zero_usage() -> TokenUsage:
    """Return an empty tally."""
    return {"prompt_tokens": 0, "completion_tokens": 0, "llm_calls": 0}


def add_usage(left: TokenUsage, right: TokenUsage) -> TokenUsage:
    """Return the sum of two tallies."""
    return {
        "prompt_tokens": left["prompt_tokens"] + right["prompt_tokens"],
        "completion_tokens": left["completion_tokens"] + right["completion_tokens"],
        "llm_calls": left["llm_calls"] + right["llm_calls"],
    }


def merge_node_usage(
    left: Mapping[str, TokenUsage] | None, right: Mapping[str, TokenUsage] | None
) -> dict[str, TokenUsage]:
    """State reducer: sum usage per node name (`think`, `verify`, `revise`)."""
    merged = dict(left or {})
    for node, usage in (right or {}).items():
        merged[node] = add_usage(merged.get(node, zero_usage()), usage)
    return merged


def total_usage(by_node: Mapping[str, TokenUsage]) -> TokenUsage:
    """Sum the per-node tallies into one."""
    total = zero_usage()
    for usage in by_node.values():
        total = add_usage(total, usage)
    return total
