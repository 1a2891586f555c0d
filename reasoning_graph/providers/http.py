"""The HTTP layer shared by the backends that call a server: `OpenAIProvider` (over the `openai`
SDK) and `RewardModelVerifier` (over `httpx`).

`HttpLayer` does, in one place, what both need around a request:

- a client and a request limit (semaphore) per running event loop, so sync wrappers may call
  from successive `asyncio.run` loops;
- the retry loop of `reasoning_graph.providers.retry` (tenacity; 408, 429 honouring
  `Retry-After`, 5xx, timeouts, lost connections, garbled bodies), counted in `retries`;
- translation of what still fails into the `ReasoningGraphError` tree:
  `ProviderUnavailableError` (try again later) or `ProviderResponseError` (fix the request or
  the server), with a hint of what to check;
- redaction: the API key is starred out of every message, and the original error is chained
  as `__cause__` only when nothing in its chain shows the key (a server may echo it). The
  transports' DEBUG logs print every response header, so the keys of live backends are also
  starred out of those records (`hide_in_transport_logs`: a filter on httpcore's protocol
  loggers, holding the keys weakly; the one piece of process-wide state here, as logging
  itself is process-wide).

A backend keeps only what is its own: building the request and reading the answer.

```python
layer = HttpLayer(make_client=httpx.AsyncClient, close_client=httpx.AsyncClient.aclose,
                  api_key=key, hints=ErrorHints(unusable="Check base_url."))
body = await layer.send(lambda client: client.post(url, json=payload), where=url)
```
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import openai
from pydantic import SecretStr

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
    ReasoningGraphError,
)
from reasoning_graph.providers.retry import (
    MalformedResponseError,
    RetryCounter,
    async_retrying,
    is_retryable,
)

__all__ = [
    "STARS",
    "ErrorHints",
    "HttpLayer",
    "HttpLimits",
    "Redactor",
    "error_message",
    "hide_in_transport_logs",
]

STARS = "**********"
"""What a secret is replaced with."""

_SHORT_SECRET = 8  # shorter secrets are starred as whole tokens only (see `Redactor`)
_HANDLED = (openai.OpenAIError, httpx.HTTPError, ValueError, MalformedResponseError)
# The loggers that print response headers at DEBUG (httpx's transport and the SDK's fork of it).
_TRANSPORT_LOGGERS = ("httpcore.http11", "httpcore.http2", "httpcore2.http11", "httpcore2.http2")

ClientT = TypeVar("ClientT")
ResultT = TypeVar("ResultT")


class Redactor:
    """Stars secrets (API keys) out of text.

    A secret of 8 characters or more is starred wherever it occurs; a shorter one (a
    placeholder such as `"test"`) only where it stands as a whole token, so that its letters
    inside other words survive. Empty secrets are ignored.

    Args:
        secrets: The values to hide.

    Example:
        >>> Redactor(["sk-0123456789"])("bad key sk-0123456789")
        'bad key **********'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._patterns = [
            re.compile(
                re.escape(secret)
                if len(secret) >= _SHORT_SECRET
                else rf"(?<![\w-]){re.escape(secret)}(?![\w-])"
            )
            for secret in dict.fromkeys(secrets)
            if secret
        ]

    def __call__(self, text: str) -> str:
        """`text` with every secret starred out."""
        for pattern in self._patterns:
            text = pattern.sub(STARS, text)
        return text

    def shows_secret(self, error: BaseException) -> bool:
        """Whether `error`, or an exception chained to it, shows a secret: in its str, repr or
        args (what tracebacks and loggers print) or, for a status error, in the response it
        carries (a server that echoes the key)."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            texts = [str(current), repr(current), repr(current.args)]
            if isinstance(current, openai.APIStatusError):
                texts += [repr(current.body), repr(dict(current.response.headers))]
            elif isinstance(current, httpx.HTTPStatusError):
                texts += [current.response.text, repr(dict(current.response.headers))]
            if any(self(text) != text for text in texts):
                return True
            current = current.__cause__ or current.__context__
        return False

    def __repr__(self) -> str:
        return f"Redactor({len(self._patterns)} secret(s))"


class _TransportLogScrubber(logging.Filter):
    """Stars the secrets of live backends out of log records; keeps its redactors weakly."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()

    def add(self, redactor: Redactor) -> None:
        with self._lock:
            self._redactors.add(redactor)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            redactors = list(self._redactors)
        if redactors:
            message = clean = record.getMessage()
            for redact in redactors:
                clean = redact(clean)
            if clean != message:
                record.msg, record.args = clean, None
        return True  # a filter that only edits: every record is still logged


_SCRUBBER = _TransportLogScrubber()


def hide_in_transport_logs(redactor: Redactor) -> None:
    """Star `redactor`'s secrets out of the HTTP transports' log records while it lives.

    httpcore logs every response header at DEBUG, so a server that echoes the key in a
    header (`WWW-Authenticate`, a `Location` URL) would put it in the logs. The filter costs
    nothing unless those loggers are enabled for DEBUG.
    """
    _SCRUBBER.add(redactor)
    for name in _TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUBBER not in logger.filters:
            logger.addFilter(_SCRUBBER)


@dataclass(frozen=True)
class ErrorHints:
    """What a backend's errors tell the user to check.

    Attributes:
        unusable: After a response that could not be used (not JSON, the wrong shape).
        refused: After a refused request (4xx) whose status has no hint of its own.
        by_status: Hints for particular refusals, e.g. `{401: "Check the API key."}`.
    """

    unusable: str
    refused: str = "Check the request's options against the server."
    by_status: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpLimits:
    """How hard a backend tries: request limit, attempts, timeout and backoff.

    Attributes:
        max_concurrency: Most requests in flight at once, per event loop.
        max_attempts: Tries per request, the first included.
        timeout_s: Seconds one request may take; the backend applies it.
        retry_backoff_s: First wait between attempts without a `Retry-After` hint; it
            doubles per attempt, plus jitter, never above 8 s. `0` retries at once.

    Raises:
        ConfigurationError: A limit is out of range.
    """

    max_concurrency: int = 16
    max_attempts: int = 4
    timeout_s: float = 60.0
    retry_backoff_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "max_attempts"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name}={getattr(self, name)!r} must be an integer >= 1.")
        if self.timeout_s <= 0:
            raise ConfigurationError(f"timeout_s={self.timeout_s!r} must be > 0 seconds.")
        if self.retry_backoff_s < 0:
            raise ConfigurationError(
                f"retry_backoff_s={self.retry_backoff_s!r} must be >= 0 seconds."
            )


@dataclass
class _LoopState(Generic[ClientT]):
    semaphore: asyncio.Semaphore
    client: ClientT


class HttpLayer(Generic[ClientT]):
    """Clients, retries, error translation and key redaction for one backend object.

    Args:
        make_client: Builds the client of a new event loop (the SDK client, an
            `httpx.AsyncClient`).
        close_client: Closes a client `make_client` built.
        shared_client: One client used on every event loop and never closed here (the
            caller's). Defaults to one client per loop from `make_client`.
        api_key: The key to hide from every message; empty means none.
        hints: What the errors tell the user to check.
        limits: Request limit, attempts, timeout and backoff. Defaults to `HttpLimits()`.
        sleep: Coroutine function that waits between attempts. Defaults to `asyncio.sleep`.
    """

    def __init__(
        self,
        *,
        make_client: Callable[[], ClientT],
        close_client: Callable[[ClientT], Awaitable[None]],
        shared_client: ClientT | None = None,
        api_key: SecretStr,
        hints: ErrorHints,
        limits: HttpLimits | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._make_client = make_client
        self._close_client = close_client
        self._shared_client = shared_client
        self._api_key = api_key
        self._hints = hints
        self.limits = limits or HttpLimits()
        self._sleep = sleep or asyncio.sleep
        self.redact = Redactor([api_key.get_secret_value()])
        hide_in_transport_logs(self.redact)
        self.retries = RetryCounter()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState[ClientT]] = (
            weakref.WeakKeyDictionary()
        )

    def bearer_headers(self) -> dict[str, str]:
        """`Authorization: Bearer KEY` when a key is set, else no header."""
        key = self._api_key.get_secret_value()
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def send(self, call: Callable[[ClientT], Awaitable[ResultT]], *, where: str) -> ResultT:
        """Run `call` with this loop's client under the request limit, retrying what may pass.

        Args:
            call: Makes one request with the client and reads its answer. It raises what the
                retry policy understands: SDK or `httpx` errors (a status error for a non-2xx
                answer), `json.JSONDecodeError` for a garbled body, `MalformedResponseError`
                for an answer worth another try, `ValueError` for one that is final.
            where: How messages name the endpoint, e.g. `"URL (model 'NAME')"`.

        Returns:
            What `call` returned on the first attempt that succeeded.

        Raises:
            ProviderUnavailableError: Still failing after `max_attempts` tries (timeouts,
                lost connections, 408, 429, 5xx).
            ProviderResponseError: The server refused the request (another 4xx), or its
                answers could not be used.
        """
        state = self._state()
        attempts = 0
        retrying = async_retrying(
            max_attempts=self.limits.max_attempts,
            backoff_s=self.limits.retry_backoff_s,
            sleep=self._sleep,
            on_retry=self.retries.record,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    async with state.semaphore:
                        return await call(state.client)
        except _HANDLED as exc:
            if isinstance(exc, ReasoningGraphError):
                raise  # already this library's error (a bad option): not the server's doing
            failure: Exception = exc
        else:  # pragma: no cover - tenacity re-raises the last error
            raise AssertionError("the retry loop ended without a result or an error")
        # Raised outside `except`, so that an error that shows the key is not chained at all.
        error = self._translate(failure, where, attempts)
        raise error from (None if self.redact.shows_secret(failure) else failure)

    async def aclose(self) -> None:
        """Close the client made for the running event loop (a shared client stays open)."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None and state.client is not self._shared_client:
            await self._close_client(state.client)

    def _state(self) -> _LoopState[ClientT]:
        """The running loop's semaphore and client, made on first use."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            for closed in [old for old in self._loops if old.is_closed()]:
                del self._loops[closed]
            client = self._shared_client
            state = _LoopState(
                asyncio.Semaphore(self.limits.max_concurrency),
                client if client is not None else self._make_client(),
            )
            self._loops[loop] = state
        return state

    def _translate(self, exc: Exception, where: str, attempts: int) -> ProviderError:
        """`exc` as this library's error, with a hint and the key starred out."""
        hints = self._hints
        if isinstance(exc, openai.APIStatusError | httpx.HTTPStatusError) and not is_retryable(exc):
            status, detail = _refusal(exc)
            hint = hints.by_status.get(status, hints.refused)
            message = f"{where} refused the request with HTTP {status}: {detail}. {hint}"
            return ProviderResponseError(self.redact(message))
        unusable = isinstance(exc, ValueError | MalformedResponseError)  # garbled JSON too
        if not unusable and (is_retryable(exc) or isinstance(exc, httpx.TransportError)):
            cause = f" ({exc.__cause__!r})" if exc.__cause__ is not None else ""
            message = (
                f"{where} still failing after {attempts} attempt(s): {type(exc).__name__}: "
                f"{exc}{cause}. Check that the server is up and reachable, or raise "
                "max_attempts / timeout_s."
            )
            return ProviderUnavailableError(self.redact(message))
        shown = (
            str(exc) if isinstance(exc, MalformedResponseError) else f"{type(exc).__name__}: {exc}"
        )
        message = (
            f"{where} answered with something unusable after {attempts} attempt(s): "
            f"{shown}. {hints.unusable}"
        )
        return ProviderResponseError(self.redact(message))


def error_message(body: Any) -> str | None:
    """The message of an error body: OpenAI's and vLLM's `{"error": {"message": ...}}` (or the
    SDK's unwrapped `{"message": ...}`), `{"error": "..."}`, FastAPI's `{"detail": "..."}`,
    or a bare string (Ollama). `None` for any other shape.

    Example:
        >>> error_message({"error": {"message": "model not found", "code": 404}})
        'model not found'
    """
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return error_message(error)
    for key in ("error", "message", "detail"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


def _refusal(exc: openai.APIStatusError | httpx.HTTPStatusError) -> tuple[int, str]:
    """The status of a refused request and what the server said: its error message, else
    its body."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code, error_message(exc.body) or exc.message
    response = exc.response
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text[:200] or response.reason_phrase
    return response.status_code, error_message(body) or str(body)[:200]
