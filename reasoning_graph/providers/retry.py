"""The retry policy of the HTTP providers: what is worth another attempt, and when to make it.

Another attempt may succeed after a timeout, a lost connection, HTTP 408, 429 or any 5xx,
and after a response that arrived but cannot be used: a body that is not valid JSON (cut short
or garbled, as a flaky proxy may send) or a completion with no usable choices
(`MalformedResponseError`). Every other error is final: bad requests (4xx), a response that is
not JSON at all by its content type (a wrong `base_url` serving HTML), and bugs.

Between attempts the policy waits as long as the server's `retry-after-ms` or `Retry-After`
header asks (seconds or an HTTP date), capped at `MAX_RETRY_AFTER_S`, and otherwise an
exponential backoff with jitter, capped at `MAX_BACKOFF_S`. `RetryCounter` counts the retries
spent by `retry_reason`. Errors of the `openai` SDK and of `httpx` are both understood, so a
provider on either reuses the same policy:

```python
retrying = async_retrying(max_attempts=4, backoff_s=0.5)
async for attempt in retrying:
    with attempt:
        response = await client.post(url, json=payload)
        response.raise_for_status()
```
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import httpx
import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from reasoning_graph.errors import ConfigurationError

__all__ = [
    "MAX_BACKOFF_S",
    "MAX_RETRY_AFTER_S",
    "MalformedResponseError",
    "RetryCounter",
    "async_retrying",
    "backoff_wait",
    "is_retryable",
    "is_retryable_status",
    "retry_after_s",
    "retry_reason",
]

MAX_RETRY_AFTER_S = 60.0
"""Longest wait a server's `Retry-After` may ask for; longer hints are capped, as the SDK does."""

MAX_BACKOFF_S = 8.0
"""Longest wait of the exponential backoff used when the server gives no hint."""

_TRANSIENT_ERRORS = (
    openai.APIConnectionError,  # includes openai.APITimeoutError
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


class MalformedResponseError(Exception):
    """A response arrived whole but holds nothing usable, e.g. a completion with no choices.

    Raised by a provider inside its retry loop, so that the next attempt can fix it (a proxy
    or an overloaded server hiccuped); providers turn it into
    `reasoning_graph.errors.ProviderResponseError` when their attempts run out.

    Args:
        message: What was wrong with the response.
        reason: A short label for `retry_reason`, e.g. `"no_choices"`.
    """

    def __init__(self, message: str, *, reason: str = "malformed_response") -> None:
        super().__init__(message)
        self.reason = reason


def is_retryable_status(status_code: int) -> bool:
    """Whether an HTTP status may go away on its own: 408, 429 and every 5xx.

    Example:
        >>> [is_retryable_status(code) for code in (400, 408, 429, 500, 503)]
        [False, True, True, True, True]
    """
    return status_code in (408, 429) or status_code >= 500


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt may succeed after `exc`.

    Args:
        exc: An error raised by the `openai` SDK or by `httpx`.

    Returns:
        `True` for timeouts, lost connections (`openai.APIConnectionError`, httpx's timeout,
        network and remote protocol errors), status errors with a retryable status (see
        `is_retryable_status`), bodies that are not valid JSON (`json.JSONDecodeError`) and
        `MalformedResponseError`; `False` for everything else, bad requests and bugs included.
    """
    if isinstance(exc, (*_TRANSIENT_ERRORS, json.JSONDecodeError, MalformedResponseError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return is_retryable_status(exc.status_code)
    if isinstance(exc, httpx.HTTPStatusError):
        return is_retryable_status(exc.response.status_code)
    return False


def retry_reason(exc: BaseException) -> str:
    """A short, stable label for why an attempt failed, to count retries by.

    Returns:
        `"http_<status>"` for a status error (`"http_429"`, `"http_503"`), `"timeout"`,
        `"connection"` (a refused, reset or dropped connection), `"invalid_json"` (a body
        cut short or garbled), a `MalformedResponseError`'s own `reason` (`"no_choices"`,
        `"malformed_choice"`), else the error's class name.

    Example:
        >>> retry_reason(MalformedResponseError("no choices", reason="no_choices"))
        'no_choices'
    """
    if isinstance(exc, MalformedResponseError):
        return exc.reason
    if isinstance(exc, json.JSONDecodeError):
        return "invalid_json"
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, _TRANSIENT_ERRORS):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"http_{exc.response.status_code}"
    return type(exc).__name__


class RetryCounter:
    """Retries spent, in total and by `retry_reason`; safe to share between threads.

    A retry is an attempt made after a failed one: a request that succeeds on its third
    try counts two. Final failures are not retries and are not counted.

    Example:
        ```python
        provider = OpenAIProvider("m", base_url=url)
        ...
        provider.retries.total, provider.retries.by_reason  # 3, {"http_429": 2, "timeout": 1}
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, exc: BaseException) -> None:
        """Count one retry caused by `exc`."""
        reason = retry_reason(exc)
        with self._lock:
            self._counts[reason] += 1

    @property
    def total(self) -> int:
        """Retries spent so far."""
        with self._lock:
            return sum(self._counts.values())

    @property
    def by_reason(self) -> dict[str, int]:
        """Retries spent so far per `retry_reason`, sorted by reason (a copy)."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        """Forget the retries counted so far."""
        with self._lock:
            self._counts.clear()

    def __repr__(self) -> str:
        return f"RetryCounter(total={self.total}, by_reason={self.by_reason})"


def retry_after_s(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a response's headers ask the client to wait, if they ask.

    `retry-after-ms` (milliseconds, sent by OpenAI) wins over `Retry-After`, which is either
    seconds or an HTTP date. Header names match in any case. Values that do not parse are
    ignored. The result is not capped and may be negative (a date in the past).

    Args:
        headers: The response's headers, e.g. `httpx.Response.headers`.
        now: The current time as a Unix timestamp, for an HTTP date. Defaults to
            `time.time()`.

    Returns:
        The seconds asked for, or `None` when no header gives a usable value.

    Example:
        >>> retry_after_s({"Retry-After": "2", "retry-after-ms": "1500"})
        1.5
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if not math.isnan(seconds):
            return seconds
    date = lowered.get("retry-after")
    parsed = email.utils.parsedate_tz(date) if date else None
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed)) - (time.time() if now is None else now)


def backoff_wait(backoff_s: float) -> Callable[[RetryCallState], float]:
    """Build a tenacity `wait` that honours `Retry-After` and otherwise backs off.

    Args:
        backoff_s: First wait when the failed response gave no hint; it doubles per attempt,
            plus up to `backoff_s` of jitter, never above `MAX_BACKOFF_S`. `0` retries at once.

    Returns:
        A function of tenacity's retry state that returns the seconds to wait: the hint of
        the last error's response (openai or httpx status errors), clamped to
        [0, `MAX_RETRY_AFTER_S`], else the backoff.

    Raises:
        ConfigurationError: `backoff_s` is negative.
    """
    if backoff_s < 0:
        raise ConfigurationError(f"backoff_s={backoff_s!r} must be >= 0 seconds.")

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        hinted = retry_after_s(headers) if (headers := _response_headers(exc)) else None
        if hinted is not None:
            return min(max(hinted, 0.0), MAX_RETRY_AFTER_S)
        exponential = backoff_s * 2.0 ** (state.attempt_number - 1)
        return min(exponential + random.uniform(0, backoff_s), MAX_BACKOFF_S)

    return wait


def async_retrying(
    *,
    max_attempts: int,
    backoff_s: float,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    retryable: Callable[[BaseException], bool] = is_retryable,
    on_retry: Callable[[BaseException], None] | None = None,
) -> AsyncRetrying:
    """Build the `AsyncRetrying` loop of one request under this policy.

    The last error is re-raised as itself (not wrapped in `tenacity.RetryError`) once
    `max_attempts` tries have failed or an error is not retryable.

    Args:
        max_attempts: Tries, the first included.
        backoff_s: First backoff in seconds; see `backoff_wait`.
        sleep: Coroutine function that waits between attempts. Defaults to `asyncio.sleep`;
            tests pass a recorder.
        retryable: Decides which errors get another attempt. Defaults to `is_retryable`.
        on_retry: Called with the error before each further attempt (not after the last),
            e.g. `RetryCounter.record`. Defaults to nothing.

    Returns:
        A fresh `AsyncRetrying`; iterate it with `async for attempt in ...`.

    Raises:
        ConfigurationError: `max_attempts` is below 1 or `backoff_s` is negative.
    """
    if max_attempts < 1:
        raise ConfigurationError(f"max_attempts={max_attempts!r} must be an integer >= 1.")

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and exc is not None:
            on_retry(exc)

    return AsyncRetrying(
        sleep=sleep or asyncio.sleep,
        stop=stop_after_attempt(max_attempts),
        wait=backoff_wait(backoff_s),
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


def _response_headers(exc: BaseException | None) -> Mapping[str, str] | None:
    """The headers of the response behind a status error, else `None`."""
    if isinstance(exc, (openai.APIStatusError, httpx.HTTPStatusError)):
        return exc.response.headers
    return None
