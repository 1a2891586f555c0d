"""`CachingGenerator`: record every completion in SQLite, serve repeats from it, replay runs.

One cache entry is one sample: the request (model name, messages, `max_tokens`,
`temperature`, `stop`, `logprobs`/`top_logprobs`) plus one seed. `generate(n=k, seed=s)` asks
for the samples seeded `s, s+1, ..., s+k-1` (how the providers seed the samples of a request),
serves the recorded ones and generates only the rest: one inner call per run of consecutive
missing seeds (`n` = the run's length, `seed` = its first seed), the runs concurrently.
Calls with `seed=None` are never cached: they pass straight through (and in `replay` mode
raise `CacheMissError`). Returned completions carry their sample's seed.

Usage on replay: each sample stores its share of the tokens its inner call reported. Prompt
tokens are split evenly over the call's samples with the remainder on the first (lowest seed);
completion tokens are each sample's own when the provider reported them per sample (and they
add up to the call's total), else split the same way. A `generate` call is charged the sum of
its samples' token shares, fresh or recorded, so a replayed run reports exactly the tokens of
the recorded run. A request served from part of a recorded call is charged that part of it
(e.g. the first 4 of a recorded `n=8` call with 100 prompt tokens: 4 * 12 + 4 = 52 prompt
tokens, and the 4 samples' completion tokens). Every sample served, hit or miss, is one of
`llm_calls` (one generation); `requests` counts only the inner generator's requests, so a hit
costs none. Tokens and calls thus measure the compute a run used as if there were no cache,
`requests` what was actually sent, and `hits` and `misses` what the cache saved and spent.

Pool mode: evaluating best-of-N at many N by sub-sampling one pool of pre-generated samples
(the compute-optimal paper's method) is this cache after one run at the largest `n`: runs at
smaller `n` with the same base seed hit the first `n` samples of the pool and call no model.

Storage: one SQLite table (`completions`, keyed by request hash and seed, JSON columns) in WAL
mode, so several processes can read while one writes; writes run in a worker thread so the
event loop does not wait on the disk, and one connection guarded by a lock serves any thread
and any event loop in turn. Identical samples requested concurrently in one event loop are
generated once. When two processes record the same sample at once, the first write is kept.

(Over 350 lines: the lookup, the in-loop de-duplication of concurrent identical requests and
the store share one lock and one connection; split apart, they would pass both around.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

from reasoning_graph.errors import ConfigurationError, ProviderError, ProviderResponseError
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, Generator
from reasoning_graph.usage import TokenUsage

__all__ = ["CacheMissError", "CacheMode", "CachingGenerator"]

CacheMode = Literal["read_write", "replay"]
"""How `CachingGenerator` treats a sample that is not recorded.

- `read_write`: generate it with the inner generator and record it.
- `replay`: raise `CacheMissError`; the inner generator is never called.
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    request TEXT NOT NULL,
    seed INTEGER NOT NULL,
    model TEXT NOT NULL,
    completion TEXT NOT NULL,
    usage TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (request, seed)
)
"""


class CacheMissError(ProviderError):
    """A replayed run asked for a sample that was never recorded.

    Re-run in `read_write` mode with a generator to record it.
    """


@dataclass(frozen=True)
class _Call:
    """What a `generate` call asked for, apart from `n` and `seed`."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] | None
    logprobs: bool
    top_logprobs: int

    def key(self, model: str) -> str:
        """The request's cache key: a hash of the model name and every option but the seed."""
        fields = {"model": model, **asdict(self)}
        text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    async def send(self, inner: Generator, n: int, seed: int | None) -> Generation:
        return await inner.generate(
            self.messages,
            n=n,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=self.stop,
            seed=seed,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs,
        )


class _Share(TypedDict):
    """One sample's share of its inner call's tokens. Stored rows also hold `llm_calls`
    (1 per sample; older caches stored a share of the requests), which is not read back."""

    prompt_tokens: int
    completion_tokens: int


class _Entry(BaseModel):
    """One recorded sample and its share of its inner call's tokens."""

    model_config = ConfigDict(frozen=True)

    completion: Completion
    usage: _Share


class CachingGenerator:
    """A generator that records every seeded sample of `inner` and serves repeats from disk.

    Args:
        inner: The generator that makes the misses; `None` only in `replay` mode.
        path: The SQLite file; created (with its folder) in `read_write` mode.
        mode: `read_write` (default) generates and records misses; `replay` raises
            `CacheMissError` on a miss and never calls `inner`.
        model_name: The model whose recordings to replay when `inner` is `None`; defaults
            to the one model recorded in `path`. Ignored when `inner` is given.

    Raises:
        ConfigurationError: An unknown mode, no `inner` in `read_write` mode, or in `replay`
            mode a missing file or an ambiguous model.

    Example:
        ```python
        cache = CachingGenerator(OpenAIProvider("gpt-4o-mini"), "runs/cache.sqlite")
        await asolve("What is 17 * 23?", generator=cache, n=8)  # records 8 samples
        with CachingGenerator(None, "runs/cache.sqlite", mode="replay") as replay:
            await asolve("What is 17 * 23?", generator=replay, n=4)  # the first 4, no model
        ```
    """

    def __init__(
        self,
        inner: Generator | None,
        path: str | Path,
        *,
        mode: CacheMode = "read_write",
        model_name: str | None = None,
    ) -> None:
        if mode not in get_args(CacheMode):
            accepted = ", ".join(get_args(CacheMode))
            raise ConfigurationError(f"unknown cache mode {mode!r}; accepted: {accepted}")
        if inner is None and mode == "read_write":
            raise ConfigurationError(
                "a read_write cache needs a generator for its misses; pass one, "
                "or use mode='replay' to serve recorded samples only"
            )
        self._inner = inner
        self._mode: CacheMode = mode
        self._path = Path(path).expanduser()
        if mode == "replay" and not self._path.is_file():
            raise ConfigurationError(
                f"no cache to replay at {self._path}; record one first with mode='read_write'"
            )
        if mode == "read_write":
            self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._path, timeout=30.0, check_same_thread=False)
        try:
            with self._db:
                if mode == "read_write":
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ConfigurationError(
                f"{self._path} is not a usable cache ({exc}); pass a new file or a cache "
                "recorded by CachingGenerator"
            ) from None
        self._model_name = inner.model_name if inner is not None else self._recorded(model_name)
        self._inflight: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self.hits = 0
        """Samples served from the cache."""
        self.misses = 0
        """Samples generated by `inner` (seeded calls only; unseeded ones are not counted)."""

    def _recorded(self, wanted: str | None) -> str:
        with self._lock:
            models = [r[0] for r in self._db.execute("SELECT DISTINCT model FROM completions")]
        if wanted is not None and wanted in models:
            return wanted
        if wanted is None and len(models) == 1:
            return str(models[0])
        self._db.close()
        recorded = ", ".join(sorted(models)) or "none"
        raise ConfigurationError(
            f"cannot tell which model to replay from {self._path} (asked for {wanted!r}; "
            f"recorded: {recorded}); pass model_name= one of the recorded models"
        )

    @property
    def model_name(self) -> str:
        """The inner generator's model, or in replay without one, the recorded model."""
        return self._model_name

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def mode(self) -> CacheMode:
        """`read_write` or `replay`."""
        return self._mode

    def __repr__(self) -> str:
        return f"CachingGenerator({self._inner!r}, {str(self._path)!r}, mode={self._mode!r})"

    def close(self) -> None:
        """Close the SQLite connection (the inner generator is not closed)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> CachingGenerator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

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
        """Serve the samples seeded `seed` to `seed + n - 1`, generating only the misses.

        Returns:
            The `n` completions in seed order, and the sum of their usage shares (see the
            module docstring).

        Raises:
            CacheMissError: In `replay` mode, a sample is not recorded or `seed` is `None`.
            ProviderError: The inner generator failed; nothing of that call is recorded.
        """
        call = _Call(
            messages=tuple(messages),
            max_tokens=max_tokens,
            temperature=float(temperature),
            stop=tuple(stop) if stop else None,
            logprobs=logprobs,
            top_logprobs=top_logprobs if logprobs else 0,
        )
        inner = self._inner if self._mode == "read_write" else None
        if seed is None:
            if inner is None:
                raise CacheMissError(
                    f"{self._model_name!r} was asked for an unseeded sample while replaying "
                    f"{self._path}; unseeded calls are never recorded: pass a seed"
                )
            return await call.send(inner, n, None)
        request = call.key(self._model_name)
        seeds = list(range(seed, seed + n))
        found: dict[int, _Entry] = {}
        generated = sent = 0
        while missing := [s for s in seeds if s not in found]:
            found.update(self._lookup(request, missing))
            missing = [s for s in seeds if s not in found]
            if not missing:
                break
            if inner is None:
                raise CacheMissError(
                    f"no recorded sample of {self._model_name!r} with seed {missing[0]} for this "
                    f"request (max_tokens={max_tokens}, temperature={temperature}) in "
                    f"{self._path}; re-run in read_write mode with a generator to record it"
                )
            loop = asyncio.get_running_loop()
            waits: list[asyncio.Event] = []
            mine: list[int] = []
            for s in missing:
                pending = self._inflight.get((request, s))
                if pending is not None and pending[0] is loop:
                    waits.append(pending[1])  # the same sample is being generated: wait for it
                else:
                    mine.append(s)
            fills = []
            for run in _consecutive_runs(mine):
                done = asyncio.Event()  # registered before any await, so no sibling repeats it
                for s in run:
                    self._inflight[(request, s)] = (loop, done)
                fills.append(self._fill(inner, call, request, run, done))
            outcomes = await asyncio.gather(
                *fills, *(event.wait() for event in set(waits)), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
                if isinstance(outcome, tuple):
                    entries, requests = outcome
                    found.update(entries)
                    generated += len(entries)
                    sent += requests
        self.misses += generated
        self.hits += n - generated
        usage: TokenUsage = {
            "prompt_tokens": sum(found[s].usage["prompt_tokens"] for s in seeds),
            "completion_tokens": sum(found[s].usage["completion_tokens"] for s in seeds),
            "llm_calls": n,
            "requests": sent,
        }
        return Generation(completions=[found[s].completion for s in seeds], usage=usage)

    def _lookup(self, request: str, seeds: list[int]) -> dict[int, _Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seed, completion, usage FROM completions "
                "WHERE request = ? AND seed BETWEEN ? AND ?",
                (request, min(seeds), max(seeds)),
            ).fetchall()
        wanted = set(seeds)
        return {
            seed: _Entry(
                completion=Completion.model_validate_json(completion), usage=json.loads(usage)
            )
            for seed, completion, usage in rows
            if seed in wanted
        }

    async def _fill(
        self, inner: Generator, call: _Call, request: str, seeds: list[int], done: asyncio.Event
    ) -> tuple[dict[int, _Entry], int]:
        """Generate one run of consecutive seeds in one inner call and record it; return
        the entries and the requests the inner call made."""
        try:
            generation = await call.send(inner, len(seeds), seeds[0])
            if len(generation.completions) != len(seeds):
                raise ProviderResponseError(
                    f"{self._model_name!r} returned {len(generation.completions)} completions "
                    f"for n={len(seeds)}; nothing was recorded"
                )
            entries = {
                s: _Entry(completion=c.model_copy(update={"seed": s}), usage=share)
                for s, c, share in zip(
                    seeds, generation.completions, _shares(generation), strict=True
                )
            }
            await asyncio.to_thread(self._store, request, entries)
            return entries, generation.usage["requests"]
        finally:
            for s in seeds:
                if self._inflight.get((request, s), (None, None))[1] is done:
                    del self._inflight[(request, s)]
            done.set()

    def _store(self, request: str, entries: dict[int, _Entry]) -> None:
        now = time.time()
        rows = [
            (
                request,
                s,
                self._model_name,
                e.completion.model_dump_json(),
                json.dumps({**e.usage, "llm_calls": 1}),
                now,
            )
            for s, e in entries.items()
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO completions "
                "(request, seed, model, completion, usage, created) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )


def _consecutive_runs(seeds: list[int]) -> list[list[int]]:
    """`[0, 1, 3, 4, 6]` -> `[[0, 1], [3, 4], [6]]`."""
    runs: list[list[int]] = []
    for s in seeds:
        if runs and runs[-1][-1] == s - 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` even shares, the remainder on the first: `_split(10, 4)` is 4, 2, 2, 2."""
    share, rest = divmod(total, parts)
    return [share + rest] + [share] * (parts - 1)


def _shares(generation: Generation) -> list[_Share]:
    """Each sample's share of `generation.usage`'s tokens; the shares add up to them exactly."""
    k = len(generation.completions)
    usage = generation.usage
    own = [c.completion_tokens for c in generation.completions]
    completion = (
        [t for t in own if t is not None]
        if None not in own and sum(t or 0 for t in own) == usage["completion_tokens"]
        else _split(usage["completion_tokens"], k)
    )
    return [
        {"prompt_tokens": p, "completion_tokens": c}
        for p, c in zip(_split(usage["prompt_tokens"], k), completion, strict=True)
    ]
