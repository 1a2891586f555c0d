"""Tests of `OpenAIStubServer` over real loopback HTTP, and `asolve` end to end against it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from reasoning_graph import asolve
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer

MESSAGES = [
    {"role": "system", "content": "You are a careful solver."},  # 5 words
    {"role": "user", "content": "What is 17 + 25?"},  # 5 words
]


def chat(server: OpenAIStubServer, **body: Any) -> httpx.Response:
    payload = {"model": "m", "messages": MESSAGES, **body}
    return httpx.post(f"{server.base_url}/chat/completions", json=payload, timeout=10)


@pytest.fixture
def server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(reply="The answer is 42.") as running:
        yield running


def test_base_url_is_loopback_with_a_picked_port(server: OpenAIStubServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


@pytest.mark.parametrize(("honour_n", "expected"), [(True, 3), (False, 1)])
def test_serves_n_choices_only_when_honouring_n(honour_n: bool, expected: int) -> None:
    with OpenAIStubServer(reply=lambda request, i: f"choice {i}", honour_n=honour_n) as server:
        response = chat(server, n=3)

    assert response.status_code == 200
    data = response.json()
    assert [c["message"]["content"] for c in data["choices"]] == [
        f"choice {i}" for i in range(expected)
    ]
    assert [c["index"] for c in data["choices"]] == list(range(expected))
    assert data["object"] == "chat.completion"
    assert data["model"] == "m"
    assert data["id"].startswith("chatcmpl-")
    assert isinstance(data["created"], int)


def test_usage_counts_words_exactly() -> None:
    replies = ["one two three", "a b c d e f g h i j"]
    with OpenAIStubServer(reply=lambda request, i: replies[i]) as server:
        data = chat(server, n=2, max_tokens=5).json()

    assert [c["message"]["content"] for c in data["choices"]] == ["one two three", "a b c d e"]
    assert [c["finish_reason"] for c in data["choices"]] == ["stop", "length"]
    assert data["usage"] == {"prompt_tokens": 10, "completion_tokens": 3 + 5, "total_tokens": 18}


def test_prompt_words_count_text_content_parts(server: OpenAIStubServer) -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "two words"}]}]
    data = chat(server, messages=parts).json()

    assert data["usage"]["prompt_tokens"] == 2


def test_records_requests_and_responses(server: OpenAIStubServer) -> None:
    chat(server, seed=1)
    chat(server, seed=2, n=2)

    assert [r["seed"] for r in server.requests] == [1, 2]
    assert server.requests[1] == {"model": "m", "messages": MESSAGES, "seed": 2, "n": 2}
    assert [len(r["choices"]) for r in server.responses] == [1, 2]

    server.reset()
    assert server.requests == [] and server.responses == [] and server.peak_in_flight == 0


async def test_counts_peak_in_flight_requests() -> None:
    with OpenAIStubServer(latency_s=0.2) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            payload = {"model": "m", "messages": MESSAGES}
            responses = await asyncio.gather(
                *(client.post("/chat/completions", json=payload) for _ in range(5))
            )
            assert server.in_flight == 0
            await client.post("/chat/completions", json=payload)

    assert all(r.status_code == 200 for r in responses)
    assert server.peak_in_flight == 5
    assert len(server.requests) == 6


def test_lists_models() -> None:
    with OpenAIStubServer(model="stub-1") as server:
        data = httpx.get(f"{server.base_url}/models", timeout=10).json()

    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["stub-1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": "hi"}, "'messages' must be a list"),
        ({"messages": MESSAGES, "n": 0}, "'n' must be an integer >= 1"),
        ({"messages": MESSAGES, "max_tokens": "5"}, "'max_tokens' must be an integer >= 1"),
    ],
)
def test_rejects_bad_requests_in_openai_error_shape(
    server: OpenAIStubServer, body: dict[str, Any], message: str
) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert server.responses == []


def test_rejects_a_body_that_is_not_json(server: OpenAIStubServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{", timeout=10)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_stop_is_idempotent_and_rejects_bad_options() -> None:
    server = OpenAIStubServer().start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        server.base_url  # noqa: B018
    with pytest.raises(ValueError, match="latency_s"):
        OpenAIStubServer(latency_s=-1)


def five_of_eight_say_42(request: Mapping[str, Any], index: int) -> str:
    """Sample k = seed + index: samples 0-4 answer 42, samples 5-7 answer 40 + k."""
    sample = request.get("seed", 0) + index
    if sample < 5:
        return f"Sample {sample}: 17 + 25 = 42. The answer is 42."
    return f"I get {40 + sample}. The answer is {40 + sample}."


@pytest.mark.parametrize(("honour_n", "requests"), [(True, 1), (False, 8)])
async def test_asolve_self_consistency_end_to_end(honour_n: bool, requests: int) -> None:
    with OpenAIStubServer(reply=five_of_eight_say_42, honour_n=honour_n) as server:
        provider = OpenAIProvider("m", base_url=server.base_url, api_key="test")
        try:
            result = await asolve(
                "What is 17 + 25?", generator=provider, strategy="self_consistency", n=8
            )
        finally:
            await provider.aclose()

    assert result.answer == "42"
    assert sorted(c.answer or "" for c in result.candidates) == sorted(
        ["42"] * 5 + ["45", "46", "47"]
    )
    assert len(server.requests) == requests
    assert sorted(r.get("seed", 0) for r in server.requests) == list(range(requests))
    sent = [r["usage"] for r in server.responses]
    assert result.usage.prompt_tokens == sum(u["prompt_tokens"] for u in sent)
    assert result.usage.completion_tokens == sum(u["completion_tokens"] for u in sent)
    assert result.usage.llm_calls == requests
