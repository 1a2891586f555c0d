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
- redaction (`reasoning_graph.providers.redaction`): the API key is starred out of every
  message, the original error is chained as `__cause__` only when nothing in its chain shows
  the key (a server may echo it), and the key is starred out of the transports' DEBUG logs.

A backend keeps only what is its own: building the request and reading the answer.

```python
layer = HttpLayer(make_client=httpx.AsyncClient, close_client=httpx.AsyncClient.aclose,
                  api_key=SecretStr(key), hints=ErrorHints(unusable="Check base_url."))
response = await layer.send(lambda client: client.post(url, json=payload), where=url)
```
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Mapping
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
from reasoning_graph.providers.redaction import Redactor, hide_in_transport_logs
from reasoning_graph.providers.retry import (
    MalformedResponseError,
    RetryCounter,
    async_retrying,
    is_retryable,
)

__all__ = ["ErrorHints", "HttpLayer", "HttpLimits", "error_message"]

_HANDLED = (openai.OpenAIError, httpx.HTTPError, ValueError, MalformedResponseError)

ClientT = TypeVar("ClientT")
ResultT = TypeVar("ResultT")


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
