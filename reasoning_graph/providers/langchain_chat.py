"""`LangChainProvider`: any LangChain `BaseChatModel` as a `Generator` (and so as an LLM judge).

Samples are concurrent one-message `ainvoke` calls, each with its own seed, never one call
with the model's `n`: `ChatOpenAI(n=k).invoke()` returns one choice and repeats the whole
request's usage on every generation, so neither its choices nor its usage can be trusted.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.constants import TAG_NOSTREAM
from pydantic import SecretStr

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, check_sampling
from reasoning_graph.providers.redaction import Redactor, hide_in_transport_logs
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage

__all__ = ["SAMPLE_TAG", "LangChainProvider"]

SAMPLE_TAG = "reasoning_graph:sample"
"""Tag on every sampling call, next to LangGraph's `nostream` tag (`TAG_NOSTREAM`), which keeps
the many interleaved token streams of the samples out of `stream_mode="messages"`."""

# A server error that quotes a keyword we sent next to one of these rejected that keyword.
_REJECTION_WORDS = ("unsupported", "not supported", "unrecognized", "unknown", "not permitted")
_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
# Exception class names (of any SDK) that mean "try again later", not "fix the request".
_UNAVAILABLE_NAMES = (
    "RateLimitError",
    "APIConnectionError",
    "APITimeoutError",
    "InternalServerError",
    "ServiceUnavailableError",
    "OverloadedError",
    "Timeout",
)


class LangChainProvider:
    """Sample chat completions from any LangChain chat model.

    Each of the `n` samples is one `ainvoke` call, at most `max_concurrency` in flight, the
    `i`-th bound to `seed + i` through the keyword `seed_param`. `max_tokens`, `temperature`
    and `stop` are bound the same way; a model that ignores a keyword keeps its own setting.
    When a call fails with an error that names one of these keywords (a `TypeError` about an
    unexpected argument, or a server that rejects the parameter), the keyword is dropped for
    this and every later call and the sample is retried once without it; so a model without
    seeds still samples, just without reproducible seeds.

    Usage is taken once from each call's `AIMessage.usage_metadata` (`input_tokens` ->
    `prompt_tokens`, `output_tokens` -> `completion_tokens`). A call whose message carries no
    usage is charged the upper bound, `max_tokens` completion tokens and no prompt tokens, so
    token budgets still hold. A model configured with `n > 1` is refused: its extra choices
    would be paid for and thrown away.

    Retries are the chat model's own (its `max_retries`); an error that still comes out becomes
    `ProviderUnavailableError` (rate limits, timeouts, connection and server errors) or
    `ProviderResponseError` (anything else), with the model's message and any `SecretStr`
    field of the model starred out; the model's error is chained as `__cause__` only when
    nothing in it shows such a secret (and never left on `__context__`). Log-probabilities
    are not read (`logprobs` is ignored and completions carry none), so an `LLMJudge` over
    this provider parses the verdict's text.

    Sampling calls are tagged `nostream` and `reasoning_graph:sample`, so LangGraph's
    `stream_mode="messages"` does not show their tokens.

    Example:
        ```python
        from langchain_openai import ChatOpenAI
        from reasoning_graph import asolve
        from reasoning_graph.providers.langchain_chat import LangChainProvider

        generator = LangChainProvider(ChatOpenAI(model="gpt-4o-mini"))
        result = await asolve("What is 17 + 25?", generator=generator, n=8)
        ```
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_concurrency: int = 8,
        seed_param: str | None = "seed",
    ) -> None:
        """Wrap `model`; nothing is called until `generate`.

        Args:
            model: The chat model to sample from, with `n` left at 1 where it has one.
            max_concurrency: Most calls in flight at once (per event loop).
            seed_param: The call keyword that carries the seed (`"seed"` for OpenAI-style
                models). `None` sends no seed.

        Raises:
            ConfigurationError: `model` is not a chat model, is configured with `n > 1`, or
                `max_concurrency` is below 1.
        """
        if not isinstance(model, BaseChatModel):
            raise ConfigurationError(
                f"model must be a LangChain BaseChatModel, not {type(model).__name__}"
            )
        n = getattr(model, "n", None)
        if isinstance(n, int) and n > 1:
            raise ConfigurationError(
                f"{type(model).__name__} is configured with n={n}; invoke() returns one "
                "choice and repeats the request's usage on each, so construct it with n=1: "
                "LangChainProvider samples with concurrent seeded calls instead"
            )
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency={max_concurrency!r} must be >= 1")
        self._model = model
        self._redact = Redactor(
            v.get_secret_value() for v in vars(model).values() if isinstance(v, SecretStr)
        )
        hide_in_transport_logs(self._redact)  # an SDK under the model may log echoed headers
        self._max_concurrency = max_concurrency
        self._seed_param = seed_param
        self._rejected: set[str] = set()
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    @property
    def model(self) -> BaseChatModel:
        """The wrapped chat model."""
        return self._model

    @property
    def model_name(self) -> str:
        """The model's name as LangChain traces it, else its class name."""
        return chat_model_name(self._model)

    @property
    def rejected_params(self) -> frozenset[str]:
        """Call keywords the model rejected and that are no longer sent (e.g. `{"seed"}`)."""
        return frozenset(self._rejected)

    def __repr__(self) -> str:
        return (
            f"LangChainProvider(model={self.model_name!r}, "
            f"max_concurrency={self._max_concurrency}, seed_param={self._seed_param!r})"
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
        """Sample `n` completions of `messages` with `n` concurrent calls.

        Args:
            messages: The chat so far, in the OpenAI shape.
            n: How many completions to return.
            max_tokens: Most completion tokens per completion (bound as `max_tokens`).
            temperature: Sampling temperature.
            stop: Strings that end a completion. Defaults to none.
            seed: Seed of the first call; the others use `seed + 1`, `seed + 2`, ....
                Defaults to no seed.
            logprobs: Ignored; completions carry no log-probabilities.
            top_logprobs: Ignored.

        Returns:
            Exactly `n` completions, each with the seed it was sampled with (`None` when no
            seed was sent), and the usage of every call, counted once per call.

        Raises:
            ConfigurationError: `n` or `max_tokens` is below 1.
            ProviderUnavailableError: The model is rate limited, timed out or unreachable.
            ProviderResponseError: The model failed in any other way.
        """
        check_sampling(n, max_tokens)
        prompt = to_langchain_messages(messages)
        options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if stop:
            options["stop"] = list(stop)
        tasks = [
            asyncio.create_task(
                self._sample(prompt, options, None if seed is None else seed + i, max_tokens)
            )
            for i in range(n)
        ]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()  # one failed: the rest are not worth paying for
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        usage = zero_usage()
        for _, spent in results:
            usage = add_usage(usage, spent)
        return Generation(completions=[c for c, _ in results], usage=usage)

    async def _sample(
        self,
        prompt: list[BaseMessage],
        options: Mapping[str, Any],
        seed: int | None,
        max_tokens: int,
    ) -> tuple[Completion, TokenUsage]:
        """One call, retried without any keyword the model rejects."""
        async with self._semaphore():
            while True:
                kwargs = {k: v for k, v in options.items() if k not in self._rejected}
                seeded = seed is not None and self._seed_param not in (None, *self._rejected)
                if seeded and self._seed_param is not None:
                    kwargs[self._seed_param] = seed
                config: RunnableConfig = {
                    "tags": [TAG_NOSTREAM, SAMPLE_TAG],
                    "run_name": "reasoning_graph_sample",
                }
                try:
                    message = await self._model.bind(**kwargs).ainvoke(prompt, config)
                except ProviderError:
                    raise
                except Exception as error:
                    rejected = _rejected_param(error, kwargs)
                    if rejected is not None:
                        self._rejected.add(rejected)
                        continue
                    failure = error
                else:
                    return _completion(message, seed if seeded else None, max_tokens)
                # Raised outside `except`: `raise ... from None` there would hide the model's
                # error but keep it on `__context__`, key and all.
                cause = None if self._redact.shows_secret(failure) else failure
                raise self._provider_error(failure) from cause

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self._max_concurrency)
        return semaphore

    def _provider_error(self, error: Exception) -> ProviderError:
        """`error` as a `ProviderError`, its message kept and the model's secrets starred."""
        name = type(error).__name__
        text = self._redact(f"{self.model_name} failed ({name}: {error})")
        if isinstance(error, TimeoutError | ConnectionError) or name in _UNAVAILABLE_NAMES:
            return ProviderUnavailableError(
                f"{text}; the model's own retries are spent, try again later"
            )
        return ProviderResponseError(text)


def chat_model_name(model: BaseChatModel) -> str:
    """The name LangChain traces `model` under, else its `model_name` or `model`, else its class."""
    try:
        traced = model._get_ls_params().get("ls_model_name")
    except Exception:  # a third-party override may need arguments or state it lacks
        traced = None
    if isinstance(traced, str) and traced:
        return traced
    for attribute in ("model_name", "model"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def to_langchain_messages(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    """OpenAI-shaped messages as LangChain messages."""
    converted: list[BaseMessage] = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            converted.append(SystemMessage(content))
        elif role == "assistant":
            converted.append(AIMessage(content))
        else:
            converted.append(HumanMessage(content))
    return converted


def _completion(
    message: object, seed: int | None, max_tokens: int
) -> tuple[Completion, TokenUsage]:
    """A completion and its usage from one call's message."""
    if not isinstance(message, AIMessage | AIMessageChunk):
        raise ProviderResponseError(
            f"the chat model returned {type(message).__name__}, not an AIMessage"
        )
    metadata = message.response_metadata or {}
    finish = next((metadata[k] for k in _FINISH_KEYS if metadata.get(k) is not None), None)
    usage = message.usage_metadata
    if usage is not None:
        spent: TokenUsage = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "llm_calls": 1,
            "requests": 1,
        }
        completion_tokens: int | None = usage["output_tokens"]
    else:  # no usage reported: charge the most the call may have spent
        spent = {
            "prompt_tokens": 0,
            "completion_tokens": max_tokens,
            "llm_calls": 1,
            "requests": 1,
        }
        completion_tokens = None
    completion = Completion(
        text=message.text,
        finish_reason=None if finish is None else str(finish),
        completion_tokens=completion_tokens,
        seed=seed,
    )
    return completion, spent


def _rejected_param(error: Exception, sent: Mapping[str, Any]) -> str | None:
    """The sent keyword that `error` says the model does not accept, if it names one."""
    text = str(error)
    if isinstance(error, TypeError) and "unexpected keyword argument" in text:
        return next((k for k in sent if f"'{k}'" in text), None)
    if any(word in text.lower() for word in _REJECTION_WORDS):
        return next((k for k in sent if f"'{k}'" in text or f'"{k}"' in text), None)
    return None
