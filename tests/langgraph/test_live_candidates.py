"""Each candidate streams as its generation ends, not when the whole `think` branch does."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from reasoning_graph import ReasoningConfig, create_reasoning_graph
from reasoning_graph.providers.base import Completion
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.providers.progress import (
    completion_ready,
    completions_offset,
    each_completion,
)
from reasoning_graph.testing.openai_server import OpenAIStubServer

STEP_S = 0.4


def by_seed(body: Mapping[str, Any]) -> float:
    """Seeds 0, 1, 2, 3 answer after 0.05, 0.45, 0.85, 1.25 s."""
    return 0.05 + STEP_S * (int(body.get("seed", 0)) % 4)


async def test_candidates_stream_one_by_one_from_concurrent_requests():
    """One `think` branch asks for n=4 from a server that ignores `n` (as Ollama does), so
    the provider sends one-sample requests that end at different times. Planted bug: the
    `think` node without `each_completion` (the old code) streams all four candidates after
    the last request, so their spread is ~0 and none precedes the branch's end by 0.3 s."""
    with OpenAIStubServer(latency_s=by_seed, honour_n=False) as server:
        async with httpx.AsyncClient() as client:
            provider = OpenAIProvider(
                "stub-model", base_url=server.base_url, api_key="k", http_client=client
            )
            graph = create_reasoning_graph(provider, config=ReasoningConfig(n=4)).compile()
            arrivals: dict[str, float] = {}
            think_done = None
            async for mode, chunk in graph.astream(
                {"question": "What is 17 + 25?"}, stream_mode=["custom", "updates"]
            ):
                now = time.monotonic()
                if mode == "custom" and chunk["type"] == "candidate":
                    assert chunk["id"] not in arrivals, "a candidate streamed twice"
                    arrivals[chunk["id"]] = now
                if mode == "updates" and "think" in chunk:
                    think_done = now
                    trace = chunk["think"]["events"]
    assert sorted(arrivals) == ["c0", "c1", "c2", "c3"]
    assert [e["data"]["id"] for e in trace if e["kind"] == "candidate"] == ["c0", "c1", "c2", "c3"]
    first, last = min(arrivals.values()), max(arrivals.values())
    assert last - first > 2 * STEP_S, arrivals
    assert think_done is not None and think_done - first > 2 * STEP_S


def test_offset_places_an_inner_calls_completions():
    seen: list[int] = []
    with each_completion(lambda index, completion: seen.append(index)):
        completion_ready(0, Completion(text="a"))
        with completions_offset(2):
            completion_ready(0, Completion(text="c"))
            completion_ready(1, Completion(text="d"))
        with each_completion(None):
            completion_ready(1, Completion(text="hidden"))
    assert seen == [0, 2, 3]
