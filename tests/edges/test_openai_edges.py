"""`OpenAIProvider` at edges the mutation run (issue 13) found untested.

Each test names the mutants of `reasoning_graph/providers/openai.py` that survived the suite
before it (`python benchmarks/mutation.py`, docs/reliability.md): the plant is that change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.testing.openai_server import Faults

BASE = "http://llm.test/v1"
KEY = "sk-test-0123456789"


def completion(text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


async def test_a_refused_sample_cancels_its_siblings_before_the_error_surfaces() -> None:
    """One of three one-sample requests is refused (400) while the other two hang: `generate`
    raises the refusal, and by then the two hanging requests have been cancelled and have
    finished (no request outlives the call).

    Plant: cancel the siblings without awaiting them (`asyncio.gather(return_exceptions=True)`
    with no tasks, `xǁOpenAIProviderǁ_fan_out__mutmut_18`): they are still running when the
    error reaches the caller.
    """
    hanging: list[int] = []
    cancelled: list[int] = []
    both_hang = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        seed = json.loads(request.content)["seed"]
        if seed == 1:  # refused once the other two are in flight
            await asyncio.wait_for(both_hang.wait(), 10)
            return httpx.Response(400, json={"error": {"message": "bad request"}})
        hanging.append(seed)
        if len(hanging) == 2:
            both_hang.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(seed)
            raise
        return httpx.Response(200, json=completion("late"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http, use_n=False)
        with pytest.raises(ProviderResponseError):
            async with asyncio.timeout(10):  # no extra task: checked as the error arrives
                await provider.generate([{"role": "user", "content": "q?"}], n=3, seed=0)
        assert sorted(cancelled) == [0, 2]


@contextlib.asynccontextmanager
async def recording_provider() -> AsyncIterator[tuple[OpenAIProvider, list[dict[str, object]]]]:
    """A provider whose server answers every request, and the JSON bodies it was sent."""
    bodies: list[dict[str, object]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=completion("The answer is 4."))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        yield OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http), bodies


QUESTION: list[ChatMessage] = [{"role": "user", "content": "q?"}]


async def test_options_left_out_are_not_sent() -> None:
    """A request sends `max_tokens` 512 and `temperature` 0.7 by default, and no `seed` or
    `top_logprobs` unless asked for (`top_logprobs` only with `logprobs`).

    Plants: the defaults are 513, 1.7, or `top_logprobs=1` (`xǁOpenAIProviderǁgenerate__
    mutmut_2`, `_3`, `_5`); `seed: null` is sent
    (`... or True`, `xǁOpenAIProviderǁ_send__mutmut_33`); `top_logprobs` goes out with either
    option alone (`logprobs or top_logprobs`, `xǁOpenAIProviderǁ_send__mutmut_40`).
    """
    async with recording_provider() as (provider, bodies):
        await provider.generate(QUESTION)
        await provider.generate(QUESTION, top_logprobs=3)
        await provider.generate(QUESTION, logprobs=True)
    assert bodies[0]["max_tokens"] == 512 and bodies[0]["temperature"] == 0.7
    assert all("seed" not in body for body in bodies)
    assert all("top_logprobs" not in body for body in bodies)
    assert bodies[2]["logprobs"] is True


async def test_top_logprobs_is_checked_against_the_apis_cap_of_20() -> None:
    """OpenAI returns at most 20 alternatives per token: 21 (or -1) is refused before any
    request, 20 is sent.

    Plants: the cap is dropped, `None` or 21, or `top_logprobs` is not passed to the check
    (`xǁOpenAIProviderǁgenerate__mutmut_9`, `_12`, `_13`, `_14`).
    """
    async with recording_provider() as (provider, bodies):
        for wrong in (21, -1):
            with pytest.raises(ConfigurationError, match="top_logprobs=.* between 0 and 20"):
                await provider.generate(QUESTION, logprobs=True, top_logprobs=wrong)
        assert bodies == []
        await provider.generate(QUESTION, logprobs=True, top_logprobs=20)
    assert bodies[0]["top_logprobs"] == 20


def choices_body(texts: list[str]) -> dict[str, object]:
    body = completion(texts[0])
    body["choices"] = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
        for i, t in enumerate(texts)
    ]
    return body


async def test_a_server_that_honours_n_keeps_getting_one_request_per_call() -> None:
    """Plant: a full answer counts as a short one (`missing < 0`,
    `xǁOpenAIProviderǁgenerate__mutmut_51`): the provider then decides the server ignores
    `n` and fans every later call out into one-sample requests."""
    asked: list[object] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        n = json.loads(request.content).get("n", 1)
        asked.append(n)
        return httpx.Response(200, json=choices_body([f"The answer is {i}." for i in range(n)]))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http)
        question: list[ChatMessage] = [{"role": "user", "content": "q?"}]
        for _ in range(2):
            generation = await provider.generate(question, n=3, seed=0)
            assert len(generation.completions) == 3
    assert asked == [3, 3]


async def test_one_choice_short_is_made_up_by_one_more_request() -> None:
    """A server that returns 3 of the 4 choices asked: one one-sample request, seeded after
    the first request's, makes up the fourth.

    Plant: one missing choice is accepted as enough (`missing <= 1`,
    `xǁOpenAIProviderǁgenerate__mutmut_52`).
    """
    asked: list[tuple[object, object]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        asked.append((sent.get("n", 1), sent.get("seed")))
        n = min(int(sent.get("n", 1)), 3)
        return httpx.Response(200, json=choices_body([f"The answer is {i}." for i in range(n)]))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http)
        generation = await provider.generate([{"role": "user", "content": "q?"}], n=4, seed=0)
    assert len(generation.completions) == 4
    assert asked == [(4, 0), (1, 3)]
    assert generation.usage["llm_calls"] == 4  # one per completion
    assert generation.usage["requests"] == 2


def test_repr_shows_the_default_concurrency_limit() -> None:
    """Plant: the default `max_concurrency` is 17 (`xǁOpenAIProviderǁ__init____mutmut_1`)."""
    provider = OpenAIProvider("m", base_url=BASE)
    assert "max_concurrency=16" in repr(provider)


def test_the_base_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plants: `OPENAI_BASE_URL` is read and dropped (`... and None`), or another variable
    is read (`xǁOpenAIProviderǁ__init____mutmut_7`, `_10`, `_11`)."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://from-env.test/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = OpenAIProvider("m")  # no key needed: a base URL names a local server
    assert provider.base_url == "http://from-env.test/v1"


@pytest.mark.parametrize(("option", "first"), [({}, 0.5), ({"retry_backoff_s": 0.25}, 0.25)])
async def test_the_first_backoff_without_retry_after_is_retry_backoff_s_plus_jitter(
    option: dict[str, float], first: float
) -> None:
    """Plants: the default `retry_backoff_s` is 1.5 (`xǁOpenAIProviderǁ__init____mutmut_5`);
    the option is not passed on (`_115`)."""
    delays: list[float] = []
    replies = iter([httpx.Response(500), httpx.Response(200, json=completion("4"))])

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(replies)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider(
            "m",
            base_url=BASE,
            api_key=KEY,
            http_client=http,
            sleep=sleep,
            **option,
        )
        await provider.generate([{"role": "user", "content": "q?"}])
    assert len(delays) == 1 and first <= delays[0] <= 2 * first


def test_an_empty_model_name_is_refused_with_an_example() -> None:
    """Plants: the message is `None` or changed (`xǁOpenAIProviderǁ__init____mutmut_25`,
    `_26`, `_27`)."""
    with pytest.raises(ConfigurationError, match=r"^model is empty; pass the model name, e\.g\."):
        OpenAIProvider("", base_url=BASE)


def test_no_key_and_no_base_url_says_both_ways_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plants: the message is changed (`xǁOpenAIProviderǁ__init____mutmut_31`, `_32`, `_33`,
    `_34`, `_35`, `_36`)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    expected = (
        r"^No API key for OpenAI: set OPENAI_API_KEY, pass api_key=\.\.\., or pass "
        r"base_url=\.\.\. for a local OpenAI-compatible server that needs no key\.$"
    )
    with pytest.raises(ConfigurationError, match=expected):
        OpenAIProvider("m")


@pytest.mark.parametrize(
    ("status", "content", "error", "hint"),
    [
        (
            400,
            b'{"error": {"message": "bad stop"}}',
            ProviderResponseError,
            "Check max_tokens, stop, seed and logprobs against the server.",
        ),
        (
            401,
            b'{"error": {"message": "no"}}',
            ProviderResponseError,
            "Check the API key (OPENAI_API_KEY or api_key=...).",
        ),
        (
            403,
            b'{"error": {"message": "no"}}',
            ProviderResponseError,
            "Check that the API key may use this model.",
        ),
        (
            404,
            b'{"error": {"message": "no"}}',
            ProviderResponseError,
            "Check the model name 'm' and the base URL.",
        ),
        (
            200,
            b"<html>a web page</html>",
            ProviderResponseError,
            "Check that base_url points at an OpenAI-compatible /v1 endpoint.",
        ),
    ],
)
async def test_each_refusal_ends_with_what_to_check(
    status: int, content: bytes, error: type[Exception], hint: str
) -> None:
    """Plants: a hint is changed or filed under another status
    (`xǁOpenAIProviderǁ__init____mutmut_93`, `_96`, `_97`, `_100`, `_103`, `_104`, `_105`,
    `_106`)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http, max_attempts=1)
        with pytest.raises(error) as caught:
            await provider.generate([{"role": "user", "content": "q?"}])
    assert str(caught.value).endswith(hint)


async def test_the_placeholder_key_of_a_keyless_server_is_not_starred() -> None:
    """ "EMPTY" is what a keyless local server gets, not a secret: an error that quotes it
    keeps it. Plant: the placeholder is starred out like a key (`... and False`,
    `xǁOpenAIProviderǁ__init____mutmut_83`)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "key EMPTY is not accepted"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, http_client=http)
        with pytest.raises(ProviderResponseError, match="key EMPTY is not accepted"):
            await provider.generate([{"role": "user", "content": "q?"}])


def sse(text: str) -> bytes:
    """A streamed completion of `text` as one confident token, then its usage."""
    logprobs = {"content": [{"token": text, "logprob": -0.1, "bytes": None, "top_logprobs": []}]}
    choice = {"index": 0, "delta": {"content": text}, "logprobs": logprobs, "finish_reason": None}
    end = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    events = [
        {**base, "choices": [choice]},
        {**base, "choices": [end]},
        {**base, "choices": [], "usage": usage},
    ]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


async def test_a_streamed_sample_is_asked_for_with_the_calls_options() -> None:
    """With online stop each sample is its own streamed request; it carries the messages,
    `max_tokens`, `temperature` and `stop` of the call, a `seed` only when one is given, and
    the completion reports its seed. Without `logprobs` asked for, the stream still asks for
    the online stop's `top_k` alternatives.

    Plants: `top_logprobs` stays the call's 0 under online stop (`xǁOpenAIProviderǁgenerate__
    mutmut_17`); in `xǁOpenAIProviderǁ_send_stream`, `max_tokens`, `temperature` or `stop` sent as
    null or left out (`_4`, `_14`, `_5`, `_15`, `_6`, `_16`, `_27`), the messages null
    (`_23`), `seed: null` sent (`_31`), the completion's seed dropped (`_42`).
    """
    bodies: list[dict[str, object]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, content=sse("The answer is 4."))

    online = {"threshold": 1.0, "window": 2, "top_k": 2}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key=KEY, http_client=http)
        await provider.generate(
            QUESTION,
            max_tokens=9,
            temperature=0.2,
            stop=["\n\n"],
            logprobs=True,
            online_stop=online,
        )
        seeded = await provider.generate(QUESTION, seed=5, online_stop=online)
    first, second = bodies
    assert first["messages"] == QUESTION and first["stream"] is True
    assert (first["max_tokens"], first["temperature"], first["stop"]) == (9, 0.2, ["\n\n"])
    assert "seed" not in first and second["seed"] == 5
    assert second["logprobs"] is True and second["top_logprobs"] == 2  # the online `top_k`
    assert [c.seed for c in seeded.completions] == [5]
    assert seeded.completions[0].text == "The answer is 4."


async def test_a_request_that_hangs_past_timeout_s_is_given_up() -> None:
    """`timeout_s` is how long one request may take: a server that holds the request for
    30 s is given up on after 0.5 s (one attempt), with the error saying what to raise.

    Plants: the client is built with `timeout=None` or without it (openai's own default of
    10 minutes; `xǁOpenAIProviderǁ__init____mutmut_47`, `_52`): the request waits out the
    server's hang and gets its answer.
    """
    faults = Faults(rate=1.0, kinds=["timeout"], hang_s=30.0)
    with OpenAIStubServer(reply="The answer is 4.", faults=faults) as server:
        provider = OpenAIProvider(
            "m", base_url=server.base_url, api_key=KEY, timeout_s=0.5, max_attempts=1
        )
        try:
            with pytest.raises(ProviderUnavailableError, match=r"APITimeoutError.*timeout_s"):
                await provider.generate([{"role": "user", "content": "2 + 2?"}])
        finally:
            await provider.aclose()
        assert server.injected == {"timeout": 1} and server.responses == []
