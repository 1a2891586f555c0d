"""`VLLMProvider`: a `Generator` on vLLM's offline engine (`vllm.LLM`), in this process, on a GPU.

`vllm` is imported when the provider is built (the `vllm` extra); nothing else in
reasoning-graph imports it. For a vLLM *server* use `OpenAIProvider` with its `base_url`.

(Over 350 lines: the request queue that batches concurrent `generate` calls into one engine
call and the parsing of vLLM's `RequestOutput` share the private `_Request` record; split
apart, each half would import the other's internals.)
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Mapping, Sequence
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

__all__ = ["VLLMProvider"]

_INSTALL_HINT = "install it with `pip install 'reasoning-graph[vllm]'` (needs a CUDA GPU)"
_MAX_TOP_LOGPROBS = 20  # vLLM's default `max_logprobs`


@dataclass
class _Request:
    """One `generate` call waiting for the engine; whoever holds the engine runs it."""

    conversation: list[dict[str, str]]
    params: Any
    output: Any = None
    error: BaseException | None = None
    done: bool = False


class VLLMProvider:
    """Sample chat completions with vLLM's offline engine on a local GPU.

    One `generate` call is one vLLM request with `SamplingParams(n=n)`: the prompt is
    prefilled once and shared by the `n` samples, and prefix caching (on by default) lets
    later calls that repeat the prompt (beam steps, revisions) reuse its KV cache.

    The offline engine is not re-entrant, so calls hold a lock and run in a worker
    thread. Calls that arrive while the engine is busy are not run one by one: the next
    call to get the engine submits every waiting request in one `LLM.chat` batch, so the
    concurrent branches of a wave share the GPU as vLLM's scheduler intends.

    Usage is exact: `prompt_tokens` is the request's prompt length counted once (the `n`
    samples share it), `completion_tokens` the sum of the samples' token counts (the EOS
    token included, as vLLM counts it), `llm_calls` is `n` (one per sample) and `requests`
    is 1 per `generate`, even when it was batched with others. Each `Completion.seed` is the
    request's `seed` (the `n` samples of one request are drawn from that one seed), or None
    when unseeded.

    Logprobs are vLLM's defaults: log-probabilities of the model's raw distribution,
    before temperature and penalties; `top_logprobs` alternatives per token (0 to 20).

    Args:
        model: A Hugging Face model id or local path, e.g. `"Qwen/Qwen2.5-1.5B-Instruct"`.
            Required unless `llm` is given; with `llm` it is only the reported name.
        llm: An existing `vllm.LLM` to use instead of building one, e.g. to share one
            engine between this generator and a verifier. Defaults to a new engine.
        gpu_memory_utilization: Share of the GPU's memory vLLM may take for weights and
            KV cache, in (0, 1]. Lower it when another model shares the GPU.
        max_model_len: Context length in tokens. Defaults to the model's.
        enable_prefix_caching: Reuse the KV cache of repeated prompt prefixes.
        dtype: Weight dtype (`"auto"`, `"bfloat16"`, `"float16"`, ...).
        **engine_kwargs: Further `vllm.LLM` arguments (`tensor_parallel_size`, `seed`,
            `enforce_eager`, `quantization`, ...), passed through unchanged.

    Raises:
        ModelNotFoundError: `vllm` is not installed (the `vllm` extra), or the model
            cannot be found.
        ConfigurationError: Neither `model` nor `llm` is given, or an option is out of
            range or rejected by vLLM.
        ProviderError: vLLM failed to start the engine (e.g. out of GPU memory).

    Example:
        ```python
        from reasoning_graph.providers.vllm_local import VLLMProvider

        provider = VLLMProvider("Qwen/Qwen2.5-1.5B-Instruct", max_model_len=4096)
        generation = await provider.generate(
            [{"role": "user", "content": "What is 17 * 23?"}], n=8, seed=0
        )
        print([c.text for c in generation.completions], generation.usage)
        ```
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        llm: Any = None,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        dtype: str = "auto",
        **engine_kwargs: Any,
    ) -> None:
        if model is None and llm is None:
            raise ConfigurationError(
                "VLLMProvider needs a model, e.g. VLLMProvider('Qwen/Qwen2.5-1.5B-Instruct'), "
                "or an existing engine as llm=vllm.LLM(...)."
            )
        if not 0 < gpu_memory_utilization <= 1:
            raise ConfigurationError(
                f"gpu_memory_utilization={gpu_memory_utilization!r} must be in (0, 1]."
            )
        if max_model_len is not None and max_model_len < 1:
            raise ConfigurationError(f"max_model_len={max_model_len!r} must be >= 1 or None.")
        vllm = _import_vllm()
        self._sampling_params_class: Any = vllm.SamplingParams
        if llm is None:
            options = {
                "gpu_memory_utilization": gpu_memory_utilization,
                "max_model_len": max_model_len,
                "enable_prefix_caching": enable_prefix_caching,
                "dtype": dtype,
                **engine_kwargs,
            }
            llm = _build_engine(vllm.LLM, str(model), options)
        self._llm: Any = llm
        self._name = model if model is not None else _engine_model_name(llm)
        self._engine_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._waiting: list[_Request] = []

    @property
    def model_name(self) -> str:
        """The model's name: `model`, else the injected engine's model."""
        return self._name

    @property
    def llm(self) -> Any:
        """The `vllm.LLM` engine, to share with a verifier on the same GPU."""
        return self._llm

    def __repr__(self) -> str:
        return f"VLLMProvider(model={self._name!r})"

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
        """Sample `n` completions of `messages` in one vLLM request (see the class).

        Args:
            messages: The chat so far, in the OpenAI shape.
            n: How many completions to return.
            max_tokens: Most completion tokens per completion.
            temperature: Sampling temperature; 0 is greedy.
            stop: Strings that end a completion (left out of its text). Defaults to none.
            seed: Seed of the request. Defaults to vLLM's randomness.
            logprobs: Return each sampled token's log-probability.
            top_logprobs: Alternatives per token to return with `logprobs` (0 to 20).

        Returns:
            Exactly `n` completions and the request's exact usage.

        Raises:
            ConfigurationError: `n`, `max_tokens` or `top_logprobs` is out of range.
            ProviderResponseError: vLLM rejected the request (e.g. the prompt is longer
                than `max_model_len`) or returned other than `n` samples.
            ProviderError: The engine failed while generating.
        """
        check_sampling(n, max_tokens, top_logprobs, max_top_logprobs=_MAX_TOP_LOGPROBS)
        params = self._sampling_params_class(
            n=n,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=list(stop) if stop else None,
            seed=seed,
            logprobs=top_logprobs if logprobs else None,
        )
        request = _Request([{"role": m["role"], "content": m["content"]} for m in messages], params)
        output = await asyncio.to_thread(self._run, request)
        return parse_request_output(output, n=n, seed=seed, top_logprobs=top_logprobs)

    def _run(self, request: _Request) -> Any:
        """Run `request`, batched with every request waiting when the engine frees up."""
        with self._queue_lock:
            self._waiting.append(request)
        with self._engine_lock:
            if not request.done:
                with self._queue_lock:
                    batch, self._waiting = self._waiting, []
                try:
                    self._run_batch(batch)
                finally:  # an unexpected error must not leave the batch's waiters hanging
                    unfinished = [waiting for waiting in batch if not waiting.done]
                    _finish(unfinished, error=ProviderError("vLLM's batch was interrupted."))
        if request.error is not None:
            raise request.error
        return request.output

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            outputs = self._chat(batch)
        except ProviderResponseError as exc:
            if len(batch) == 1:
                _finish(batch, error=exc)
                return
            for request in batch:  # one bad prompt rejects the whole batch: retry alone
                try:
                    _finish([request], outputs=self._chat([request]))
                except ProviderError as alone:
                    _finish([request], error=alone)
            return
        except ProviderError as exc:
            _finish(batch, error=exc)
            return
        _finish(batch, outputs=outputs)

    def _chat(self, batch: list[_Request]) -> list[Any]:
        try:
            outputs = self._llm.chat(
                [request.conversation for request in batch],
                sampling_params=[request.params for request in batch],
                use_tqdm=False,
            )
        except ValueError as exc:  # vLLM's validation errors (prompt too long, bad params)
            raise ProviderResponseError(
                f"vLLM rejected the request ({exc}); shorten the prompt or max_tokens, "
                "or raise max_model_len."
            ) from exc
        except RuntimeError as exc:  # CUDA errors, a dead engine
            raise ProviderError(f"vLLM failed while generating ({exc}).") from exc
        if len(outputs) != len(batch):
            raise ProviderResponseError(
                f"vLLM returned {len(outputs)} outputs for {len(batch)} conversations."
            )
        return list(outputs)


def _finish(
    batch: list[_Request], *, outputs: list[Any] | None = None, error: BaseException | None = None
) -> None:
    for index, request in enumerate(batch):
        request.output = outputs[index] if outputs is not None else None
        request.error = error
        request.done = True


def parse_request_output(
    output: Any, *, n: int, seed: int | None, top_logprobs: int = 0
) -> Generation:
    """Turn one vLLM `RequestOutput` into a `Generation` of exactly `n` completions.

    Reads `output.prompt_token_ids` and, per `output.outputs[i]` (a `CompletionOutput`),
    `index`, `text`, `token_ids`, `finish_reason` and `logprobs` (per position a mapping
    of token id to `Logprob(logprob, rank, decoded_token)`, the sampled token included).

    Raises:
        ProviderResponseError: The output holds other than `n` samples.
    """
    samples = sorted(output.outputs, key=lambda sample: sample.index)
    if len(samples) != n:
        raise ProviderResponseError(f"vLLM returned {len(samples)} samples, expected n={n}.")
    completions: list[Completion] = []
    for sample in samples:
        token_ids = list(sample.token_ids)
        completions.append(
            Completion(
                text=sample.text,
                finish_reason=sample.finish_reason,
                completion_tokens=len(token_ids),
                logprobs=_parse_logprobs(token_ids, sample.logprobs, top_logprobs),
                seed=seed,
            )
        )
    usage: TokenUsage = {
        "prompt_tokens": len(output.prompt_token_ids or []),
        "completion_tokens": sum(c.completion_tokens or 0 for c in completions),
        "llm_calls": len(completions),
        "requests": 1,
    }
    return Generation(completions=completions, usage=usage)


def _parse_logprobs(
    token_ids: list[int], positions: Sequence[Mapping[int, Any]] | None, top: int
) -> list[TokenLogprob] | None:
    """Sampled token and its top `top` alternatives at each position (best first)."""
    if positions is None:
        return None
    parsed = []
    for token_id, position in zip(token_ids, positions, strict=False):
        sampled = position.get(token_id)
        if sampled is None:
            raise ProviderResponseError(
                f"vLLM's logprobs miss the sampled token {token_id}; got ids {list(position)}."
            )
        ranked = sorted(position.items(), key=lambda item: -float(item[1].logprob))
        alternatives: dict[str, float] = {}
        for alt_id, alt in ranked:
            if len(alternatives) == top:
                break
            alternatives.setdefault(_token_text(alt_id, alt), float(alt.logprob))
        parsed.append(
            TokenLogprob(
                token=_token_text(token_id, sampled),
                logprob=float(sampled.logprob),
                top_logprobs=alternatives,
            )
        )
    return parsed


def _token_text(token_id: int, logprob: Any) -> str:
    decoded = getattr(logprob, "decoded_token", None)
    return decoded if decoded is not None else f"<token {token_id}>"


def _import_vllm() -> Any:
    try:
        vllm = importlib.import_module("vllm")
    except ImportError as exc:
        raise ModelNotFoundError(
            f"VLLMProvider needs `vllm`, which is not installed; {_INSTALL_HINT}."
        ) from exc
    return vllm


def _build_engine(llm_class: Any, model: str, options: dict[str, Any]) -> Any:
    try:
        return llm_class(model=model, **options)
    except OSError as exc:  # Hub lookups and missing local paths
        raise ModelNotFoundError(
            f"vLLM could not find the model {model!r} ({exc}); pass a Hugging Face model id "
            "or a local directory with the weights."
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"vLLM rejected the engine options ({exc}).") from exc
    except RuntimeError as exc:
        raise ProviderError(
            f"vLLM could not start the engine for {model!r} ({exc}); lower "
            "gpu_memory_utilization or max_model_len, or free the GPU."
        ) from exc


def _engine_model_name(llm: Any) -> str:
    config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    name = getattr(config, "model", None)
    return name if isinstance(name, str) else "vllm"
