"""`TransformersProvider`: a `Generator` on a Hugging Face `transformers` causal LM, in process.

`transformers` (and through it `torch`) is imported when the provider is built (the `hf`
extra). Tensor work is confined to a few small helpers (`_rows`, `_top_alternatives`); the
rest reads plain lists, so tests drive it with fake models and tokenizers, without torch.

(Over 350 lines: the provider, its sampling options and the row parsing that turns
`generate`'s tensors into `Generation`s are one unit that the fake-model tests drive together;
the parsing helpers are private and used nowhere else.)
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.providers.base import (
    ChatMessage,
    Completion,
    Generation,
    TokenLogprob,
    check_sampling,
)
from reasoning_graph.usage import TokenUsage

__all__ = ["TransformersProvider", "generate_options", "parse_rows"]

_INSTALL_HINT = "install it with `pip install 'reasoning-graph[hf]'`"
_MAX_TOP_LOGPROBS = 20

# Per row, per generated token: (token id, logprob) of the best alternatives, best first.
TopAlternatives = list[list[list[tuple[int, float]]]]


@dataclass(frozen=True)
class _Raw:
    """What one `model.generate` call produced, as plain lists."""

    prompt_tokens: int
    rows: list[list[int]]  # generated token ids per sample, padding included
    transition: list[list[float]] | None  # logprob of each generated token
    top: TopAlternatives | None


class TransformersProvider:
    """Sample chat completions with a `transformers` causal LM (`AutoModelForCausalLM`).

    One `generate` call applies the tokenizer's chat template once and runs one
    `model.generate` with `num_return_sequences=n`, so the `n` samples share the prompt.
    Calls hold a lock (one model, one GPU) and run in a worker thread. With `seed`, the
    call seeds Python, NumPy and torch through `transformers.set_seed` first; every
    `Completion.seed` is that seed (None when unseeded). Greedy decoding
    (`temperature=0`) generates one sample and returns `n` copies of it, charged once.

    Usage is exact: the prompt counted once, and per sample the generated tokens up to
    its end (EOS included, the padding that follows a finished sample excluded);
    `llm_calls` is `n` (one per completion returned, greedy copies included) and `requests`
    is 1. A sample that ends by a `stop` string has the string cut from its
    text (as vLLM and OpenAI do). `finish_reason` is `"length"` when a sample used all
    `max_tokens`, else `"stop"`.

    Logprobs (`logprobs=True`) come from the raw logits (`output_logits=True`, before
    temperature and sampling filters) through `model.compute_transition_scores(...,
    normalize_logits=True)`; they are requested only then, as they cost `steps x n x
    vocab` floats.

    Args:
        model_name_or_path: A Hugging Face model id or local directory, e.g.
            `"Qwen/Qwen2.5-0.5B-Instruct"`; also the reported `model_name`.
        device: Where to load the model (`device_map`), e.g. `"cuda"`, `"cuda:1"`,
            `"cpu"`, `"auto"`. Ignored for an injected `model`, which stays where it is.
        dtype: Weight dtype for `from_pretrained` (`"auto"`, `"bfloat16"`, ...).
        model: An already loaded causal LM to use instead of loading one.
        tokenizer: An already loaded tokenizer (with a chat template). Defaults to
            `AutoTokenizer.from_pretrained(model_name_or_path)`.
        trust_remote_code: Let `from_pretrained` run the model repository's own code.

    Raises:
        ModelNotFoundError: `transformers` or `torch` is missing (the `hf` extra), or
            the model cannot be found.
        ProviderError: The model could not be loaded (e.g. out of GPU memory).

    Example:
        ```python
        from reasoning_graph.providers.hf_transformers import TransformersProvider

        provider = TransformersProvider("Qwen/Qwen2.5-0.5B-Instruct", device="cuda")
        generation = await provider.generate(
            [{"role": "user", "content": "What is 17 * 23?"}], n=4, seed=0
        )
        ```
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        device: str = "cuda",
        dtype: str = "auto",
        model: Any = None,
        tokenizer: Any = None,
        trust_remote_code: bool = False,
    ) -> None:
        if not model_name_or_path:
            raise ConfigurationError(
                "model_name_or_path is empty; pass a model id, e.g. 'Qwen/Qwen2.5-0.5B-Instruct'."
            )
        transformers = _import_transformers()
        self._set_seed: Callable[[int], None] = transformers.set_seed
        self._name = model_name_or_path
        if tokenizer is None:
            tokenizer = _load(
                transformers.AutoTokenizer,
                model_name_or_path,
                {"trust_remote_code": trust_remote_code},
            )
        if model is None:
            model = _load(
                transformers.AutoModelForCausalLM,
                model_name_or_path,
                {"dtype": dtype, "device_map": device, "trust_remote_code": trust_remote_code},
            )
        self._model: Any = model
        self._tokenizer: Any = tokenizer
        self._device: Any = getattr(model, "device", device)
        self._eos_ids, self._pad_id = _special_ids(model, tokenizer)
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The model id or path the provider was built with."""
        return self._name

    def __repr__(self) -> str:
        return f"TransformersProvider(model_name_or_path={self._name!r}, device={self._device!s})"

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
        """Sample `n` completions of `messages` in one `model.generate` call (see the class).

        Raises:
            ConfigurationError: `n`, `max_tokens` or `top_logprobs` is out of range.
            ProviderResponseError: transformers rejected the request, or returned other
                than `n` samples.
            ProviderError: The model failed while generating (e.g. out of memory).
        """
        check_sampling(n, max_tokens, top_logprobs, max_top_logprobs=_MAX_TOP_LOGPROBS)
        samples = n if temperature > 0 else 1
        options = generate_options(
            n=samples,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop,
            logprobs=logprobs,
            pad_token_id=self._pad_id,
            tokenizer=self._tokenizer,
        )
        conversation = [{"role": m["role"], "content": m["content"]} for m in messages]
        raw = await asyncio.to_thread(
            self._generate_sync, conversation, options, seed, top_logprobs if logprobs else 0
        )
        if len(raw.rows) != samples:
            raise ProviderResponseError(
                f"transformers returned {len(raw.rows)} samples, expected {samples}."
            )
        completions = parse_rows(
            raw.rows,
            decode=self._decode,
            eos_ids=self._eos_ids,
            pad_id=self._pad_id,
            stop=stop or (),
            max_tokens=max_tokens,
            transition=raw.transition,
            top=raw.top,
            seed=seed,
            decode_token=self._decode_token,
        )
        usage: TokenUsage = {
            "prompt_tokens": raw.prompt_tokens,
            "completion_tokens": sum(c.completion_tokens or 0 for c in completions),
            "llm_calls": n,
            "requests": 1,
        }
        return Generation(completions=completions * (n // samples), usage=usage)

    def _decode(self, token_ids: list[int]) -> str:
        text: str = self._tokenizer.decode(token_ids, skip_special_tokens=True)
        return text

    def _decode_token(self, token_id: int) -> str:
        text: str = self._tokenizer.decode([token_id], skip_special_tokens=False)
        return text

    def _generate_sync(
        self,
        conversation: list[dict[str, str]],
        options: dict[str, Any],
        seed: int | None,
        top_logprobs: int,
    ) -> _Raw:
        with self._lock:
            inputs = self._tokenizer.apply_chat_template(
                conversation,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
            )
            inputs = {key: _to(value, self._device) for key, value in inputs.items()}
            if seed is not None:
                self._set_seed(seed)
            try:
                output = self._model.generate(**inputs, **options)
            except ValueError as exc:
                raise ProviderResponseError(f"transformers rejected the request ({exc}).") from exc
            except RuntimeError as exc:  # CUDA out of memory and other device errors
                raise ProviderError(f"transformers failed while generating ({exc}).") from exc
            prompt_tokens = len(_rows(inputs["input_ids"])[0])
            rows = [row[prompt_tokens:] for row in _rows(output.sequences)]
            transition = top = None
            if options.get("output_logits"):
                scores = self._model.compute_transition_scores(
                    output.sequences, output.logits, normalize_logits=True
                )
                transition = _rows(scores)
                if top_logprobs:
                    top = _top_alternatives(output.logits, top_logprobs)
        return _Raw(prompt_tokens, rows, transition, top)


def generate_options(
    *,
    n: int,
    max_tokens: int,
    temperature: float,
    stop: Sequence[str] | None,
    logprobs: bool,
    pad_token_id: int | None,
    tokenizer: Any,
) -> dict[str, Any]:
    """The keyword arguments of `model.generate` for one request (besides the prompt)."""
    options: dict[str, Any] = {
        "num_return_sequences": n,
        "max_new_tokens": max_tokens,
        "do_sample": temperature > 0,
        "return_dict_in_generate": True,
        "pad_token_id": pad_token_id,
    }
    if temperature > 0:
        options["temperature"] = temperature
    else:  # greedy: clear the model's sampling defaults, which transformers warns about
        options.update(temperature=None, top_p=None, top_k=None)
    if logprobs:
        options["output_logits"] = True
    if stop:
        options.update(stop_strings=list(stop), tokenizer=tokenizer)
    return options


def parse_rows(
    rows: Sequence[Sequence[int]],
    *,
    decode: Callable[[list[int]], str],
    eos_ids: Iterable[int],
    pad_id: int | None,
    stop: Sequence[str],
    max_tokens: int,
    transition: Sequence[Sequence[float]] | None = None,
    top: TopAlternatives | None = None,
    seed: int | None = None,
    decode_token: Callable[[int], str] | None = None,
) -> list[Completion]:
    """Turn the generated token ids of each sample into `Completion`s.

    A sample ends at its first EOS (counted) or, when it ended by a `stop` string or
    another sample ran longer, where the padding starts (not counted). `decode` renders
    texts; `decode_token` one token of the logprobs (defaults to `decode([token_id])`).
    """
    eos = set(eos_ids)
    token_text = decode_token or (lambda token_id: decode([token_id]))
    completions = []
    for index, row in enumerate(rows):
        count, finish = _sample_length(list(row), decode, eos, pad_id, stop, max_tokens)
        ids = list(row[:count])
        completions.append(
            Completion(
                text=_cut_at_stop(decode(ids), stop),
                finish_reason=finish,
                completion_tokens=count,
                logprobs=None
                if transition is None
                else _token_logprobs(
                    ids, transition[index], None if top is None else top[index], token_text
                ),
                seed=seed,
            )
        )
    return completions


def _sample_length(
    row: list[int],
    decode: Callable[[list[int]], str],
    eos: set[int],
    pad_id: int | None,
    stop: Sequence[str],
    max_tokens: int,
) -> tuple[int, str]:
    end = next((i for i, token in enumerate(row) if token in eos or token == pad_id), None)
    if end is None:
        stopped = bool(stop) and _find_stop(decode(row), stop) is not None
        return len(row), "length" if len(row) >= max_tokens and not stopped else "stop"
    if stop and _find_stop(decode(row[:end]), stop) is not None:
        return end, "stop"  # what follows a stop string is padding, even when pad == EOS
    return (end + 1 if row[end] in eos else end), "stop"


def _find_stop(text: str, stop: Sequence[str]) -> int | None:
    found = [at for at in (text.find(s) for s in stop if s) if at >= 0]
    return min(found) if found else None


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    at = _find_stop(text, stop) if stop else None
    return text if at is None else text[:at]


def _token_logprobs(
    ids: list[int],
    transition: Sequence[float],
    top: list[list[tuple[int, float]]] | None,
    token_text: Callable[[int], str],
) -> list[TokenLogprob]:
    parsed = []
    for step, token_id in enumerate(ids):
        alternatives: dict[str, float] = {}
        for alt_id, alt_logprob in top[step] if top is not None else ():
            alternatives.setdefault(token_text(alt_id), float(alt_logprob))
        parsed.append(
            TokenLogprob(
                token=token_text(token_id),
                logprob=float(transition[step]),
                top_logprobs=alternatives,
            )
        )
    return parsed


def _rows(tensor: Any) -> list[list[Any]]:
    """A 2-D tensor (or nested sequence) as lists of Python numbers."""
    values = tensor.tolist() if hasattr(tensor, "tolist") else tensor
    return [list(row) for row in values]


def _to(value: Any, device: Any) -> Any:
    return value.to(device) if hasattr(value, "to") else value


def _top_alternatives(logits: Sequence[Any], k: int) -> TopAlternatives:
    """Per sample and step, the `k` most likely tokens under the raw logits."""
    per_step = []
    for step in logits:  # each (samples, vocab)
        values, indices = step.float().log_softmax(dim=-1).topk(k, dim=-1)
        per_step.append(list(zip(_rows(indices), _rows(values), strict=True)))
    samples = len(per_step[0]) if per_step else 0
    return [
        [list(zip(ids, lps, strict=True)) for ids, lps in (step[row] for step in per_step)]
        for row in range(samples)
    ]


def _special_ids(model: Any, tokenizer: Any) -> tuple[set[int], int | None]:
    """EOS ids (the model's generation config and the tokenizer's) and the pad id."""
    eos: set[int] = set()
    for value in (
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
        getattr(tokenizer, "eos_token_id", None),
    ):
        if isinstance(value, int):
            eos.add(value)
        elif isinstance(value, Iterable):
            eos.update(int(v) for v in value)
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        pad = getattr(getattr(model, "generation_config", None), "pad_token_id", None)
    if pad is None and eos:
        pad = min(eos)
    return eos, pad


def _import_transformers() -> Any:
    try:
        transformers = importlib.import_module("transformers")
    except ImportError as exc:
        raise ModelNotFoundError(
            f"TransformersProvider needs `transformers` and `torch`; {_INSTALL_HINT}."
        ) from exc
    return transformers


def _load(auto_class: Any, name: str, options: Mapping[str, Any]) -> Any:
    try:
        return auto_class.from_pretrained(name, **options)
    except ImportError as exc:  # torch or accelerate missing
        raise ModelNotFoundError(
            f"Loading {name!r} needs more packages ({exc}); {_INSTALL_HINT}."
        ) from exc
    except OSError as exc:  # not on the Hub, no local directory, no access
        raise ModelNotFoundError(
            f"transformers could not find {name!r} ({exc}); pass a Hugging Face model id "
            "or a local directory with the weights."
        ) from exc
    except (RuntimeError, ValueError) as exc:
        raise ProviderError(f"transformers could not load {name!r} ({exc}).") from exc
