"""Tests of `VLLMProvider` against a fake `vllm` module (vLLM itself needs a GPU)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.providers.base import ChatMessage, Generator
from reasoning_graph.providers.vllm_local import VLLMProvider, parse_request_output

QUESTION: list[ChatMessage] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 + 2?"},
]


# --- a fake of the parts of vLLM the provider touches -------------------------------------
@dataclass
class Logprob:
    """Same fields as `vllm.logprobs.Logprob`."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


class SamplingParams:
    """Records its keyword arguments, like `vllm.SamplingParams` stores them."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        for name, value in kwargs.items():
            setattr(self, name, value)


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None = None
    logprobs: list[dict[int, Logprob]] | None = None
    finish_reason: str | None = "stop"


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    request_id: str = "0"
    prompt: str | None = None


VOCAB = {1: "The", 2: " answer", 3: " is", 4: " 4", 5: ".", 6: " four", 7: "<|im_end|>"}


def sample(
    index: int, ids: list[int], *, top: int | None, finish: str = "stop"
) -> CompletionOutput:
    """A completion of the given token ids; with `top`, vLLM-shaped logprobs per position."""
    logprobs = None
    if top is not None:
        logprobs = []
        for token_id in ids:
            # the sampled token (rank 2 here) and the `top` best, as vLLM returns them
            position = {token_id: Logprob(-0.5, 2, VOCAB[token_id])}
            for rank, alt_id in enumerate([6, 4, 5][:top], start=1):
                position.setdefault(alt_id, Logprob(-0.1 * rank, rank, VOCAB[alt_id]))
            logprobs.append(position)
    text = "".join(VOCAB[i] for i in ids if i != 7)
    return CompletionOutput(index, text, ids, logprobs=logprobs, finish_reason=finish)


@dataclass
class FakeLLM:
    """A `vllm.LLM` whose `chat` answers from `script` and checks it is never re-entered."""

    model: str = "fake/model"
    options: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0
    short_by: int = 0
    reject: str | None = None  # a conversation content that makes vLLM raise ValueError
    batches: list[list[Any]] = field(default_factory=list)
    conversations: list[Any] = field(default_factory=list)
    kwargs: list[dict[str, Any]] = field(default_factory=list)
    before_first: Any = None
    _active: int = 0
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def chat(self, messages: Any, sampling_params: Any = None, **kwargs: Any) -> list[Any]:
        with self._guard:
            self._active += 1
            assert self._active == 1, "LLM.chat was entered by two threads at once"
        try:
            if self.before_first is not None and not self.batches:
                self.before_first()
            time.sleep(self.delay_s)
            self.batches.append(list(sampling_params))
            self.conversations.append(messages)
            self.kwargs.append(kwargs)
            if self.reject is not None and any(
                m["content"] == self.reject for conversation in messages for m in conversation
            ):
                raise ValueError("The decoder prompt (length 9000) is longer than max_model_len")
            return [self._answer(params) for params in sampling_params]
        finally:
            with self._guard:
                self._active -= 1

    def _answer(self, params: Any) -> RequestOutput:
        top = params.logprobs
        outputs = [
            sample(0, [1, 2, 3, 4, 5, 7], top=top),
            sample(1, [1, 2, 3, 6, 5], top=top, finish="length"),
            sample(2, [4, 7], top=top),
        ]
        outputs = (outputs * params.n)[: params.n - self.short_by]
        outputs = [
            CompletionOutput(i, o.text, o.token_ids, None, o.logprobs, o.finish_reason)
            for i, o in enumerate(outputs)
        ]
        return RequestOutput(prompt_token_ids=list(range(11)), outputs=outputs[::-1])


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    built: list[FakeLLM] = []

    def llm_class(model: str, **options: Any) -> FakeLLM:
        if model == "missing/model":
            raise OSError("Repository Not Found")
        if options.get("max_model_len") == 10**9:
            raise ValueError("max_model_len is larger than the model's")
        engine = FakeLLM(model=model, options=options)
        built.append(engine)
        return engine

    module.LLM = llm_class  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    module.built = built  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


# --- construction ----------------------------------------------------------------------------
def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ModelNotFoundError, match=r"pip install 'reasoning-graph\[vllm\]'"):
        VLLMProvider("Qwen/Qwen2.5-1.5B-Instruct")


def test_builds_the_engine_with_prefix_caching_and_passes_options(
    fake_vllm: types.ModuleType,
) -> None:
    provider = VLLMProvider(
        "Qwen/Qwen2.5-1.5B-Instruct", max_model_len=4096, tensor_parallel_size=2
    )
    (engine,) = fake_vllm.built
    assert engine.model == "Qwen/Qwen2.5-1.5B-Instruct"
    assert engine.options == {
        "gpu_memory_utilization": 0.85,
        "max_model_len": 4096,
        "enable_prefix_caching": True,
        "dtype": "auto",
        "tensor_parallel_size": 2,
    }
    assert provider.llm is engine
    assert provider.model_name == "Qwen/Qwen2.5-1.5B-Instruct"
    assert isinstance(provider, Generator)
    assert "Qwen2.5-1.5B" in repr(provider)


def test_an_injected_engine_is_used_and_named(fake_vllm: types.ModuleType) -> None:
    engine = FakeLLM()
    engine.llm_engine = types.SimpleNamespace(  # type: ignore[attr-defined]
        model_config=types.SimpleNamespace(model="org/shared-model")
    )
    provider = VLLMProvider(llm=engine)
    assert provider.llm is engine and fake_vllm.built == []
    assert provider.model_name == "org/shared-model"
    assert VLLMProvider("alias", llm=engine).model_name == "alias"
    assert VLLMProvider(llm=FakeLLM()).model_name == "vllm"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ConfigurationError, "needs a model"),
        ({"model": "m", "gpu_memory_utilization": 0.0}, ConfigurationError, "gpu_memory"),
        ({"model": "m", "gpu_memory_utilization": 1.5}, ConfigurationError, "gpu_memory"),
        ({"model": "m", "max_model_len": 0}, ConfigurationError, "max_model_len"),
        ({"model": "m", "max_model_len": 10**9}, ConfigurationError, "engine options"),
        ({"model": "missing/model"}, ModelNotFoundError, "missing/model"),
    ],
)
def test_bad_construction(
    fake_vllm: types.ModuleType, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        VLLMProvider(**kwargs)


# --- requests ----------------------------------------------------------------------------------
async def test_request_building(fake_vllm: types.ModuleType) -> None:
    provider = VLLMProvider("m")
    engine: FakeLLM = fake_vllm.built[0]
    await provider.generate(
        QUESTION,
        n=3,
        max_tokens=7,
        temperature=0.5,
        stop=["\n\n"],
        seed=11,
        logprobs=True,
        top_logprobs=2,
    )
    await provider.generate(QUESTION)
    first, default = (batch[0].kwargs for batch in engine.batches)
    assert first == {
        "n": 3,
        "max_tokens": 7,
        "temperature": 0.5,
        "stop": ["\n\n"],
        "seed": 11,
        "logprobs": 2,
    }
    assert default == {
        "n": 1,
        "max_tokens": 512,
        "temperature": 0.7,
        "stop": None,
        "seed": None,
        "logprobs": None,
    }
    assert engine.conversations[0] == [[dict(m) for m in QUESTION]]
    assert engine.kwargs[0] == {"use_tqdm": False}


async def test_logprobs_without_alternatives_asks_for_zero(fake_vllm: types.ModuleType) -> None:
    provider = VLLMProvider("m")
    generation = await provider.generate(QUESTION, logprobs=True)
    assert fake_vllm.built[0].batches[0][0].kwargs["logprobs"] == 0
    logprobs = generation.completions[0].logprobs
    assert logprobs is not None and [t.token for t in logprobs][:2] == ["The", " answer"]
    assert all(t.top_logprobs == {} for t in logprobs)


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"max_tokens": 0}, {"top_logprobs": 21}, {"top_logprobs": -1}]
)
async def test_bad_arguments(fake_vllm: types.ModuleType, kwargs: dict[str, Any]) -> None:
    provider = VLLMProvider("m")
    with pytest.raises(ConfigurationError):
        await provider.generate(QUESTION, **kwargs)
    assert fake_vllm.built[0].batches == []


# --- results ---------------------------------------------------------------------------------
async def test_texts_usage_finish_reasons_and_seeds(fake_vllm: types.ModuleType) -> None:
    generation = await VLLMProvider("m").generate(QUESTION, n=3, seed=5)
    assert [c.text for c in generation.completions] == [
        "The answer is 4.",
        "The answer is four.",
        " 4",
    ]
    assert [c.finish_reason for c in generation.completions] == ["stop", "length", "stop"]
    assert [c.completion_tokens for c in generation.completions] == [6, 5, 2]
    assert [c.seed for c in generation.completions] == [5, 5, 5]
    assert all(c.logprobs is None for c in generation.completions)
    # the prompt is counted once for the n samples that share it
    assert generation.usage == {
        "prompt_tokens": 11,
        "completion_tokens": 13,
        "llm_calls": 3,
        "requests": 1,
    }


async def test_logprobs_are_parsed_with_the_best_alternatives_first(
    fake_vllm: types.ModuleType,
) -> None:
    generation = await VLLMProvider("m").generate(QUESTION, logprobs=True, top_logprobs=2)
    logprobs = generation.completions[0].logprobs
    assert logprobs is not None and len(logprobs) == 6
    first = logprobs[0]
    assert (first.token, first.logprob) == ("The", -0.5)
    assert first.top_logprobs == {" four": pytest.approx(-0.1), " 4": pytest.approx(-0.2)}
    assert list(first.top_logprobs) == [" four", " 4"]
    # where the sampled token is itself among the best, it is listed once
    assert logprobs[3].token == " 4" and list(logprobs[3].top_logprobs) == [" four", " 4"]


def test_parse_rejects_logprobs_without_the_sampled_token() -> None:
    output = RequestOutput([1], [CompletionOutput(0, "x", [4], logprobs=[{6: Logprob(-0.1)}])])
    with pytest.raises(ProviderResponseError, match="sampled token 4"):
        parse_request_output(output, n=1, seed=None)
    unnamed = RequestOutput([1], [CompletionOutput(0, "x", [4], logprobs=[{4: Logprob(-0.1)}])])
    parsed = parse_request_output(unnamed, n=1, seed=None).completions[0].logprobs
    assert parsed is not None and parsed[0].token == "<token 4>"


async def test_exactly_n_completions_or_an_error(fake_vllm: types.ModuleType) -> None:
    provider = VLLMProvider("m")
    fake_vllm.built[0].short_by = 1
    with pytest.raises(ProviderResponseError, match="2 samples, expected n=3"):
        await provider.generate(QUESTION, n=3)


# --- the engine lock and batching -------------------------------------------------------------
async def test_concurrent_calls_never_enter_the_engine_together_and_are_batched(
    fake_vllm: types.ModuleType,
) -> None:
    provider = VLLMProvider("m")
    engine: FakeLLM = fake_vllm.built[0]

    def wait_for_the_others() -> None:  # hold the engine until three more calls queue up
        deadline = time.monotonic() + 5
        while len(provider._waiting) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)

    engine.before_first = wait_for_the_others
    engine.delay_s = 0.01
    generations = await asyncio.gather(
        *(provider.generate(QUESTION, n=i + 1, seed=i) for i in range(4))
    )
    assert [len(g.completions) for g in generations] == [1, 2, 3, 4]
    assert [g.completions[0].seed for g in generations] == [0, 1, 2, 3]
    assert [g.usage["llm_calls"] for g in generations] == [1, 2, 3, 4]
    assert all(g.usage["requests"] == 1 for g in generations)
    assert [len(batch) for batch in engine.batches] == [1, 3]
    assert sorted(p.n for p in engine.batches[1]) == [2, 3, 4]


async def test_a_rejected_prompt_fails_alone_in_its_batch(fake_vllm: types.ModuleType) -> None:
    provider = VLLMProvider("m")
    engine: FakeLLM = fake_vllm.built[0]
    engine.reject = "too long"

    def wait_for_the_others() -> None:
        deadline = time.monotonic() + 5
        while len(provider._waiting) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)

    engine.before_first = wait_for_the_others
    long_question: list[ChatMessage] = [{"role": "user", "content": "too long"}]
    results = await asyncio.gather(
        provider.generate(QUESTION),
        provider.generate(long_question),
        provider.generate(QUESTION, n=2),
        return_exceptions=True,
    )
    first, rejected, third = results
    assert isinstance(rejected, ProviderResponseError) and "max_model_len" in str(rejected)
    assert not isinstance(first, BaseException) and len(first.completions) == 1
    assert not isinstance(third, BaseException) and len(third.completions) == 2


async def test_engine_failures_become_provider_errors(fake_vllm: types.ModuleType) -> None:
    provider = VLLMProvider("m")
    engine: FakeLLM = fake_vllm.built[0]

    def crash() -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    engine.before_first = crash
    with pytest.raises(ProviderError, match="illegal memory access"):
        await provider.generate(QUESTION)
    engine.before_first = None
    engine.reject = "What is 2 + 2?"
    with pytest.raises(ProviderResponseError, match="max_model_len"):
        await provider.generate(QUESTION)
    engine.reject = None
    assert len((await provider.generate(QUESTION)).completions) == 1
