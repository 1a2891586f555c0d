"""Token, call and request accounting: plain data, summed per node, safe to checkpoint.

Two counts, never mixed:

- `llm_calls`: the model's outputs a run paid for. One per generation (a candidate, a
  revision, a step, a `lookahead` rollout step, a judge's verdict) and one per reward-model
  pass, however they were sent: a server that returns 8 samples for one request with `n=8`
  made 8 calls. This is what `max_calls` caps and what the CLI, `--json`, the bench and the
  server report as calls.
- `requests`: the HTTP requests (or, for an embedded model, the model invocations) that
  produced them. A shared-prompt request of `n` samples is 1 request; a generation served
  from the cache (`CachingGenerator`) is still a call, but 0 requests.
"""

from __future__ import annotations

from collections.abc import Mapping

from typing_extensions import TypedDict

__all__ = ["TokenUsage", "add_usage", "merge_node_usage", "total_usage", "zero_usage"]


class TokenUsage(TypedDict):
    """Tokens as the model servers reported them, the calls they stand for, the requests made.

    `llm_calls` counts generations and reward-model passes; `requests` counts the requests
    that carried them (see the module docstring).
    """

    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    requests: int


def zero_usage() -> TokenUsage:
    """Return an empty tally."""
    return {"prompt_tokens": 0, "completion_tokens": 0, "llm_calls": 0, "requests": 0}


def add_usage(left: TokenUsage, right: TokenUsage) -> TokenUsage:
    """Return the sum of two tallies."""
    return {
        "prompt_tokens": left["prompt_tokens"] + right["prompt_tokens"],
        "completion_tokens": left["completion_tokens"] + right["completion_tokens"],
        "llm_calls": left["llm_calls"] + right["llm_calls"],
        # A state checkpointed before `requests` existed lacks it: count those as 0.
        "requests": left.get("requests", 0) + right.get("requests", 0),
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
