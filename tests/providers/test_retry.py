"""Tests of the HTTP retry policy (`reasoning_graph.providers.retry`), without any network."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import httpx
import httpx2
import openai
import pytest

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.providers.retry import (
    MAX_BACKOFF_S,
    MAX_RETRY_AFTER_S,
    MalformedResponseError,
    RetryCounter,
    async_retrying,
    backoff_wait,
    is_retryable,
    is_retryable_status,
    retry_after_s,
    retry_reason,
)

URL = "http://llm.test/v1/chat/completions"
NOW = 1_700_000_000.0


def openai_status(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    """The SDK's error for an HTTP `status` response."""
    response = httpx2.Response(status, headers=headers, request=httpx2.Request("POST", URL))
    return openai.APIStatusError(f"HTTP {status}", response=response, body=None)


def httpx_status(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", URL)
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def run(retrying: Any, errors: list[BaseException], result: str = "ok") -> tuple[str, int]:
    """Run `retrying` over a call that raises `errors` in turn, then returns `result`."""
    calls = 0
    async for attempt in retrying:
        with attempt:
            calls += 1
            if calls <= len(errors):
                raise errors[calls - 1]
            return result, calls
    raise AssertionError("the retry loop ended without a result")


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, False), (401, False), (404, False), (408, True), (409, False), (422, False),
     (429, True), (500, True), (502, True), (503, True), (504, True)],
)  # fmt: skip
def test_retryable_statuses(status: int, expected: bool) -> None:
    assert is_retryable_status(status) is expected
    assert is_retryable(openai_status(status)) is expected
    assert is_retryable(httpx_status(status)) is expected


@pytest.mark.parametrize(
    "error",
    [
        openai.APIConnectionError(request=httpx2.Request("POST", URL)),
        openai.APITimeoutError(request=httpx2.Request("POST", URL)),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("peer closed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_lost_connections_and_timeouts_are_retryable(error: BaseException) -> None:
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("not JSON"),
        RuntimeError("a bug"),
        httpx.UnsupportedProtocol("ftp://"),
        openai.APIResponseValidationError(
            httpx2.Response(200, request=httpx2.Request("POST", URL)), body=None
        ),
    ],
    ids=lambda error: type(error).__name__,
)
def test_other_errors_are_final(error: BaseException) -> None:
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After-Ms": "250"}, 0.25),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "soon", "retry-after": "4"}, 4.0),
        ({"retry-after": "120"}, 120.0),  # not capped here; the wait caps it
        ({"retry-after": "-5"}, -5.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": ""}, None),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(NOW + 30, usegmt=True)
    earlier = email.utils.formatdate(NOW - 10, usegmt=True)
    assert retry_after_s({"retry-after": later}, now=NOW) == 30.0
    assert retry_after_s({"retry-after": earlier}, now=NOW) == -10.0
    assert retry_after_s(httpx.Headers({"Retry-After": later}), now=NOW) == 30.0


@pytest.mark.parametrize("make_error", [openai_status, httpx_status], ids=["openai", "httpx"])
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "600"}, MAX_RETRY_AFTER_S),
        ({"retry-after": "-5"}, 0.0),
    ],
)
async def test_waits_as_long_as_the_server_asks_within_limits(
    make_error: Any, headers: dict[str, str], expected: float
) -> None:
    sleep = SleepRecorder()
    retrying = async_retrying(max_attempts=2, backoff_s=0.5, sleep=sleep)

    assert await run(retrying, [make_error(429, headers)]) == ("ok", 2)
    assert sleep.delays == [expected]


async def test_backs_off_exponentially_with_jitter_up_to_the_cap() -> None:
    sleep = SleepRecorder()
    retrying = async_retrying(max_attempts=7, backoff_s=1.0, sleep=sleep)

    assert await run(retrying, [httpx_status(503)] * 6) == ("ok", 7)
    for attempt, delay in enumerate(sleep.delays, start=1):
        low = min(2.0 ** (attempt - 1), MAX_BACKOFF_S)
        assert low <= delay <= min(low + 1.0, MAX_BACKOFF_S), (attempt, delay)
    assert sleep.delays[-2:] == [MAX_BACKOFF_S, MAX_BACKOFF_S]


async def test_zero_backoff_retries_at_once() -> None:
    sleep = SleepRecorder()
    errors: list[BaseException] = [httpx.ConnectError("refused"), openai_status(500)]

    await run(async_retrying(max_attempts=3, backoff_s=0.0, sleep=sleep), errors)

    assert sleep.delays == [0.0, 0.0]


async def test_last_error_is_reraised_as_itself_after_max_attempts() -> None:
    sleep = SleepRecorder()
    errors = [openai_status(502), openai_status(503), openai_status(504)]

    with pytest.raises(openai.APIStatusError) as caught:
        await run(async_retrying(max_attempts=3, backoff_s=0.0, sleep=sleep), [*errors])

    assert caught.value is errors[-1]
    assert len(sleep.delays) == 2


async def test_final_errors_are_not_retried() -> None:
    sleep = SleepRecorder()
    error = openai_status(400)

    with pytest.raises(openai.APIStatusError) as caught:
        await run(async_retrying(max_attempts=5, backoff_s=0.0, sleep=sleep), [error])

    assert caught.value is error and sleep.delays == []


async def test_custom_retryable_predicate() -> None:
    sleep = SleepRecorder()
    retrying = async_retrying(
        max_attempts=3,
        backoff_s=0.0,
        sleep=sleep,
        retryable=lambda exc: isinstance(exc, KeyError),
    )

    assert await run(retrying, [KeyError("a"), KeyError("b")]) == ("ok", 3)
    with pytest.raises(httpx.ConnectError):
        await run(
            async_retrying(max_attempts=3, backoff_s=0.0, sleep=sleep, retryable=lambda _: False),
            [httpx.ConnectError("refused")],
        )


@pytest.mark.parametrize(
    ("options", "name"),
    [({"max_attempts": 0, "backoff_s": 0.0}, "max_attempts"),
     ({"max_attempts": 1, "backoff_s": -1.0}, "backoff_s")],
)  # fmt: skip
def test_bad_options_are_configuration_errors(options: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        async_retrying(**options)


def test_backoff_wait_rejects_negative_backoff() -> None:
    with pytest.raises(ConfigurationError, match="backoff_s=-0.1"):
        backoff_wait(-0.1)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (openai_status(429), "http_429"),
        (httpx_status(503), "http_503"),
        (openai.APITimeoutError(request=httpx2.Request("POST", URL)), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (openai.APIConnectionError(request=httpx2.Request("POST", URL)), "connection"),
        (httpx.RemoteProtocolError("peer closed"), "connection"),
        (json.JSONDecodeError("Expecting value", "{", 1), "invalid_json"),
        (MalformedResponseError("no choices", reason="no_choices"), "no_choices"),
        (RuntimeError("a bug"), "RuntimeError"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_retry_reasons(error: BaseException, reason: str) -> None:
    assert retry_reason(error) == reason


def test_garbled_bodies_and_malformed_responses_are_retryable() -> None:
    assert is_retryable(json.JSONDecodeError("Unterminated string", '{"a', 1))
    assert is_retryable(MalformedResponseError("no choices"))


async def test_retries_are_counted_by_reason_and_final_failures_are_not() -> None:
    counter = RetryCounter()
    errors: list[BaseException] = [
        openai_status(429),
        httpx.ReadTimeout("slow"),
        openai_status(429),
    ]
    retrying = async_retrying(
        max_attempts=4, backoff_s=0.0, sleep=SleepRecorder(), on_retry=counter.record
    )

    assert await run(retrying, errors) == ("ok", 4)
    assert counter.total == 3
    assert counter.by_reason == {"http_429": 2, "timeout": 1}

    with pytest.raises(openai.APIStatusError):  # the last of 2 attempts is not a retry
        await run(
            async_retrying(
                max_attempts=2, backoff_s=0.0, sleep=SleepRecorder(), on_retry=counter.record
            ),
            [openai_status(500)] * 2,
        )
    assert counter.by_reason == {"http_429": 2, "http_500": 1, "timeout": 1}
    assert "total=4" in repr(counter)
    counter.reset()
    assert counter.total == 0 and counter.by_reason == {}
