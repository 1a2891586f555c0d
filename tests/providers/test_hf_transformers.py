"""Tests of `TransformersProvider` with a fake `transformers` module, model and tokenizer.

torch is never imported: the fakes return `FakeTensor`s, a few list-backed methods wide.
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
import types
from typing import Any

import pytest

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.providers.base import ChatMessage, Generator
from reasoning_graph.providers.hf_transformers import (
    TransformersProvider,
    generate_options,
    parse_rows,
)

QUESTION: list[ChatMessage] = [{"role": "user", "content": "What is 2 + 2?"}]

EOS, PAD = 0, 9
VOCAB = {
    0: "<eos>",
    1: "The",
    2: " answer",
    3: " is",
    4: " 4",
    5: ".",
    6: "\n\n",
    7: "x",
    9: "<pad>",
}
SPECIAL = {EOS, PAD}
PROMPT = [7, 7, 7]


class FakeTensor:
    """The few tensor methods the provider calls, on nested lists."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.device: Any = None

    def tolist(self) -> list[Any]:
        return self.values

    def to(self, device: Any) -> FakeTensor:
        self.device = device
        return self

    def float(self) -> FakeTensor:
        return self

    def log_softmax(self, dim: int = -1) -> FakeTensor:
        def row(values: list[float]) -> list[float]:
            norm = math.log(sum(math.exp(v) for v in values))
            return [v - norm for v in values]

        return FakeTensor([row(r) for r in self.values])

    def topk(self, k: int, dim: int = -1) -> tuple[FakeTensor, FakeTensor]:
        best = [sorted(range(len(r)), key=lambda i: -r[i])[:k] for r in self.values]
        values = [[r[i] for i in ids] for r, ids in zip(self.values, best, strict=True)]
        return FakeTensor(values), FakeTensor(best)


class FakeTokenizer:
    eos_token_id = EOS

    def __init__(self, pad_token_id: int | None = PAD) -> None:
        self.pad_token_id = pad_token_id
        self.template_calls: list[tuple[Any, dict[str, Any]]] = []

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> dict[str, FakeTensor]:
        self.template_calls.append((conversation, kwargs))
        return {"input_ids": FakeTensor([list(PROMPT)]), "attention_mask": FakeTensor([[1, 1, 1]])}

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(VOCAB[i] for i in ids if not (skip_special_tokens and i in SPECIAL))


class FakeModel:
    """Returns `rows` (generated ids per sample, padded) and logits favouring each token."""

    device = "cuda:0"

    def __init__(self, rows: list[list[int]], delay_s: float = 0.0) -> None:
        self.rows = rows
        self.delay_s = delay_s
        self.generation_config = types.SimpleNamespace(eos_token_id=[EOS], pad_token_id=None)
        self.calls: list[dict[str, Any]] = []
        self.transition_calls: list[tuple[Any, Any, bool]] = []
        self._active = 0
        self._guard = threading.Lock()
        self.fail: Exception | None = None

    def generate(self, **kwargs: Any) -> Any:
        with self._guard:
            self._active += 1
            assert self._active == 1, "model.generate was entered by two threads at once"
        try:
            time.sleep(self.delay_s)
            self.calls.append(kwargs)
            if self.fail is not None:
                raise self.fail
            rows = self.rows[: kwargs["num_return_sequences"]]
            sequences = FakeTensor([PROMPT + row for row in rows])
            steps = len(rows[0])
            # logits at each step: 2.0 for the chosen token, 1.0 for token 5, 0 elsewhere
            logits = tuple(
                FakeTensor(
                    [
                        [2.0 if v == row[t] else 1.0 if v == 5 else 0.0 for v in range(10)]
                        for row in rows
                    ]
                )
                for t in range(steps)
            )
            return types.SimpleNamespace(
                sequences=sequences, logits=logits if kwargs.get("output_logits") else None
            )
        finally:
            with self._guard:
                self._active -= 1

    def compute_transition_scores(
        self, sequences: FakeTensor, scores: Any, normalize_logits: bool = False
    ) -> FakeTensor:
        self.transition_calls.append((sequences, scores, normalize_logits))
        steps = len(scores)
        return FakeTensor([[-0.1 * (t + 1) for t in range(steps)] for _ in sequences.values])


@pytest.fixture
def fake_transformers(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("transformers")
    seeds: list[int] = []
    loads: list[tuple[str, str, dict[str, Any]]] = []

    def loader(kind: str, make: Any) -> Any:
        def from_pretrained(name: str, **options: Any) -> Any:
            loads.append((kind, name, options))
            if name == "missing/model":
                raise OSError("missing/model is not a local folder and is not a valid model id")
            return make()

        return types.SimpleNamespace(from_pretrained=from_pretrained)

    module.set_seed = seeds.append  # type: ignore[attr-defined]
    module.AutoTokenizer = loader("tokenizer", FakeTokenizer)  # type: ignore[attr-defined]
    module.AutoModelForCausalLM = loader(  # type: ignore[attr-defined]
        "model", lambda: FakeModel([[1, 2, 3, 4, 5, 0]])
    )
    module.seeds = seeds  # type: ignore[attr-defined]
    module.loads = loads  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers", module)
    return module


def make(rows: list[list[int]], *, pad: int | None = PAD, delay_s: float = 0.0) -> Any:
    model, tokenizer = FakeModel(rows, delay_s), FakeTokenizer(pad)
    return TransformersProvider("org/tiny", model=model, tokenizer=tokenizer), model, tokenizer


# --- construction ----------------------------------------------------------------------------
def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ModelNotFoundError, match=r"pip install 'reasoning-graph\[hf\]'"):
        TransformersProvider("Qwen/Qwen2.5-0.5B-Instruct")


def test_loads_model_and_tokenizer(fake_transformers: types.ModuleType) -> None:
    provider = TransformersProvider("org/tiny", device="cuda:1", dtype="bfloat16")
    assert fake_transformers.loads == [
        ("tokenizer", "org/tiny", {"trust_remote_code": False}),
        (
            "model",
            "org/tiny",
            {"dtype": "bfloat16", "device_map": "cuda:1", "trust_remote_code": False},
        ),
    ]
    assert provider.model_name == "org/tiny" and isinstance(provider, Generator)
    assert "org/tiny" in repr(provider)


def test_bad_construction(fake_transformers: types.ModuleType) -> None:
    with pytest.raises(ModelNotFoundError, match="missing/model"):
        TransformersProvider("missing/model")
    with pytest.raises(ConfigurationError, match="empty"):
        TransformersProvider("")


# --- request building --------------------------------------------------------------------------
def test_generate_options() -> None:
    tokenizer = object()
    sampling = generate_options(
        n=4,
        max_tokens=64,
        temperature=0.8,
        stop=["\n\n"],
        logprobs=True,
        pad_token_id=PAD,
        tokenizer=tokenizer,
    )
    assert sampling == {
        "num_return_sequences": 4,
        "max_new_tokens": 64,
        "do_sample": True,
        "return_dict_in_generate": True,
        "pad_token_id": PAD,
        "temperature": 0.8,
        "output_logits": True,
        "stop_strings": ["\n\n"],
        "tokenizer": tokenizer,
    }
    greedy = generate_options(
        n=1,
        max_tokens=8,
        temperature=0.0,
        stop=None,
        logprobs=False,
        pad_token_id=None,
        tokenizer=tokenizer,
    )
    assert greedy == {
        "num_return_sequences": 1,
        "max_new_tokens": 8,
        "do_sample": False,
        "return_dict_in_generate": True,
        "pad_token_id": None,
        "temperature": None,
        "top_p": None,
        "top_k": None,
    }


async def test_request_building_and_seeding(fake_transformers: types.ModuleType) -> None:
    provider, model, tokenizer = make([[1, 2, 0], [4, 0, PAD]])
    await provider.generate(QUESTION, n=2, max_tokens=3, temperature=0.9, seed=42)
    assert tokenizer.template_calls == [
        (
            [{"role": "user", "content": "What is 2 + 2?"}],
            {
                "add_generation_prompt": True,
                "tokenize": True,
                "return_dict": True,
                "return_tensors": "pt",
            },
        )
    ]
    (call,) = model.calls
    assert call["input_ids"].values == [PROMPT] and call["input_ids"].device == "cuda:0"
    assert call["attention_mask"].device == "cuda:0"
    assert {k: v for k, v in call.items() if k not in {"input_ids", "attention_mask"}} == {
        "num_return_sequences": 2,
        "max_new_tokens": 3,
        "do_sample": True,
        "return_dict_in_generate": True,
        "pad_token_id": PAD,
        "temperature": 0.9,
    }
    assert fake_transformers.seeds == [42]
    await provider.generate(QUESTION, n=2, max_tokens=3)
    assert fake_transformers.seeds == [42]  # unseeded calls leave the RNG alone


# --- result parsing ------------------------------------------------------------------------------
async def test_texts_usage_and_finish_reasons(fake_transformers: types.ModuleType) -> None:
    provider, _, _ = make([[1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 4, 4], [4, 0, PAD, PAD, PAD, PAD]])
    generation = await provider.generate(QUESTION, n=3, max_tokens=6, seed=3)
    completions = generation.completions
    assert [c.text for c in completions] == ["The answer is 4.", "The answer is 4 4 4", " 4"]
    assert [c.finish_reason for c in completions] == ["stop", "length", "stop"]
    # EOS counted, the padding after it not
    assert [c.completion_tokens for c in completions] == [6, 6, 2]
    assert [c.seed for c in completions] == [3, 3, 3]
    assert generation.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 14,
        "llm_calls": 3,
        "requests": 1,
    }


async def test_stop_strings_cut_text_and_padding_is_not_counted(
    fake_transformers: types.ModuleType,
) -> None:
    # no pad token: padding is EOS, so the EOS right after a stop string is filler
    provider, model, tokenizer = make([[1, 6, EOS, EOS], [4, 5, 1, 6]], pad=None)
    generation = await provider.generate(QUESTION, n=2, max_tokens=4, stop=["\n\n"])
    assert model.calls[0]["stop_strings"] == ["\n\n"]
    assert model.calls[0]["tokenizer"] is tokenizer and model.calls[0]["pad_token_id"] == EOS
    assert [c.text for c in generation.completions] == ["The", " 4.The"]
    assert [c.completion_tokens for c in generation.completions] == [2, 4]
    assert [c.finish_reason for c in generation.completions] == ["stop", "stop"]


def test_parse_rows_edge_cases() -> None:
    def decode(ids: list[int]) -> str:
        return "".join(VOCAB[i] for i in ids if i not in SPECIAL)

    rows = [[1, 6, PAD, PAD], [1, 2, 3, PAD], [1, 2, 0, PAD], [1, 2]]
    completions = parse_rows(
        rows, decode=decode, eos_ids=[EOS], pad_id=PAD, stop=["\n\n"], max_tokens=4
    )
    assert [(c.text, c.completion_tokens, c.finish_reason) for c in completions] == [
        ("The", 2, "stop"),  # stop string, then padding
        ("The answer is", 3, "stop"),  # padded without EOS: ended by a stop criterion
        ("The answer", 3, "stop"),  # EOS counted
        ("The answer", 2, "stop"),  # shorter than max_tokens: the batch ended early
    ]


async def test_logprobs_from_transition_scores_and_top_alternatives(
    fake_transformers: types.ModuleType,
) -> None:
    provider, model, _ = make([[1, 4, 0], [4, 0, PAD]])
    generation = await provider.generate(QUESTION, n=2, max_tokens=3, logprobs=True, top_logprobs=2)
    assert model.calls[0]["output_logits"] is True
    (sequences, scores, normalize) = model.transition_calls[0]
    assert normalize is True and len(scores) == 3
    first, second = (c.logprobs for c in generation.completions)
    assert first is not None and second is not None
    assert [t.token for t in first] == ["The", " 4", "<eos>"]
    assert [t.logprob for t in first] == pytest.approx([-0.1, -0.2, -0.3])
    assert len(second) == 2  # the padding after EOS has no logprobs
    top = first[0].top_logprobs
    assert list(top) == ["The", "."]
    assert top["The"] == pytest.approx(2.0 - math.log(math.exp(2) + math.e + 8))


async def test_logprobs_without_alternatives(fake_transformers: types.ModuleType) -> None:
    provider, model, _ = make([[1, 0]])
    generation = await provider.generate(QUESTION, max_tokens=2, logprobs=True)
    logprobs = generation.completions[0].logprobs
    assert logprobs is not None and all(t.top_logprobs == {} for t in logprobs)
    plain = await provider.generate(QUESTION, max_tokens=2)
    assert plain.completions[0].logprobs is None and "output_logits" not in model.calls[1]


async def test_greedy_generates_once_and_copies(fake_transformers: types.ModuleType) -> None:
    provider, model, _ = make([[1, 2, 0]])
    generation = await provider.generate(QUESTION, n=3, max_tokens=3, temperature=0.0)
    assert model.calls[0]["num_return_sequences"] == 1 and model.calls[0]["do_sample"] is False
    assert [c.text for c in generation.completions] == ["The answer"] * 3
    # tokens charged once; each of the 3 completions returned is a call, from one generate
    assert generation.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 3,
        "llm_calls": 3,
        "requests": 1,
    }


async def test_exactly_n_or_an_error(fake_transformers: types.ModuleType) -> None:
    provider, _, _ = make([[1, 0]])
    with pytest.raises(ProviderResponseError, match="1 samples, expected 2"):
        await provider.generate(QUESTION, n=2)


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"max_tokens": 0}, {"top_logprobs": 21}, {"top_logprobs": -1}]
)
async def test_bad_arguments(fake_transformers: types.ModuleType, kwargs: dict[str, Any]) -> None:
    provider, model, _ = make([[1, 0]])
    with pytest.raises(ConfigurationError):
        await provider.generate(QUESTION, **kwargs)
    assert model.calls == []


async def test_model_errors(fake_transformers: types.ModuleType) -> None:
    provider, model, _ = make([[1, 0]])
    model.fail = RuntimeError("CUDA out of memory")
    with pytest.raises(ProviderError, match="out of memory"):
        await provider.generate(QUESTION)
    model.fail = ValueError("`temperature` has to be a strictly positive float")
    with pytest.raises(ProviderResponseError, match="temperature"):
        await provider.generate(QUESTION)


async def test_concurrent_calls_are_serialised(fake_transformers: types.ModuleType) -> None:
    provider, model, _ = make([[1, 0], [4, 0]], delay_s=0.02)
    generations = await asyncio.gather(
        *(provider.generate(QUESTION, n=2, seed=i) for i in range(5))
    )
    assert len(model.calls) == 5 and all(len(g.completions) == 2 for g in generations)
    assert fake_transformers.seeds == [0, 1, 2, 3, 4] or sorted(fake_transformers.seeds) == [
        0,
        1,
        2,
        3,
        4,
    ]
