"""Real clients against the real server: the openai SDK (sync, async, streaming) and
LangChain's `ChatOpenAI` (invoke, stream), over loopback HTTP, in front of the stub upstream.

Usage is checked against what the stub charged: the sum of every response it sent.
"""

from __future__ import annotations

from typing import Any

import openai
from langchain_openai import ChatOpenAI
from serve_helpers import QUESTION, Served

from reasoning_graph.testing import OpenAIStubServer

MESSAGES: list[Any] = [{"role": "user", "content": QUESTION}]


def charged(stub: OpenAIStubServer) -> tuple[int, int]:
    """Prompt and completion tokens the stub charged, summed over every response."""
    usages = [r["usage"] for r in stub.responses]
    return sum(u["prompt_tokens"] for u in usages), sum(u["completion_tokens"] for u in usages)


def test_openai_sync_client_gets_answer_reasoning_usage_and_result(
    served: Served, stub: OpenAIStubServer
):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model="self_consistency@3", messages=MESSAGES)

    message = reply.choices[0].message
    assert message.content == "42"
    assert message.reasoning_content == "17 + 25 = 42. The answer is 42."  # type: ignore[attr-defined]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "self_consistency@3"
    prompt, completion = charged(stub)
    assert len(stub.responses) == 3
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, completion)
    assert reply.usage.total_tokens == prompt + completion
    assert reply.usage.completion_tokens_details is not None
    assert reply.usage.completion_tokens_details.reasoning_tokens == completion
    result = reply.model_extra["reasoning_graph"]  # type: ignore[index]
    assert result["strategy"] == "self_consistency"
    assert [c["answer"] for c in result["candidates"]] == ["42", "42", "42"]
    assert result["usage"]["llm_calls"] == 3
    assert result["usage"]["requests"] == len(stub.responses)


def test_usage_counts_the_verifier_calls_too(served: Served, stub: OpenAIStubServer):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model="weighted_vote@2", messages=MESSAGES)

    assert len(stub.responses) > 2  # two samples (one request each) and the judge's calls
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == charged(stub)
    by_node = reply.model_extra["reasoning_graph"]["usage"]["by_node"]  # type: ignore[index]
    assert set(by_node) == {"think", "verify"}


async def test_openai_async_client(served: Served, stub: OpenAIStubServer):
    async with openai.AsyncOpenAI(
        base_url=served.base_url, api_key="unused", max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model="reasoning-graph",
            messages=MESSAGES,
            extra_body={"reasoning_graph": {"n": 2, "seed": 7}},
        )
    assert reply.choices[0].message.content == "42"
    assert sorted(r["seed"] for r in stub.requests) == [7, 8]


def test_openai_streaming_with_usage(served: Served, stub: OpenAIStubServer):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="self_consistency@3",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    reasoning = "".join(
        c.choices[0].delta.model_extra.get("reasoning_content") or ""  # type: ignore[union-attr]
        for c in chunks
        if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "42"
    lines = reasoning.splitlines()
    assert lines[0].startswith("plan: self_consistency")
    assert sum(line.startswith("think c") for line in lines) == 3
    assert any(line.startswith("selected: 42") for line in lines)
    assert "17 + 25 = 42. The answer is 42." in reasoning  # the winning solution, last
    # Reasoning first, then the answer, then the finish, then usage alone.
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == charged(stub)
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_usage_sends_no_usage_chunk(served: Served):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    chunks = list(
        client.chat.completions.create(model="self_consistency@2", messages=MESSAGES, stream=True)
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_langchain_chat_openai_invoke_and_stream(served: Served, stub: OpenAIStubServer):
    model = ChatOpenAI(
        model="self_consistency@3",
        base_url=served.base_url,
        api_key="unused",  # type: ignore[arg-type]
        max_retries=0,
        stream_usage=True,
    )
    message = model.invoke(QUESTION)
    assert message.text == "42"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == charged(stub)[1]

    stub.reset()
    pieces = list(model.stream(QUESTION))
    assert "".join(p.text for p in pieces) == "42"
    total = pieces[0]
    for piece in pieces[1:]:
        total += piece
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == charged(stub)[0]
    assert total.usage_metadata["output_tokens"] == charged(stub)[1]


def test_models_lists_the_strategies(served: Served):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "reasoning-graph"
    assert {"self_consistency", "weighted_vote", "compute_optimal", "beam_search"} <= set(ids)


def test_conversation_becomes_the_question(served: Served, stub: OpenAIStubServer):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    client.chat.completions.create(
        model="self_consistency@1",
        messages=[
            {"role": "system", "content": "Answer tersely."},
            {"role": "user", "content": "I have 17 apples."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": [{"type": "text", "text": "I get 25 more. How many?"}]},
        ],
    )
    sent = " ".join(m["content"] for m in stub.requests[0]["messages"])
    for text in ("Answer tersely.", "I have 17 apples.", "Noted.", "I get 25 more. How many?"):
        assert text in sent


def test_request_sampling_options_pass_through(served: Served, stub: OpenAIStubServer):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="self_consistency@2",
        messages=MESSAGES,
        temperature=0.2,
        seed=100,
        max_completion_tokens=128,  # the run's budget: two generations of 64 tokens
        stop=[" answer"],
    )
    assert {r["temperature"] for r in stub.requests} == {0.2}
    assert sorted(r["seed"] for r in stub.requests) == [100, 101]
    assert reply.usage is not None and reply.usage.completion_tokens <= 128
    plan = reply.model_extra["reasoning_graph"]["plan"]  # type: ignore[index]
    assert plan["budget_tokens"] == 128
    assert reply.choices[0].message.content == "42"  # the stop string is not in "42"


def test_upstream_model_from_the_model_name(served: Served, stub: OpenAIStubServer):
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    client.chat.completions.create(model="best_of_n@1:other-model", messages=MESSAGES)
    assert {r["model"] for r in stub.requests} == {"other-model"}


def test_a_short_budget_shortens_each_generation(served: Served, stub: OpenAIStubServer):
    """`max_tokens` below one generation's cap lowers the cap: one generation still fits."""
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="self_consistency@3", messages=MESSAGES, max_tokens=5
    )
    assert [r["max_tokens"] for r in stub.requests] == [5]  # the budget pays for one
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    assert reply.choices[0].finish_reason == "length"  # cut before it stated an answer
