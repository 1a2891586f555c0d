"""`OpenAIProvider`: a `Generator` on the official `openai` SDK, for any OpenAI-compatible server.

One request with `n` where the server honours it, concurrent seeded requests where it does not
(Ollama, llama.cpp), tenacity retries that honour `Retry-After` (the policy lives in
`reasoning_graph.providers.retry`), and a concurrency limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import SecretStr

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.base import (
    ChatMessage,
    Completion,
    Generation,
    TokenLogprob,
    check_sampling,
)
from reasoning_graph.providers.retry import (
    MalformedResponseError,
    RetryCounter,
    async_retrying,
    is_retryable,
)
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage

if TYPE_CHECKING:
    import httpx
    import httpx2

__all__ = ["OpenAIProvider"]

_OPENAI_BASE_URL = "https://api.openai.com/v1"
_NO_KEY = "EMPTY"  # what vLLM's docs pass to a local server that checks no key
_STARS = "**********"
_SHORT_KEY = 8  # keys shorter than this are starred as whole tokens only (see `_redact`)


@dataclass
class _LoopState:
    """What must belong to one event loop: the request limit and (usually) the client."""

    semaphore: asyncio.Semaphore
    client: openai.AsyncOpenAI
    owned: bool


class OpenAIProvider:
    """Sample chat completions from OpenAI or any OpenAI-compatible server (vLLM, SGLang, Ollama).

    Usage is exact: it is summed from every successful response's `usage`, and `llm_calls`
    counts successful HTTP requests (failed attempts are not charged). A server that omits
    `usage` is charged the upper bound, `max_tokens` completion tokens per choice and no
    prompt tokens, so token budgets still hold.

    The SDK's own retries are off; this class retries 408, 429, 5xx, timeouts and connection
    errors up to `max_attempts` times, waiting as long as the `Retry-After` (or
    `retry-after-ms`) header asks, capped at 60 s, or else an exponential backoff with jitter
    (see `reasoning_graph.providers.retry`). A 200 response that cannot be used is retried
    too, as a proxy or server hiccup: a JSON body cut short or garbled, an empty `choices`
    list, a choice without a message; a body that is not a chat completion at all (a web
    page, JSON without `choices`: a wrong `base_url`) is final. A completion cut by
    `max_tokens` (`finish_reason="length"`) is a normal answer, returned with its finish
    reason, never retried. `retries` counts the retries spent, by reason.

    The concurrency limit and the SDK client are created per running event loop, so sync
    wrappers may call the provider from successive `asyncio.run` loops. Call `aclose()` before
    a loop ends to close the connections made on it.

    Testing: openai 3.x sends requests through its own `httpx2` fork, which `respx` does not
    patch. The SDK also accepts a plain `httpx.AsyncClient` at runtime (its annotation says
    `httpx2.AsyncClient`), and respx does intercept that one. Pass
    `http_client=httpx.AsyncClient()` under `respx.mock`, or
    `httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))` for a
    respx router without global patching.

    Example:
        ```python
        from reasoning_graph.providers.openai import OpenAIProvider

        provider = OpenAIProvider("Qwen/Qwen2.5-1.5B-Instruct", base_url="http://localhost:8000/v1")
        generation = await provider.generate(
            [{"role": "user", "content": "What is 17 * 23?"}], n=4, seed=0
        )
        print([c.text for c in generation.completions], generation.usage)
        ```
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | SecretStr | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 60.0,
        max_attempts: int = 4,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        use_n: bool = True,
        retry_backoff_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Configure the provider; no request is made until `generate`.

        Args:
            model: The model name the server knows, e.g. `"gpt-4o-mini"`.
            base_url: The server's OpenAI-compatible root, e.g. `"http://localhost:8000/v1"`.
                Falls back to `OPENAI_BASE_URL`, then to OpenAI's API.
            api_key: The API key. Falls back to `OPENAI_API_KEY`; a server given by
                `base_url` may need none (`"EMPTY"` is sent). Never shown in repr or errors.
            max_concurrency: Most requests in flight at once (per event loop).
            timeout_s: Seconds one HTTP request may take before it is retried.
            max_attempts: Tries per request, the first included, before giving up.
            http_client: An `httpx.AsyncClient` or `httpx2.AsyncClient` to send requests with,
                used on every event loop and never closed here. Defaults to one SDK client
                per event loop.
            use_n: Ask for all samples in one request with `n`. `False` always sends `n`
                concurrent seeded requests of one sample each.
            retry_backoff_s: First wait between attempts when the server sends no
                `Retry-After`; doubles per attempt, plus up to as much again in jitter,
                never above 8 s. `0` retries at once.
            sleep: Coroutine function that waits between attempts. Defaults to
                `asyncio.sleep`; tests pass a recorder.

        Raises:
            ConfigurationError: An option is out of range, or no API key is set for OpenAI.
        """
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        if not model:
            raise ConfigurationError("model is empty; pass the model name, e.g. 'gpt-4o-mini'.")
        if not secret.get_secret_value():
            if base_url is None:
                raise ConfigurationError(
                    "No API key for OpenAI: set OPENAI_API_KEY, pass api_key=..., or pass "
                    "base_url=... for a local OpenAI-compatible server that needs no key."
                )
            secret = SecretStr(_NO_KEY)
        for name, value, low in (
            ("max_concurrency", max_concurrency, 1),
            ("max_attempts", max_attempts, 1),
        ):
            if value < low:
                raise ConfigurationError(f"{name}={value!r} must be an integer >= {low}.")
        if timeout_s <= 0:
            raise ConfigurationError(f"timeout_s={timeout_s!r} must be > 0 seconds.")
        if retry_backoff_s < 0:
            raise ConfigurationError(f"retry_backoff_s={retry_backoff_s!r} must be >= 0 seconds.")

        self._model = model
        self._base_url = base_url
        self._api_key = secret
        self._max_concurrency = max_concurrency
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._use_n = use_n
        self._sleep = sleep or asyncio.sleep
        self._backoff_s = retry_backoff_s
        self._server_ignores_n = False
        self._retries = RetryCounter()
        self._shared_client = self._make_client(http_client) if http_client is not None else None
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def model_name(self) -> str:
        """The model's name, as sent to the server."""
        return self._model

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return self._base_url or _OPENAI_BASE_URL

    @property
    def retries(self) -> RetryCounter:
        """Retries spent by this provider so far, in total and by reason (`reset()` clears).

        Example:
            ```python
            provider.retries.total, provider.retries.by_reason  # 2, {"http_429": 2}
            ```
        """
        return self._retries

    def __repr__(self) -> str:
        return (
            f"OpenAIProvider(model={self._model!r}, base_url={self.base_url!r}, "
            f"max_concurrency={self._max_concurrency}, use_n={self._use_n})"
        )

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> Generation:
        """Sample `n` completions of `messages`.

        Args:
            messages: The chat so far, in the OpenAI shape.
            n: How many completions to return.
            max_tokens: Most completion tokens per completion.
            temperature: Sampling temperature.
            stop: Strings that end a completion. Defaults to none.
            seed: Seed of the first request; further one-sample requests use `seed + 1`,
                `seed + 2`, .... Defaults to the server's randomness.
            logprobs: Return each sampled token's log-probability.
            top_logprobs: Alternatives per token to return with `logprobs` (0 to 20).

        Returns:
            Exactly `n` completions, each with the seed of the request that made it, and
            the usage of every successful request.

        Raises:
            ConfigurationError: `n`, `max_tokens` or `top_logprobs` is out of range.
            ProviderUnavailableError: The server is unreachable or still failing after
                `max_attempts` tries.
            ProviderResponseError: The server refused the request (a 4xx), or its answers
                were still malformed after `max_attempts` tries.
        """
        check_sampling(n, max_tokens, top_logprobs, max_top_logprobs=20)
        request = _Request(messages, max_tokens, temperature, stop, logprobs, top_logprobs)
        if n == 1 or not self._use_n or self._server_ignores_n:
            return await self._fan_out(request, n, seed, 0)
        first = await self._send(request, n, seed)
        missing = n - len(first.completions)
        if missing <= 0:
            return first
        self._server_ignores_n = True  # Ollama and llama.cpp return one choice whatever `n` is
        rest = await self._fan_out(request, missing, seed, len(first.completions))
        return Generation(
            completions=[*first.completions, *rest.completions],
            usage=add_usage(first.usage, rest.usage),
        )

    async def aclose(self) -> None:
        """Close the SDK client this provider made for the running event loop.

        A client passed as `http_client` is left open: its owner closes it.
        """
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None and state.owned:
            await state.client.close()

    async def _fan_out(
        self, request: _Request, count: int, seed: int | None, offset: int
    ) -> Generation:
        """Send `count` one-sample requests at once, seeded `seed + offset` onwards."""
        tasks = [
            asyncio.create_task(self._send(request, 1, None if seed is None else seed + offset + i))
            for i in range(count)
        ]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        usage = zero_usage()
        for part in parts:
            usage = add_usage(usage, part.usage)
        return Generation(completions=[c for p in parts for c in p.completions], usage=usage)

    async def _send(self, request: _Request, n: int, seed: int | None) -> Generation:
        """Make one chat completion request, with retries, and parse its answer."""
        state = self._state()
        attempts = 0
        retrying = async_retrying(
            max_attempts=self._max_attempts,
            backoff_s=self._backoff_s,
            sleep=self._sleep,
            on_retry=self._retries.record,
        )
        failure: Exception | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    async with state.semaphore:
                        response = await state.client.chat.completions.create(
                            model=self._model,
                            messages=cast(list[ChatCompletionMessageParam], list(request.messages)),
                            n=n if n > 1 else openai.omit,
                            max_tokens=request.max_tokens,
                            temperature=request.temperature,
                            stop=list(request.stop) if request.stop else openai.omit,
                            seed=seed if seed is not None else openai.omit,
                            logprobs=True if request.logprobs else openai.omit,
                            top_logprobs=request.top_logprobs
                            if request.logprobs and request.top_logprobs
                            else openai.omit,
                        )
                    generation = self._parse(response, request, n, seed)
        except (openai.OpenAIError, ValueError, MalformedResponseError) as exc:
            failure = exc  # ValueError: a body that is not JSON
        if failure is None:
            return generation
        # Raised outside `except`, so that an SDK error echoing the key is not chained at all.
        leaks = self._redact(str(failure)) != str(failure)
        raise self._translate(failure, attempts) from (None if leaks else failure)

    def _state(self) -> _LoopState:
        """Return the semaphore and client of the running loop, made on first use."""
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            for old in [old for old in self._states if old.is_closed()]:
                del self._states[old]
            owned = self._shared_client is None
            client = self._shared_client or self._make_client(None)
            state = _LoopState(asyncio.Semaphore(self._max_concurrency), client, owned)
            self._states[loop] = state
        return state

    def _make_client(
        self, http_client: httpx.AsyncClient | httpx2.AsyncClient | None
    ) -> openai.AsyncOpenAI:
        # The SDK accepts a legacy `httpx.AsyncClient` at runtime; its annotation lags.
        return openai.AsyncOpenAI(
            api_key=self._api_key.get_secret_value(),
            base_url=self._base_url,
            timeout=self._timeout_s,
            max_retries=0,
            http_client=cast("httpx2.AsyncClient | None", http_client),
        )

    def _translate(self, exc: Exception, attempts: int) -> Exception:
        """Turn an SDK error into this library's error, with the key scrubbed out."""
        where = f"{self.base_url} (model {self._model!r})"
        if isinstance(exc, MalformedResponseError):
            return ProviderResponseError(
                self._redact(
                    f"{where} {exc} after {attempts} attempt(s). Check that base_url points at "
                    "an OpenAI-compatible /v1 endpoint."
                )
            )
        if is_retryable(exc) and not isinstance(exc, json.JSONDecodeError):
            cause = f" ({exc.__cause__!r})" if exc.__cause__ is not None else ""
            return ProviderUnavailableError(
                self._redact(
                    f"{where} still failing after {attempts} attempt(s): "
                    f"{type(exc).__name__}: {exc}{cause}. Check that the server is up and "
                    "reachable, or raise max_attempts / timeout_s."
                )
            )
        if isinstance(exc, openai.APIStatusError):
            body = exc.body  # OpenAI and vLLM send {"message": ...}, Ollama a bare string
            detail = body if isinstance(body, str) else None
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                detail = body["message"]
            hint = {
                401: "Check the API key (OPENAI_API_KEY or api_key=...).",
                403: "Check that the API key may use this model.",
                404: f"Check the model name {self._model!r} and the base URL.",
            }.get(exc.status_code, "Check max_tokens, stop, seed and logprobs against the server.")
            return ProviderResponseError(
                self._redact(
                    f"{where} refused the request with HTTP {exc.status_code}: "
                    f"{detail or exc.message}. {hint}"
                )
            )
        return ProviderResponseError(
            self._redact(
                f"{where} answered with something unusable ({type(exc).__name__}: {exc}) "
                f"after {attempts} attempt(s). Check that base_url points at an "
                "OpenAI-compatible /v1 endpoint."
            )
        )

    def _parse(self, response: object, request: _Request, n: int, seed: int | None) -> Generation:
        """Check the response's shape and turn it into completions and usage.

        Raises:
            ValueError: Not a chat completion at all: a body that is not JSON by its content
                type (a web page) or JSON without a `choices` list (a wrong `base_url`). Final.
            MalformedResponseError: An empty `choices` list, or a choice without a message:
                a hiccup the next attempt may not repeat (retried).
        """
        if isinstance(response, str):  # the SDK hands back the text of a non-JSON content type
            raise ValueError(f"a body that is not JSON: {response[:80]!r}")
        choices = getattr(response, "choices", None)
        if not isinstance(response, ChatCompletion) or not isinstance(choices, list):
            raise ValueError(f"JSON without a 'choices' list: {str(response)[:80]!r}")
        if not choices:
            raise MalformedResponseError(
                "returned no choices for a chat completion request", reason="no_choices"
            )
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        per_choice: int | None = None
        if isinstance(prompt, int) and isinstance(completion, int):
            spent: TokenUsage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "llm_calls": 1,
            }
            per_choice = completion if len(choices) == 1 else None
        else:  # no usage reported: charge the most the request may have spent
            spent = {
                "prompt_tokens": 0,
                "completion_tokens": request.max_tokens * len(choices),
                "llm_calls": 1,
            }
        try:
            completions = [
                Completion(
                    text=choice.message.content or "",
                    finish_reason=getattr(choice, "finish_reason", None),
                    completion_tokens=per_choice,
                    logprobs=_parse_logprobs(getattr(choice, "logprobs", None)),
                    seed=seed,
                )
                for choice in choices[:n]  # a server may send more than asked; usage counts all
            ]
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"returned a malformed choice ({exc})", reason="malformed_choice"
            ) from exc
        return Generation(completions=completions, usage=spent)

    def _redact(self, text: str) -> str:
        """`text` with the API key starred out.

        A key of `_SHORT_KEY` characters or more is starred wherever it occurs; a
        shorter one (a placeholder such as `"test"`) only where it stands as a whole token,
        so that its letters inside other words survive.
        """
        key = self._api_key.get_secret_value()
        if key == _NO_KEY:
            return text
        if len(key) >= _SHORT_KEY:
            return text.replace(key, _STARS)
        return re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])", _STARS, text)


@dataclass(frozen=True)
class _Request:
    """The options shared by every HTTP request of one `generate` call."""

    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float
    stop: Sequence[str] | None
    logprobs: bool
    top_logprobs: int


def _parse_logprobs(raw: object) -> list[TokenLogprob] | None:
    """Read `choice.logprobs.content` into `TokenLogprob`s, or `None` when absent."""
    content = getattr(raw, "content", None)
    if content is None:
        return None
    return [
        TokenLogprob(
            token=item.token,
            logprob=item.logprob,
            top_logprobs={alt.token: alt.logprob for alt in item.top_logprobs or []},
        )
        for item in content
    ]
