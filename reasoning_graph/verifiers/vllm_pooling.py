"""vLLM's pooling wire format: pure functions reading `/pooling`, `/classify` and `/tokenize`
bodies, already decoded from JSON (error bodies are read by `reasoning_graph.providers.http`).

`RewardModelVerifier` (in `reward_model.py`) makes the HTTP calls and hands the bodies here.
Each reader returns the part it names or raises `ProviderResponseError` saying what was
missing and how to serve the model. `where` names the route in messages, e.g.
`"http://localhost:8000/pooling (model 'Qwen/Qwen2.5-Math-PRM-7B')"`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reasoning_graph.errors import ProviderResponseError
from reasoning_graph.usage import TokenUsage

__all__ = [
    "classify_probs",
    "first_item",
    "marker_rows",
    "pooling_rows",
    "pooling_usage",
    "token_ids",
]


def first_item(body: Mapping[str, Any], route: str) -> dict[str, Any]:
    """`data[0]` of a pooling or classify response, checked to be an object."""
    data = body.get("data")
    if not isinstance(data, list):
        raise ProviderResponseError(
            f"{route} returned JSON without a 'data' list: {str(body)[:120]!r}. Check that "
            "base_url points at a vLLM pooling server's root."
        )
    if not data or not isinstance(data[0], dict):
        raise ProviderResponseError(f"{route} returned an empty or malformed 'data' list.")
    return data[0]


def classify_probs(body: Mapping[str, Any], *, where: str) -> list[Any]:
    """The class probabilities of a `/classify` response: `data[0].probs`, not empty."""
    item = first_item(body, "/classify")
    probs = item.get("probs")
    if not isinstance(probs, list) or not probs:
        raise ProviderResponseError(
            f"{where} returned no 'probs' list: {str(item)[:120]!r}. Check that the model is a "
            "sequence classifier served with --runner pooling."
        )
    return probs


def pooling_rows(body: Mapping[str, Any], *, where: str) -> list[Any]:
    """The rows of a `/pooling` response (`data[0].data`), a scalar row made a 1-item list."""
    rows = first_item(body, "/pooling").get("data")
    if not isinstance(rows, list) or not rows:
        raise ProviderResponseError(
            f"{where} returned no per-token rows. "
            "Check that the model is a process reward model served with --runner pooling."
        )
    if not isinstance(rows[0], list):
        rows = [[value] for value in rows]  # one scalar per token or step
    return rows


def token_ids(body: Mapping[str, Any], *, where: str) -> list[int]:
    """The `tokens` of a `/tokenize` response, all ints."""
    tokens = body.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise ProviderResponseError(
            f"{where} returned no 'tokens' list; it is needed to find the step "
            "markers when the server pools every token. Pass step_token_id, or serve the "
            "PRM with STEP pooling."
        )
    return tokens


def marker_rows(
    rows: Sequence[Any], tokens: Sequence[int], marker_id: int, expected: int, *, where: str
) -> list[Any]:
    """The rows at the marker token's positions, when the server pooled ALL tokens.

    Raises:
        ProviderResponseError: The rows are not one per token, or the marker does not occur
            once per step (`expected` times).
    """
    positions = [i for i, token in enumerate(tokens) if token == marker_id]
    if len(positions) != expected or len(tokens) != len(rows):
        raise ProviderResponseError(
            f"{where} returned {len(rows)} rows for "
            f"{expected} steps, and the prompt's {len(tokens)} tokens hold the step marker "
            f"{len(positions)} times. Serve the PRM with STEP pooling and the marker's token "
            '(--pooler-config \'{"pooling_type": "STEP", "step_tag_id": ID}\') or set '
            "step_marker / step_token_id to the token it was trained with."
        )
    return [rows[i] for i in positions]


def pooling_usage(body: Mapping[str, Any]) -> TokenUsage:
    """One call (a reward-model pass), one request, and the prompt tokens the server
    counted (0 when it reports none)."""
    usage = body.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return {
        "prompt_tokens": prompt if isinstance(prompt, int) else 0,
        "completion_tokens": 0,
        "llm_calls": 1,
        "requests": 1,
    }
