"""Tests of `OpenAIProvider` against a respx-mocked OpenAI HTTP API (no network).

openai 3.x sends through its own `httpx2`, which respx does not patch; the SDK also accepts a
plain `httpx.AsyncClient`, which respx does, so every test passes one as `http_client`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
import respx

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.base import ChatMessage, Generator, TokenLogprob
from reasoning_graph.providers.openai import OpenAIProvider

BASE = "http://llm.test/v1"
KEY = "sk-test-very-secret-0123456789"
QUESTION: list[ChatMessage] = [{"role": "user", "content": "What is 2 + 2?"}]


def body(
    texts: list[str],
    *,
    usage: tuple[int, int] | None = (10, 5),
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A chat.completion JSON body with one choice per text."""
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None if logprobs is None else {"content": logprobs},
        }
        for i, text in enumerate(texts)
    ]
    data: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": choices,
    }
    if usage is not None:
        data["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return data


def sent(route: respx.Route) -> list[dict[str, Any]]:
    """The JSON bodies of the requests a route received, in order."""
    return [json.loads(call.request.content) for call in route.calls]


class SleepRecorder:
    """Stands in for `asyncio.sleep` between retries: records the delay, waits not at all."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make(http: httpx.AsyncClient, sleep: SleepRecorder) -> Any:
    def factory(**options: Any) -> OpenAIProvider:
        options = {"base_url": BASE, "api_key": KEY, "http_client": http, "sleep": sleep, **options}
        return OpenAIProvider("m", **options)

    return factory


async def test_one_request_with_n_returns_n_choices_and_exact_usage(router, make) -> None:
    route = router.post("/chat/completions").respond(json=body(["a", "b", "c"], usage=(12, 30)))
    provider = make()

    generation = await provider.generate(
        QUESTION, n=3, max_tokens=64, temperature=0.5, stop=["\n\n"], seed=7
    )

    assert isinstance(provider, Generator)
    assert [c.text for c in generation.completions] == ["a", "b", "c"]
    assert all(c.seed == 7 and c.completion_tokens is None for c in generation.completions)
    assert generation.completions[0].finish_reason == "stop"
    assert generation.usage == {
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "llm_calls": 3,  # three completions
        "requests": 1,  # in one request
    }
    [request] = sent(route)
    assert request == {
        "model": "m",
        "messages": QUESTION,
        "n": 3,
        "max_tokens": 64,
        "temperature": 0.5,
        "stop": ["\n\n"],
        "seed": 7,
    }
    assert route.calls[0].request.headers["authorization"] == f"Bearer {KEY}"


async def test_single_completion_gets_its_exact_token_count(router, make) -> None:
    router.post("/chat/completions").respond(json=body(["4"], usage=(9, 3)))

    generation = await make().generate(QUESTION)

    assert generation.completions[0].completion_tokens == 3
    assert generation.completions[0].logprobs is None


async def test_server_that_ignores_n_gets_seeded_single_requests(router, make) -> None:
    def one_choice(request: httpx.Request) -> httpx.Response:
        seed = json.loads(request.content).get("seed", 0)
        return httpx.Response(200, json=body([f"s{seed}"], usage=(10, seed)))

    route = router.post("/chat/completions").mock(side_effect=one_choice)
    provider = make()

    first = await provider.generate(QUESTION, n=3, seed=10)

    assert sorted(c.text for c in first.completions) == ["s10", "s11", "s12"]
    assert {c.text: c.seed for c in first.completions} == {"s10": 10, "s11": 11, "s12": 12}
    assert [(r.get("n"), r["seed"]) for r in sent(route)[:1]] == [(3, 10)]
    assert sorted((r.get("n"), r["seed"]) for r in sent(route)[1:]) == [(None, 11), (None, 12)]
    assert first.usage == {
        "prompt_tokens": 30,
        "completion_tokens": 33,
        "llm_calls": 3,
        "requests": 3,
    }

    route.calls.clear()
    second = await provider.generate(QUESTION, n=2, seed=0)

    assert sorted((r.get("n"), r["seed"]) for r in sent(route)) == [(None, 0), (None, 1)]
    assert second.usage == {
        "prompt_tokens": 20,
        "completion_tokens": 1,
        "llm_calls": 2,
        "requests": 2,
    }


async def test_use_n_false_sends_n_concurrent_seeded_requests(router, make) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=body(["x"], usage=(4, 2)))

    route = router.post("/chat/completions").mock(side_effect=slow)

    generation = await make(use_n=False).generate(QUESTION, n=4, seed=0)

    assert len(generation.completions) == 4
    assert sorted(r["seed"] for r in sent(route)) == [0, 1, 2, 3]
    assert all("n" not in r for r in sent(route))
    assert peak == 4
    assert generation.usage == {
        "prompt_tokens": 16,
        "completion_tokens": 8,
        "llm_calls": 4,
        "requests": 4,
    }


async def test_concurrency_limit_holds(router, make) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json=body(["x"]))

    route = router.post("/chat/completions").mock(side_effect=slow)
    provider = make(use_n=False, max_concurrency=2)

    generations = await asyncio.gather(*(provider.generate(QUESTION, n=3) for _ in range(2)))

    assert route.call_count == 6
    assert sum(len(g.completions) for g in generations) == 6
    assert peak == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "120"}, 60.0),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
    ],
)
async def test_429_waits_as_long_as_retry_after_asks(
    router, make, sleep, headers: dict[str, str], expected: float
) -> None:
    route = router.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(429, json={"error": {"message": "slow down"}}, headers=headers),
            httpx.Response(200, json=body(["ok"])),
        ]
    )

    generation = await make().generate(QUESTION)

    assert route.call_count == 2
    assert sleep.delays == [expected]
    assert generation.usage["llm_calls"] == generation.usage["requests"] == 1


async def test_retry_after_as_http_date(router, make, sleep) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    router.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": when}),
            httpx.Response(200, json=body(["ok"])),
        ]
    )

    await make().generate(QUESTION)

    [delay] = sleep.delays
    assert 28.0 <= delay <= 30.0


async def test_500s_back_off_exponentially_then_succeed(router, make, sleep) -> None:
    route = router.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(500, json={"error": {"message": "boom"}}),
            httpx.Response(502),
            httpx.Response(503),
            httpx.Response(200, json=body(["ok"], usage=(3, 1))),
        ]
    )

    generation = await make(retry_backoff_s=0.5).generate(QUESTION)

    assert route.call_count == 4
    assert generation.completions[0].text == "ok"
    assert generation.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 1,
        "llm_calls": 1,
        "requests": 1,  # the failed attempts are not charged
    }
    first, second, third = sleep.delays
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5 and 2.0 <= third <= 2.5


async def test_gives_up_after_max_attempts(router, make, sleep) -> None:
    route = router.post("/chat/completions").respond(503, json={"error": {"message": "down"}})

    with pytest.raises(ProviderUnavailableError, match="3 attempt") as caught:
        await make(max_attempts=3, retry_backoff_s=0.0).generate(QUESTION)

    assert route.call_count == 3
    assert len(sleep.delays) == 2
    assert BASE in str(caught.value) and "down" in str(caught.value)
    assert isinstance(caught.value.__cause__, openai.InternalServerError)


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "max_tokens, stop"), (401, "API key"), (404, "model name 'm'")],
)
async def test_client_errors_are_not_retried(router, make, sleep, status: int, hint: str) -> None:
    route = router.post("/chat/completions").respond(
        status, json={"error": {"message": f"server says {status}"}}
    )

    with pytest.raises(ProviderResponseError) as caught:
        await make().generate(QUESTION)

    assert route.call_count == 1
    assert sleep.delays == []
    message = str(caught.value)
    assert f"HTTP {status}" in message and f"server says {status}" in message and hint in message


async def test_unreachable_server_is_unavailable(sleep) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    provider = OpenAIProvider("m", base_url=base, sleep=sleep, max_attempts=2, timeout_s=2.0)

    try:
        with pytest.raises(ProviderUnavailableError, match="2 attempt") as caught:
            await provider.generate(QUESTION)
    finally:
        await provider.aclose()

    assert base in str(caught.value)
    assert isinstance(caught.value.__cause__, openai.APIConnectionError)


async def test_missing_usage_charges_the_upper_bound(router, make) -> None:
    router.post("/chat/completions").respond(json=body(["a", "b"], usage=None))

    generation = await make().generate(QUESTION, n=2, max_tokens=50)

    assert generation.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 100,
        "llm_calls": 2,
        "requests": 1,
    }
    assert all(c.completion_tokens is None for c in generation.completions)


async def test_logprobs_are_requested_and_parsed(router, make) -> None:
    tokens = [
        {"token": "4", "logprob": -0.1, "bytes": None, "top_logprobs": [
            {"token": "4", "logprob": -0.1, "bytes": None},
            {"token": "5", "logprob": -2.5, "bytes": None},
        ]},
        {"token": ".", "logprob": -0.01, "bytes": None, "top_logprobs": []},
    ]  # fmt: skip
    route = router.post("/chat/completions").respond(json=body(["4."], logprobs=tokens))

    generation = await make().generate(QUESTION, logprobs=True, top_logprobs=2)

    [request] = sent(route)
    assert request["logprobs"] is True and request["top_logprobs"] == 2
    assert generation.completions[0].logprobs == [
        TokenLogprob(token="4", logprob=-0.1, top_logprobs={"4": -0.1, "5": -2.5}),
        TokenLogprob(token=".", logprob=-0.01),
    ]


@pytest.mark.parametrize(
    ("payload", "calls"),
    [
        (body([]), 4),
        ({"id": "x", "object": "chat.completion"}, 1),
        ({**body(["a"]), "choices": [{}]}, 4),
    ],
    ids=["empty-choices", "no-choices", "choice-without-message"],
)
async def test_malformed_response_is_a_response_error(router, make, payload, calls) -> None:
    """Empty choices may be a hiccup (retried); JSON with no `choices` is a wrong server."""
    route = router.post("/chat/completions").respond(json=payload)

    with pytest.raises(ProviderResponseError, match="OpenAI-compatible"):
        await make().generate(QUESTION)
    assert route.call_count == calls


@pytest.mark.parametrize(
    ("content_type", "calls"),
    [("application/json", 4), ("text/html", 1)],
    ids=["bad-json", "html"],
)
async def test_body_that_is_not_json_is_a_response_error(router, make, content_type, calls) -> None:
    """Garbled JSON may be a proxy hiccup (retried); a web page is a wrong base_url (final)."""
    route = router.post("/chat/completions").respond(
        200, content=b"{not json", headers={"content-type": content_type}
    )

    with pytest.raises(ProviderResponseError, match="OpenAI-compatible"):
        await make().generate(QUESTION)
    assert route.call_count == calls


async def test_bare_string_error_body_is_quoted(router, make) -> None:
    router.post("/chat/completions").respond(404, json={"error": "model 'm' not found"})

    with pytest.raises(ProviderResponseError, match="HTTP 404: model 'm' not found"):
        await make().generate(QUESTION)


async def test_extra_choices_are_dropped_but_charged(router, make) -> None:
    router.post("/chat/completions").respond(json=body(["a", "b"], usage=(5, 8)))

    generation = await make().generate(QUESTION, n=1)

    assert [c.text for c in generation.completions] == ["a"]
    assert generation.usage == {
        "prompt_tokens": 5,
        "completion_tokens": 8,  # the dropped choice's tokens too
        "llm_calls": 1,  # but only the choice returned is a call
        "requests": 1,
    }


async def test_api_key_never_leaks(router, make) -> None:
    router.post("/chat/completions").respond(
        401, json={"error": {"message": f"Incorrect API key provided: {KEY}."}}
    )
    provider = make()

    assert KEY not in repr(provider) and KEY not in str(provider)
    with pytest.raises(ProviderResponseError, match="API key") as caught:
        await provider.generate(QUESTION)
    error: BaseException | None = caught.value
    while error is not None:  # nor anywhere down the cause chain
        assert KEY not in str(error) and KEY not in repr(error)
        error = error.__cause__ or error.__context__


def test_key_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    provider = OpenAIProvider("gpt-4o-mini")

    assert provider.base_url == "https://api.openai.com/v1"
    assert "env-key" not in repr(provider)
    assert provider.model_name == "gpt-4o-mini"


def test_no_key_needs_a_base_url(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt-4o-mini")


async def test_local_server_without_key_gets_a_placeholder(router, http, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    route = router.post("/chat/completions").respond(json=body(["ok"]))

    await OpenAIProvider("m", base_url=BASE, http_client=http).generate(QUESTION)

    assert route.calls[0].request.headers["authorization"] == "Bearer EMPTY"


@pytest.mark.parametrize(
    "options", [{"max_concurrency": 0}, {"max_attempts": 0}, {"timeout_s": 0.0}]
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(options))):
        OpenAIProvider("m", base_url=BASE, **options)


async def test_bad_generate_arguments_are_rejected(make) -> None:
    with pytest.raises(ConfigurationError, match="n=0"):
        await make().generate(QUESTION, n=0)


def test_usable_from_successive_event_loops() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # hold the semaphore, so that the others wait on it
        return httpx.Response(200, json=body(["ok"]))

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = OpenAIProvider(
        "m", base_url=BASE, api_key=KEY, http_client=http, max_concurrency=1, use_n=False
    )

    for _ in range(2):  # a contended semaphore binds to its loop: one per loop is needed
        generation = asyncio.run(provider.generate(QUESTION, n=3))
        assert len(generation.completions) == 3
    asyncio.run(http.aclose())


class _OneChoiceHandler(BaseHTTPRequestHandler):
    """A local OpenAI-style server: answers every POST with one choice, keeping the connection."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        payload = json.dumps(body(["ok"], usage=(2, 1))).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OneChoiceHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_default_client_is_made_per_event_loop(local_server: str) -> None:
    """The SDK's own httpx2 client (which respx cannot see), on a real socket, twice."""
    provider = OpenAIProvider("m", base_url=local_server, max_concurrency=2)

    async def generate_then_close() -> Any:
        try:
            return await provider.generate(QUESTION, n=3, seed=0)
        finally:
            await provider.aclose()  # what sync wrappers do before their loop ends

    for _ in range(2):
        generation = asyncio.run(generate_then_close())
        assert [c.text for c in generation.completions] == ["ok", "ok", "ok"]
        assert generation.usage == {
            "prompt_tokens": 6,
            "completion_tokens": 3,
            "llm_calls": 3,
            "requests": 3,
        }


# --- online trace termination: streamed samples closed when their confidence falls --------


class ChunkStream(httpx.AsyncByteStream):
    """An SSE body sent one event at a time; records how many went out and whether the
    client closed it."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [
            b"data: [DONE]\n\n"
        ]
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            self.sent += 1
            yield event

    async def aclose(self) -> None:
        self.closed = True


def chunk(choices: list[dict[str, Any]], usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """A chat.completion.chunk: `body`'s shape with streamed choices."""
    return {**body([], usage=usage), "object": "chat.completion.chunk", "choices": choices}


def token_chunk(word: str, top: tuple[float, float]) -> dict[str, Any]:
    alternatives = [
        {"token": word, "logprob": top[0], "bytes": None},
        {"token": "alt", "logprob": top[1], "bytes": None},
    ]
    logprobs = {
        "content": [{"token": word, "logprob": top[0], "bytes": None, "top_logprobs": alternatives}]
    }
    return chunk(
        [{"index": 0, "delta": {"content": word}, "logprobs": logprobs, "finish_reason": None}]
    )


def streamed(words: list[str], top: tuple[float, float]) -> list[dict[str, Any]]:
    """A whole streamed completion: a chunk per token, the finish, the usage (10 prompt)."""
    return [
        *(token_chunk(word, top) for word in words),
        chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]),
        chunk([], usage=(10, len(words))),
    ]


WORDS = ["a", " b", " c", " d", " e", " The answer is 4."]
UNSURE = (-0.7, -0.8)  # token confidence 0.75 with k = 2
SURE = (-0.1, -5.0)  # 2.55
ONLINE = {"threshold": 1.0, "window": 2, "top_k": 2}


async def test_a_streamed_sample_is_closed_once_its_confidence_falls(router, make) -> None:
    streams: list[ChunkStream] = []

    def respond(request: httpx.Request) -> httpx.Response:
        streams.append(ChunkStream(streamed(WORDS, UNSURE)))
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=streams[-1])

    route = router.post("/chat/completions").mock(side_effect=respond)
    provider = make()
    assert provider.stops_online
    generation = await provider.generate(
        QUESTION, n=2, seed=7, logprobs=True, top_logprobs=2, online_stop=ONLINE
    )

    requests = sent(route)
    assert len(requests) == 2  # one stream per sample, so each can be closed alone
    for request in requests:
        assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
        assert request["logprobs"] is True and request["top_logprobs"] == 2 and "n" not in request
    assert sorted(r["seed"] for r in requests) == [7, 8]
    for stream, completion in zip(streams, generation.completions, strict=True):
        assert stream.closed and stream.sent == 2 < len(stream.events)
        assert completion.finish_reason == "low_confidence" and completion.text == "a b"
        assert completion.completion_tokens == 2 and len(completion.logprobs or []) == 2
    # The tokens received are counted; the final usage chunk never came, so no prompt tokens.
    assert generation.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 4,
        "llm_calls": 2,
        "requests": 2,
    }


async def test_a_confident_stream_is_read_to_its_end_with_the_servers_usage(router, make) -> None:
    stream = ChunkStream(streamed(WORDS, SURE))
    headers = {"content-type": "text/event-stream"}
    router.post("/chat/completions").respond(200, headers=headers, stream=stream)

    generation = await make().generate(QUESTION, logprobs=True, top_logprobs=2, online_stop=ONLINE)

    [completion] = generation.completions
    assert completion.finish_reason == "stop" and completion.text == "".join(WORDS)
    assert completion.completion_tokens == 6 and len(completion.logprobs or []) == 6
    assert generation.usage == {
        "prompt_tokens": 10,
        "completion_tokens": 6,
        "llm_calls": 1,
        "requests": 1,
    }


async def test_a_server_that_streams_no_logprobs_runs_the_sample_to_its_end(router, make) -> None:
    events = [
        chunk([{"index": 0, "delta": {"content": w}, "logprobs": None, "finish_reason": None}])
        for w in WORDS
    ]
    events.append(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    headers = {"content-type": "text/event-stream"}
    router.post("/chat/completions").respond(200, headers=headers, stream=ChunkStream(events))

    generation = await make().generate(QUESTION, max_tokens=9, logprobs=True, online_stop=ONLINE)

    [completion] = generation.completions
    assert completion.finish_reason == "stop" and completion.logprobs is None
    # No usage chunk either: the upper bound is charged, as for a plain request.
    assert generation.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 9,
        "llm_calls": 1,
        "requests": 1,
    }


async def test_a_stream_without_usage_counts_the_tokens_it_streamed(router, make) -> None:
    """llama-cpp-python's server (0.3.36) streams a logprob entry per token but no usage
    chunk. A stream read to its end then costs the tokens received, not `max_tokens`.
    Planted bug: `_usage` charging `max_tokens` whenever the usage chunk is missing (the
    code before this test) fails it with 9 tokens instead of 6."""
    events = streamed(WORDS, SURE)[:-1]  # no usage chunk
    headers = {"content-type": "text/event-stream"}
    router.post("/chat/completions").respond(200, headers=headers, stream=ChunkStream(events))

    generation = await make().generate(
        QUESTION, max_tokens=9, logprobs=True, top_logprobs=2, online_stop=ONLINE
    )

    [completion] = generation.completions
    assert completion.finish_reason == "stop" and len(completion.logprobs or []) == 6
    assert completion.completion_tokens == 6
    assert generation.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 6,
        "llm_calls": 1,
        "requests": 1,
    }


# -- extra request fields -------------------------------------------------------------------


async def test_extra_body_reaches_every_request_plain_and_streamed(router, make) -> None:
    """A server's own sampling fields (llama.cpp's `repeat_penalty`, vLLM's `top_k` and
    `min_p`) go in every request's JSON body, next to the ones the provider sets."""
    route = router.post("/chat/completions")
    route.side_effect = [
        httpx.Response(200, json=body(["4", "4"])),
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=ChunkStream(streamed(WORDS, SURE)),
        ),
    ]
    extra = {"repeat_penalty": 1.0, "top_k": 40, "min_p": 0.05}
    provider = make(extra_body=extra)

    await provider.generate(QUESTION, n=2, seed=3)
    await provider.generate(QUESTION, logprobs=True, top_logprobs=2, online_stop=ONLINE)

    plain, stream = sent(route)
    assert {key: plain[key] for key in extra} == extra and plain["n"] == 2 and plain["seed"] == 3
    assert {key: stream[key] for key in extra} == extra and stream["stream"] is True
    assert "repeat_penalty" in repr(provider)


async def test_without_extra_body_the_request_has_only_the_providers_fields(router, make) -> None:
    route = router.post("/chat/completions").respond(json=body(["4"]))
    await make().generate(QUESTION, seed=1)
    assert set(sent(route)[0]) == {"model", "messages", "max_tokens", "temperature", "seed"}


def test_the_repr_shows_extra_body_only_when_set() -> None:
    plain = OpenAIProvider("m", base_url=BASE)
    assert repr(plain) == (
        f"OpenAIProvider(model='m', base_url='{BASE}', max_concurrency=16, use_n=True)"
    )
    extra = OpenAIProvider("m", base_url=BASE, extra_body={"top_k": 20})
    assert repr(extra).endswith("use_n=True, extra_body={'top_k': 20})")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"n": 4},
            r"^extra_body sets 'n', which the provider sets itself; pass n, seed, max_tokens, "
            r"temperature, stop and logprobs to generate\(\) instead\.$",
        ),
        ({"seed": 1, "stream": True}, r"extra_body sets 'seed', 'stream'"),
        ({"penalty": {1, 2}}, r"extra_body is not JSON: .*set"),
    ],
)
def test_extra_body_that_would_clash_or_cannot_be_sent_is_refused(extra, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        OpenAIProvider("m", base_url=BASE, extra_body=extra)
