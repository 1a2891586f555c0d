"""`OpenAIProvider`: a `Generator` on the official `openai` SDK, for any OpenAI-compatible server.

One request with `n` where the server honours it, concurrent seeded requests where it does not
(Ollama, llama.cpp), and streamed requests that can be cut short for online trace termination
(`openai_stream.py`). Clients, retries, the concurrency limit, error translation and key
redaction are the shared HTTP layer's (`reasoning_graph.providers.http`).

(Just over 350 lines: most of it is the three request paths' docstrings; the parsing of
replies and streams already lives in `openai_response.py` and `openai_stream.py`.)
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import SecretStr

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.online_stop import TraceMonitor
from reasoning_graph.providers.base import ChatMessage, Generation, check_sampling
from reasoning_graph.providers.http import ErrorHints, HttpLayer, HttpLimits
from reasoning_graph.providers.openai_response import read_chat_completion
from reasoning_graph.providers.openai_stream import read_chat_stream
from reasoning_graph.providers.progress import completion_ready
from reasoning_graph.providers.retry import RetryCounter
from reasoning_graph.state import OnlineStopSettings
from reasoning_graph.usage import add_usage, zero_usage

if TYPE_CHECKING:
    import httpx
    import httpx2

__all__ = ["OpenAIProvider"]

_OPENAI_BASE_URL = "https://api.openai.com/v1"
_NO_KEY = "EMPTY"  # what vLLM's docs pass to a local server that checks no key
# Request fields the provider sets itself: `extra_body` may not set them.
_OWN_FIELDS = (
    "model",
    "messages",
    "n",
    "max_tokens",
    "temperature",
    "stop",
    "seed",
    "logprobs",
    "top_logprobs",
    "stream",
    "stream_options",
)


class OpenAIProvider:
    """Sample chat completions from OpenAI or any OpenAI-compatible server (vLLM, SGLang, Ollama).

    Usage is exact: it is summed from every successful response's `usage`; `llm_calls` counts
    the completions returned (one request with `n=8` is 8 calls) and `requests` the successful
    HTTP requests (failed attempts are not charged). A server that omits
    `usage` is charged the upper bound, `max_tokens` completion tokens per choice and no
    prompt tokens, so token budgets still hold.

    The SDK's own retries are off; the shared HTTP layer (`reasoning_graph.providers.http`)
    retries 408, 429, 5xx, timeouts and connection errors up to `max_attempts` times, waiting
    as long as the `Retry-After` (or `retry-after-ms`) header asks, capped at 60 s, or else an
    exponential backoff with jitter (see `reasoning_graph.providers.retry`). A 200 response
    that cannot be used is retried too, as a proxy or server hiccup: a JSON body cut short or
    garbled, an empty `choices` list, a choice without a message; a body that is not a chat
    completion at all (a web page, JSON without `choices`: a wrong `base_url`) is final. A
    completion cut by `max_tokens` (`finish_reason="length"`) is a normal answer, returned
    with its finish reason, never retried. `retries` counts the retries spent, by reason. The
    API key is starred out of every error message, and never in `repr`.

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
        extra_body: Mapping[str, Any] | None = None,
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
            extra_body: More JSON fields for every request, for a server's own sampling
                options: `{"repeat_penalty": 1.0}` for llama.cpp's server (whose default
                1.1 differs from the embedded provider's 1.0), `{"top_k": 20, "min_p":
                0.05}` for vLLM or SGLang. It may not set a field the provider sets itself
                (`n`, `seed`, `max_tokens`, ...: pass those to `generate`). A cache
                (`CachingGenerator`) does not see these fields: record one cache per set.

        Raises:
            ConfigurationError: An option is out of range, `extra_body` sets a field the
                provider sets or is not JSON, or no API key is set for OpenAI.
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
        self._extra_body = _checked_extra_body(extra_body)
        self._model = model
        self._base_url = base_url
        self._use_n = use_n
        self._server_ignores_n = False
        key = secret.get_secret_value()

        def make_client(
            http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        ) -> openai.AsyncOpenAI:
            # The SDK accepts a legacy `httpx.AsyncClient` at runtime; its annotation lags.
            return openai.AsyncOpenAI(
                api_key=key,
                base_url=base_url,
                timeout=timeout_s,
                max_retries=0,
                http_client=cast("httpx2.AsyncClient | None", http_client),
            )

        self._http = HttpLayer(
            make_client=make_client,
            close_client=openai.AsyncOpenAI.close,
            shared_client=make_client(http_client) if http_client is not None else None,
            api_key=SecretStr("" if key == _NO_KEY else key),
            hints=ErrorHints(
                unusable="Check that base_url points at an OpenAI-compatible /v1 endpoint.",
                refused="Check max_tokens, stop, seed and logprobs against the server.",
                by_status={
                    401: "Check the API key (OPENAI_API_KEY or api_key=...).",
                    403: "Check that the API key may use this model.",
                    404: f"Check the model name {model!r} and the base URL.",
                },
            ),
            limits=HttpLimits(max_concurrency, max_attempts, timeout_s, retry_backoff_s),
            sleep=sleep,
        )

    @property
    def model_name(self) -> str:
        """The model's name, as sent to the server."""
        return self._model

    @property
    def stops_online(self) -> bool:
        """True: `generate(online_stop=...)` streams samples, closing those that falter."""
        return True

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
        return self._http.retries

    def __repr__(self) -> str:
        extra = f", extra_body={self._extra_body!r}" if self._extra_body else ""
        return self._http.redact(
            f"OpenAIProvider(model={self._model!r}, base_url={self.base_url!r}, "
            f"max_concurrency={self._http.limits.max_concurrency}, use_n={self._use_n}{extra})"
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
        online_stop: OnlineStopSettings | None = None,
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
            online_stop: Stop each completion whose group confidence falls below the
                threshold (DeepConf online): each sample is then a streamed request, closed
                when it falls (`openai_stream` counts its tokens). Defaults to none.

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
        top = top_logprobs if logprobs or online_stop is None else online_stop["top_k"]
        request = _Request(messages, max_tokens, temperature, stop, logprobs, top, online_stop)
        # One request per sample: a single sample, a server that ignores `n`, or online stop
        # (one stream per sample, so each can be closed alone).
        if n == 1 or not self._use_n or self._server_ignores_n or online_stop is not None:
            return await self._fan_out(request, n, seed, 0)
        first = await self._send(request, n, seed)
        for index, completion in enumerate(first.completions[:n]):
            completion_ready(index, completion)
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
        await self._http.aclose()

    async def _fan_out(
        self, request: _Request, count: int, seed: int | None, offset: int
    ) -> Generation:
        """Send `count` one-sample requests at once, seeded `seed + offset` onwards; report
        each completion as its request ends (`providers.progress`)."""

        async def one(index: int) -> Generation:
            part = await self._send(request, 1, None if seed is None else seed + index)
            for completion in part.completions:
                completion_ready(index, completion)
            return part

        tasks = [asyncio.create_task(one(offset + i)) for i in range(count)]
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

        if request.online_stop is not None:
            return await self._send_stream(request, request.online_stop, seed)

        async def call(client: openai.AsyncOpenAI) -> Generation:
            response = await client.chat.completions.create(
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
                extra_body=self._extra_body,
            )
            return read_chat_completion(response, max_tokens=request.max_tokens, n=n, seed=seed)

        return await self._http.send(call, where=f"{self.base_url} (model {self._model!r})")

    async def _send_stream(
        self, request: _Request, online_stop: OnlineStopSettings, seed: int | None
    ) -> Generation:
        """Make one streamed one-sample request, with retries, cut when its confidence falls."""

        async def call(client: openai.AsyncOpenAI) -> Generation:
            stream = await client.chat.completions.create(
                model=self._model,
                messages=cast(list[ChatCompletionMessageParam], list(request.messages)),
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=list(request.stop) if request.stop else openai.omit,
                seed=seed if seed is not None else openai.omit,
                logprobs=True,
                top_logprobs=request.top_logprobs or openai.omit,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=self._extra_body,
            )
            return await read_chat_stream(
                stream,
                monitor=TraceMonitor(online_stop),
                max_tokens=request.max_tokens,
                seed=seed,
                logprobs=request.logprobs,
            )

        return await self._http.send(call, where=f"{self.base_url} (model {self._model!r})")


@dataclass(frozen=True)
class _Request:
    """The options shared by every HTTP request of one `generate` call."""

    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float
    stop: Sequence[str] | None
    logprobs: bool
    top_logprobs: int
    online_stop: OnlineStopSettings | None = None


def _checked_extra_body(extra_body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`extra_body` as a dict, or `None` when empty; refuses what would clash or not send."""
    if not extra_body:
        return None
    clashing = [key for key in extra_body if key in _OWN_FIELDS]
    if clashing:
        raise ConfigurationError(
            f"extra_body sets {', '.join(map(repr, clashing))}, which the provider sets itself; "
            "pass n, seed, max_tokens, temperature, stop and logprobs to generate() instead."
        )
    try:
        json.dumps(extra_body)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"extra_body is not JSON: {error}") from None
    return dict(extra_body)
