"""A server that returns some but not all of the `n` choices asked for (2 of 4, 3 of 8).

`OpenAIProvider` asks for the missing ones with seeded one-sample requests; the provider and
the whole graph must end with exactly `n` completions, each choice the server sent used once,
and the usage of every response charged once.

The plant these tests catch, and the single-choice server test in `test_openai_provider.py`
does not: `OpenAIProvider.generate` assuming exactly one choice came back (asking for `n - 1`
more, from offset 1, instead of `n - len(first.completions)` from offset
`len(first.completions)`): 2 + 3 = 5 completions for `n=4`, the provider's own contract broken,
and the graph loses the whole request (`NoCandidatesError`). It passed all the other provider
tests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from reasoning_graph import asolve
from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.openai import OpenAIProvider

BASE = "http://partial.test/v1"
QUESTION = "What is 17 + 25?"
MESSAGES: list[ChatMessage] = [{"role": "user", "content": QUESTION}]


def sample_text(seed: int) -> str:
    """The text of sample `seed`: every fourth one (seeds 1, 5, ...) answers 41, the rest 42."""
    answer = 41 if seed % 4 == 1 else 42
    return f"Sample {seed}: 17 + 25 = {answer}. The answer is {answer}."


class CappedServer:
    """Answers a chat request asking for `n` choices with `min(n, cap)` of them; choice `i`
    of a request seeded `s` is `sample_text(s + i)`. Keeps every request and response body."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.requests: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        self.requests.append(sent)
        seed = sent.get("seed", 0)
        count = min(sent.get("n", 1), self.cap)
        texts = [sample_text(seed + i) for i in range(count)]
        prompt_tokens = sum(len(m["content"].split()) for m in sent["messages"])
        completion_tokens = sum(len(text.split()) for text in texts)
        response = {
            "id": f"chatcmpl-{len(self.responses)}",
            "object": "chat.completion",
            "created": 0,
            "model": sent["model"],
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
                for i, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self.responses.append(response)
        return httpx.Response(200, json=response)

    def choices_sent(self) -> Counter[str]:
        return Counter(
            choice["message"]["content"]
            for response in self.responses
            for choice in response["choices"]
        )

    def charged(self, key: str) -> int:
        return sum(response["usage"][key] for response in self.responses)


@pytest.fixture(params=[(4, 2), (8, 3)], ids=["2-of-4", "3-of-8"])
async def capped(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[int, CappedServer, OpenAIProvider]]:
    """`n`, a respx-mocked server returning `cap` of the `n` choices, and a provider on it."""
    n, cap = request.param
    server = CappedServer(cap)
    with respx.mock(base_url=BASE) as router:
        router.post("/chat/completions").mock(side_effect=server)
        async with httpx.AsyncClient() as http:
            yield n, server, OpenAIProvider("m", base_url=BASE, api_key="k", http_client=http)


async def test_the_provider_asks_for_exactly_the_missing_choices(
    capped: tuple[int, CappedServer, OpenAIProvider],
) -> None:
    n, server, provider = capped
    cap = server.cap
    generation = await provider.generate(MESSAGES, n=n, seed=10)

    # One request for n, then one seeded one-sample request per missing choice.
    assert [(r.get("n"), r["seed"]) for r in server.requests[:1]] == [(n, 10)]
    assert sorted((r.get("n"), r["seed"]) for r in server.requests[1:]) == [
        (None, 10 + i) for i in range(cap, n)
    ]
    # Exactly n completions, the n distinct samples, each choice sent used once.
    texts = [c.text for c in generation.completions]
    assert len(texts) == n
    assert Counter(texts) == server.choices_sent()
    assert sorted(texts) == sorted(sample_text(10 + i) for i in range(n))
    assert [c.seed for c in generation.completions] == [10] * cap + list(range(10 + cap, 10 + n))
    assert generation.usage == {
        "prompt_tokens": server.charged("prompt_tokens"),
        "completion_tokens": server.charged("completion_tokens"),
        "llm_calls": n,  # one per generation, however many requests carried them
        "requests": len(server.requests),
    }

    # The provider remembers the server ignores part of `n`: one-sample requests from now on.
    server.requests.clear()
    again = await provider.generate(MESSAGES, n=2, seed=0)
    assert sorted((r.get("n"), r["seed"]) for r in server.requests) == [(None, 0), (None, 1)]
    assert [c.text for c in again.completions] == [sample_text(0), sample_text(1)]


async def test_the_graph_gets_exactly_n_candidates_each_choice_once(
    capped: tuple[int, CappedServer, OpenAIProvider],
) -> None:
    n, server, provider = capped
    cap = server.cap
    result = await asolve(
        QUESTION, generator=provider, strategy="self_consistency", n=n, share_prompt=True
    )

    assert result.failures == []
    assert len(result.candidates) == n
    assert sorted(c.id for c in result.candidates) == sorted(f"c{i}" for i in range(n))
    assert Counter(c.text for c in result.candidates) == server.choices_sent()
    assert len({c.text for c in result.candidates}) == n  # n distinct samples, none twice
    assert [c.answer for c in result.candidates].count("41") == sum(
        1 for seed in range(n) if seed % 4 == 1
    )
    assert result.answer == "42"
    assert result.usage.prompt_tokens == server.charged("prompt_tokens")
    assert result.usage.completion_tokens == server.charged("completion_tokens")
    assert result.usage.llm_calls == n
    assert result.usage.requests == len(server.requests) == 1 + n - cap
