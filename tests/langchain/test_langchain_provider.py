"""`LangChainProvider`: any LangChain chat model as a generator, sampled by seeded calls."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, SecretStr

from reasoning_graph import asolve
from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.base import ChatMessage, Generator
from reasoning_graph.providers.langchain_chat import SAMPLE_TAG, LangChainProvider

QUESTION: list[ChatMessage] = [
    {"role": "system", "content": "Be careful."},
    {"role": "user", "content": "What is 2 + 2?"},
]


class RateLimitError(Exception):
    """Named like the SDKs' rate-limit errors."""


class RecordingChatModel(BaseChatModel):
    """A chat model that records each call's keywords and tags, OpenAI-style (`n`, `seed`)."""

    model_name: str = "recorder-1"
    n: int = 1
    api_key: SecretStr = SecretStr("sk-secret-0123456789")
    usage: tuple[int, int] | None = (7, 3)
    rejects: set[str] = Field(default_factory=set)
    error: Exception | None = None
    delay_s: float = 0.0
    calls: list[dict[str, Any]] = Field(default_factory=list)
    tags_seen: list[list[str]] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        for name in self.rejects:
            if name in kwargs:
                raise TypeError(f"create() got an unexpected keyword argument '{name}'")
        if self.error is not None:
            raise self.error
        self.calls.append({**kwargs, "stop": stop})
        self.tags_seen.append(list(run_manager.tags if run_manager else []))
        self.prompts.append(messages)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        usage = None
        if self.usage is not None:
            usage = {
                "input_tokens": self.usage[0],
                "output_tokens": self.usage[1],
                "total_tokens": sum(self.usage),
            }
        message = AIMessage(
            content=[
                {"type": "reasoning", "reasoning": "hidden thoughts"},
                {"type": "text", "text": f"The answer is {kwargs.get('seed', 4)}."},
            ],
            usage_metadata=usage,
            response_metadata={"finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


async def test_samples_n_concurrent_calls_with_distinct_seeds() -> None:
    model = RecordingChatModel()
    provider = LangChainProvider(model)
    assert isinstance(provider, Generator)

    generation = await provider.generate(
        QUESTION, n=4, max_tokens=64, temperature=0.5, stop=["\n\n"], seed=10
    )

    assert [call["seed"] for call in model.calls] == [10, 11, 12, 13]
    assert all(call["max_tokens"] == 64 and call["temperature"] == 0.5 for call in model.calls)
    assert all(call["stop"] == ["\n\n"] for call in model.calls)
    assert all("n" not in call for call in model.calls)  # never asked for several choices
    assert [c.seed for c in generation.completions] == [10, 11, 12, 13]
    assert [c.text for c in generation.completions] == [
        f"The answer is {s}." for s in range(10, 14)
    ]
    assert all(
        c.finish_reason == "stop" and c.completion_tokens == 3 for c in generation.completions
    )
    # one call's usage, counted once per call
    assert generation.usage == {
        "prompt_tokens": 28,
        "completion_tokens": 12,
        "llm_calls": 4,
        "requests": 4,
    }
    assert [type(m).__name__ for m in model.prompts[0]] == ["SystemMessage", "HumanMessage"]


async def test_max_concurrency_bounds_calls_in_flight() -> None:
    model = RecordingChatModel(delay_s=0.01)
    generation = await LangChainProvider(model, max_concurrency=2).generate(QUESTION, n=5, seed=0)
    assert len(generation.completions) == 5
    assert model.most_in_flight == 2


async def test_missing_usage_is_charged_max_tokens() -> None:
    model = RecordingChatModel(usage=None)
    generation = await LangChainProvider(model).generate(QUESTION, n=3, max_tokens=50)
    assert generation.usage == {
        "prompt_tokens": 0,
        "completion_tokens": 150,
        "llm_calls": 3,
        "requests": 3,
    }
    assert all(c.completion_tokens is None for c in generation.completions)


async def test_sampling_calls_are_tagged_nostream() -> None:
    model = RecordingChatModel()
    await LangChainProvider(model).generate(QUESTION, n=2)
    assert all({"nostream", SAMPLE_TAG} <= set(tags) for tags in model.tags_seen)


async def test_model_configured_with_n_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="n=3"):
        LangChainProvider(RecordingChatModel(n=3))


async def test_rejected_seed_falls_back_to_unseeded_calls() -> None:
    model = RecordingChatModel(rejects={"seed"})
    provider = LangChainProvider(model)

    generation = await provider.generate(QUESTION, n=3, seed=5)

    assert provider.rejected_params == {"seed"}
    assert len(model.calls) == 3 and all("seed" not in call for call in model.calls)
    assert [c.seed for c in generation.completions] == [None, None, None]
    assert generation.usage["llm_calls"] == 3


async def test_seed_param_none_sends_no_seed() -> None:
    model = RecordingChatModel()
    await LangChainProvider(model, seed_param=None).generate(QUESTION, n=2, seed=5)
    assert all("seed" not in call for call in model.calls)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimitError("429 slow down"), ProviderUnavailableError),
        (TimeoutError("timed out"), ProviderUnavailableError),
        (ValueError("bad request for key sk-secret-0123456789"), ProviderResponseError),
    ],
)
async def test_model_errors_become_provider_errors(error: Exception, expected: type) -> None:
    """Plant: `raise self._provider_error(error) from None` inside the `except` -> the model's
    error, key and all, stays on `__context__` and in the traceback; or chain it always ->
    `__cause__` shows the key. A clean error is kept as `__cause__` for debugging."""
    provider = LangChainProvider(RecordingChatModel(error=error))
    with pytest.raises(expected) as caught:
        await provider.generate(QUESTION, n=2)
    message = str(caught.value)
    assert "recorder-1" in message and type(error).__name__ in message
    assert "sk-secret-0123456789" not in "".join(traceback.format_exception(caught.value))
    chained: BaseException | None = caught.value
    while chained is not None:
        assert "sk-secret-0123456789" not in str(chained) + repr(chained)
        chained = chained.__cause__ or chained.__context__
    leaks = "sk-secret" in str(error)
    assert caught.value.__cause__ is (None if leaks else error)
    assert caught.value.__context__ is None  # raised outside `except`: nothing implicit


def test_model_name_comes_from_the_model() -> None:
    assert LangChainProvider(RecordingChatModel()).model_name == "recorder-1"
    fake = FakeListChatModel(responses=["x"])
    assert LangChainProvider(fake).model_name == "FakeListChatModel"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="BaseChatModel"):
        LangChainProvider("gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        LangChainProvider(RecordingChatModel(), max_concurrency=0)


async def test_solves_end_to_end_with_a_fake_chat_model() -> None:
    fake = FakeListChatModel(responses=["The answer is 4.", "The answer is 5.", "The answer is 4."])
    result = await asolve("What is 2 + 2?", generator=LangChainProvider(fake), n=3, max_tokens=20)
    assert result.answer == "4"
    assert [c.answer for c in result.candidates] == ["4", "5", "4"]
    # FakeListChatModel reports no usage: each call is charged max_tokens
    assert result.usage.completion_tokens == 60
    assert result.usage.llm_calls == 3


async def test_usage_summed_once_per_call_end_to_end() -> None:
    model = RecordingChatModel()
    result = await asolve(
        "What is 2 + 2?", generator=LangChainProvider(model), n=4, share_prompt=False
    )
    assert len(model.calls) == 4
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (28, 12)
    assert result.usage.llm_calls == 4
    assert sorted(call["seed"] for call in model.calls) == [0, 1, 2, 3]
