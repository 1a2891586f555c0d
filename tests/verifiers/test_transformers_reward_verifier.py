"""Tests of `TransformersRewardVerifier` with fake tokenizers, models and a fake torch.

torch and transformers are never imported: `from_components` takes a fake tokenizer and a
forward function of plain lists, and the constructor path runs against fake modules put in
`sys.modules`.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import types
from typing import Any

import pytest

from reasoning_graph.errors import ConfigurationError, ModelNotFoundError, ProviderResponseError
from reasoning_graph.verifiers.base import StepVerifier
from reasoning_graph.verifiers.transformers_reward import TransformersRewardVerifier

MARKER_ID = 151651


class FakeTokenizer:
    """Word-level: `<extra_0>` is its own token, every other word gets the next id."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"<extra_0>": MARKER_ID}
        self.rendered: list[str] = []

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        words = re.findall(r"<extra_0>|[^\s<]+|<", text)
        return [self.vocab.setdefault(w, len(self.vocab) + 1) for w in words]

    def apply_chat_template(self, conversation, *, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is False
        text = "".join(f"<|{m['role']}|> {m['content']} <|end|> " for m in conversation)
        self.rendered.append(text)
        return text


class ScriptedPRM:
    """Per-token 2-class probabilities; the marker tokens get the scripted P(correct)."""

    def __init__(self, step_probs: list[float]) -> None:
        self.step_probs = step_probs
        self.calls: list[list[int]] = []
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def __call__(self, ids: list[int]) -> list[list[float]]:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.calls.append(ids)
        probs = iter(self.step_probs)
        rows = [[1 - (p := next(probs)), p] if t == MARKER_ID else [0.5, 0.5] for t in ids]
        with self.lock:
            self.active -= 1
        return rows


async def test_process_reads_step_scores_at_the_markers() -> None:
    tokenizer, model = FakeTokenizer(), ScriptedPRM([0.9, 0.2])
    prm = TransformersRewardVerifier.from_components(tokenizer, model, name="fake-prm")
    verdict = await prm.score_steps("What is 2+2?", ["2+2=4", "The answer is 5"])
    assert verdict.step_scores == pytest.approx([0.9, 0.2])
    assert verdict.usage == {
        "prompt_tokens": len(model.calls[0]),
        "completion_tokens": 0,
        "llm_calls": 1,
        "requests": 1,
    }
    assert "<|assistant|> 2+2=4<extra_0>The answer is 5<extra_0>" in tokenizer.rendered[0]
    assert "Please reason step by step" in tokenizer.rendered[0]


async def test_score_aggregates_the_steps() -> None:
    prm = TransformersRewardVerifier.from_components(
        FakeTokenizer(), ScriptedPRM([0.9, 0.5]), aggregation="min"
    )
    verdict = await prm.score("q", "first\n\nsecond")
    assert verdict.score == pytest.approx(0.5)
    assert prm.reserve_tokens == 0 and isinstance(prm, StepVerifier)


async def test_forward_passes_never_overlap() -> None:
    import asyncio

    model = ScriptedPRM([0.7])
    prm = TransformersRewardVerifier.from_components(FakeTokenizer(), model)
    await asyncio.gather(*(prm.score("q", f"step {i}") for i in range(8)))
    assert len(model.calls) == 8 and model.most_active == 1


async def test_marker_count_mismatch_is_a_clear_error() -> None:
    prm = TransformersRewardVerifier.from_components(
        FakeTokenizer(), lambda ids: [[0.5, 0.5]], name="short"
    )
    with pytest.raises(ProviderResponseError, match="step_marker"):
        await prm.score_steps("q", ["a"])


def test_a_marker_of_several_tokens_needs_an_explicit_id() -> None:
    with pytest.raises(ConfigurationError, match="step_token_id"):
        TransformersRewardVerifier.from_components(
            FakeTokenizer(), ScriptedPRM([]), step_marker="two words"
        )


async def test_outcome_model_scores_the_whole_solution_and_prefixes() -> None:
    seen: list[list[int]] = []

    def orm(ids: list[int]) -> list[list[float]]:
        seen.append(ids)
        return [[0.3, 0.7]]

    verifier = TransformersRewardVerifier.from_components(
        FakeTokenizer(), orm, kind="outcome", prompt_format="text"
    )
    assert (await verifier.score("q", "s")).score == pytest.approx(0.7)
    steps = await verifier.score_steps("q", ["a", "b"])
    assert steps.step_scores == pytest.approx([0.7, 0.7])
    assert steps.usage["llm_calls"] == 2


def test_missing_transformers_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelNotFoundError, match=r"pip install 'reasoning-graph\[hf\]'"):
        TransformersRewardVerifier("Qwen/Qwen2.5-Math-PRM-7B")


class FakeTensor:
    """Just the tensor operations `_torch_forward` uses, over nested lists."""

    def __init__(self, data: Any) -> None:
        self.data = data

    @property
    def shape(self) -> tuple[int, ...]:
        shape, node = [], self.data
        while isinstance(node, list):
            shape.append(len(node))
            node = node[0]
        return tuple(shape)

    def _map_rows(self, function: Any) -> FakeTensor:
        def walk(node):
            return function(node) if not isinstance(node[0], list) else [walk(n) for n in node]

        return FakeTensor(walk(self.data))

    def __getitem__(self, key: Any) -> FakeTensor:
        if isinstance(key, tuple) and key[0] is Ellipsis:
            return self._map_rows(lambda row: [row[i] for i in key[1]])
        return FakeTensor(self.data[key])

    def float(self) -> FakeTensor:
        return self

    def softmax(self, dim: int) -> FakeTensor:
        def soft(row):
            exps = [math.exp(x) for x in row]
            return [e / sum(exps) for e in exps]

        return self._map_rows(soft)

    def sigmoid(self) -> FakeTensor:
        return self._map_rows(lambda row: [1 / (1 + math.exp(-x)) for x in row])

    def tolist(self) -> Any:
        return self.data


def install_fakes(monkeypatch, logits: list[list[float]], tokenizer: FakeTokenizer):
    """Put fake `torch` and `transformers` modules in `sys.modules`; return the load log."""
    log: dict[str, Any] = {}

    class Model:
        def to(self, device):
            log["device"] = device
            return self

        def eval(self):
            return self

        def __call__(self, input_ids):
            log["input_ids"] = input_ids
            return (FakeTensor([logits]),)  # a tuple, as the Qwen PRM's remote code returns

    class Loader:
        @staticmethod
        def from_pretrained(name, **kwargs):
            log["model"] = (name, kwargs)
            return Model()

    class TokenizerLoader:
        @staticmethod
        def from_pretrained(name, **kwargs):
            return tokenizer

    class NoGrad:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False

    torch = types.ModuleType("torch")
    torch.bfloat16 = "bf16"  # type: ignore[attr-defined]
    torch.no_grad = NoGrad  # type: ignore[attr-defined]
    torch.tensor = lambda data, device: data  # type: ignore[attr-defined]
    transformers = types.ModuleType("transformers")
    transformers.AutoModel = Loader  # type: ignore[attr-defined]
    transformers.AutoModelForCausalLM = Loader  # type: ignore[attr-defined]
    transformers.AutoModelForSequenceClassification = Loader  # type: ignore[attr-defined]
    transformers.AutoTokenizer = TokenizerLoader  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "transformers", transformers)
    return log


async def test_constructor_loads_and_softmaxes_the_class_head(monkeypatch) -> None:
    tokenizer = FakeTokenizer()
    ids = tokenizer.encode("<|system|> x <|end|>")  # warm the vocabulary, not needed otherwise
    del ids
    prompt = tokenizer.apply_chat_template(
        [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a<extra_0>"},
        ],
        tokenize=False,
        add_generation_prompt=False,
    )
    n_tokens = len(tokenizer.encode(prompt, add_special_tokens=False))
    logits = [[0.0, 0.0]] * (n_tokens - 3) + [[0.0, math.log(3.0)]] + [[0.0, 0.0]] * 2
    log = install_fakes(monkeypatch, logits, tokenizer)
    prm = TransformersRewardVerifier(
        "Qwen/Qwen2.5-Math-PRM-7B", device="cpu", torch_dtype="bfloat16", system_prompt=None
    )
    verdict = await prm.score_steps("q", ["a"])
    assert verdict.step_scores == pytest.approx([0.75])
    assert log["device"] == "cpu"
    assert log["model"] == (
        "Qwen/Qwen2.5-Math-PRM-7B",
        {"torch_dtype": "bf16", "trust_remote_code": True},
    )


async def test_label_token_ids_pick_the_good_and_bad_logits(monkeypatch) -> None:
    tokenizer = FakeTokenizer()
    tokenizer.vocab["ки"] = 7
    text_ids = tokenizer.encode("q a ки")
    logits = [[0.0] * 10 for _ in text_ids]
    logits[-1][3], logits[-1][4] = math.log(4.0), 0.0  # good = 3, bad = 4
    install_fakes(monkeypatch, logits, tokenizer)
    prm = TransformersRewardVerifier(
        "peiyi9979/math-shepherd-mistral-7b-prm",
        step_marker=" ки",
        label_token_ids=(3, 4),
        positive_index=0,
        prompt_format="text",
    )
    verdict = await prm.score_steps("q", ["a"])
    assert verdict.step_scores == pytest.approx([0.8])


def test_unknown_dtype_is_a_configuration_error(monkeypatch) -> None:
    install_fakes(monkeypatch, [], FakeTokenizer())
    with pytest.raises(ConfigurationError, match="torch_dtype"):
        TransformersRewardVerifier("m", torch_dtype="float7")
