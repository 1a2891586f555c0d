"""The bench runner: every strategy at every budget over every example, resumable.

```
out_dir/
  results.jsonl   one `BenchRecord` per line, appended and flushed as each run finishes
  bench.json      what produced them: data set, model, strategies, ns and the base config
```

A run is one (example, strategy, n) triple. Runs already in `results.jsonl` (same data set,
example, strategy, n and token budget, and no `error`) are skipped, so an interrupted bench
picks up where it stopped; a run that failed is tried again. When the same run appears twice,
the later line wins. The base config (model, sampling settings) of a resumed bench must match
the one in `bench.json`: mixing them in one file would make the numbers meaningless.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from reasoning_graph.answers import extract_answer
from reasoning_graph.bench.datasets import Dataset, Example
from reasoning_graph.bench.records import BenchCandidate, BenchRecord
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError, ReasoningGraphError
from reasoning_graph.providers.base import Generator
from reasoning_graph.result import Result
from reasoning_graph.solve import asolve, build_config
from reasoning_graph.verifiers.base import Verifier
from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier

VerifierFactory = Callable[[Example], Verifier]
"""A function of the example that returns the verifier for its runs."""

__all__ = [
    "MANIFEST_FILE",
    "RESULTS_FILE",
    "VerifierFactory",
    "arun_bench",
    "load_records",
    "oracle_verifier",
    "record_key",
    "run_bench",
]

RESULTS_FILE = "results.jsonl"
MANIFEST_FILE = "bench.json"

RecordKey = tuple[str, str, str, int, int | None]
"""(data set, example id, strategy, n, budget_tokens): what makes two records the same run."""


def record_key(record: BenchRecord) -> RecordKey:
    """The run a record answers; a resumed bench skips runs whose key is already done."""
    return (record.dataset, record.example_id, record.strategy, record.n, record.budget_tokens)


def load_records(path: str | Path) -> list[BenchRecord]:
    """Read the records of `results.jsonl` (or of a bench directory holding one).

    A truncated last line (a bench killed mid-write) is ignored; when a run appears more
    than once, the later record replaces the earlier one, in the earlier one's place.

    Raises:
        ConfigurationError: The file is missing, or a line is not a valid record.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError as error:
        raise ConfigurationError(
            f"cannot read bench results {path}: {error.strerror}; run `reasoning-graph bench "
            "--out DIR` first, then pass DIR or DIR/results.jsonl"
        ) from None
    records: dict[RecordKey, BenchRecord] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = BenchRecord.model_validate_json(line)
        except ValidationError as error:
            if number == len(lines) and not line.endswith("\n"):
                break  # cut off mid-write; that run is simply not done
            reason = error.errors()[0]
            where = ".".join(str(p) for p in reason["loc"]) or "line"
            raise ConfigurationError(
                f"{path}:{number} is not a bench record ({where}: {reason['msg']})"
            ) from None
        records[record_key(record)] = record
    return list(records.values())


async def arun_bench(
    dataset: Dataset,
    *,
    strategies: Sequence[str],
    ns: Sequence[int],
    generator: Generator,
    verifier: Verifier | VerifierFactory | None = None,
    base_config: ReasoningConfig | None = None,
    out_dir: str | Path,
    concurrency: int = 4,
    progress: bool = True,
    fail_fast: bool = True,
) -> list[BenchRecord]:
    """Run every strategy at every `n` over every example; write and return the records.

    Each record is appended to `out_dir/results.jsonl` (and flushed) as soon as its run
    finishes. Runs already recorded there without an error are skipped (see the module
    docstring). A run whose `asolve` raises a `ReasoningGraphError` is recorded with `error`
    set and `correct=False`, and the bench goes on.

    Args:
        dataset: The examples and how to grade them (`load_dataset(...)`).
        strategies: Strategy names, e.g. `["self_consistency", "weighted_vote"]`.
        ns: Generations per question, e.g. `[1, 2, 4, 8, 16]`.
        generator: The model.
        verifier: Scores candidates, or a function of the example that returns the verifier
            for it (see `oracle_verifier`); `None` falls back to `asolve`'s default (an LLM judge
            over `generator` for the strategies that need scores).
        base_config: Settings shared by every run (max tokens, temperature, seed, budget);
            `None` means the `ReasoningConfig` defaults. Its strategy and `n` are replaced.
        out_dir: Where `results.jsonl` and `bench.json` go; created if missing.
        concurrency: Runs in flight at once.
        progress: Show a progress bar on stderr (runs done, accuracy, completion tokens, ETA).
        fail_fast: Stop, re-raising the first error, when the first `concurrency` runs of
            this call all fail (an unreachable server, a wrong model name), instead of
            recording every question as failed.

    Returns:
        The records of every run in the grid, resumed ones included, ordered by example,
        then strategy, then `n`.

    Raises:
        ConfigurationError: An invalid strategy, `n` or setting (before any run starts), or
            `out_dir` holds a bench with other settings.

    Example:
        ```python
        dataset = load_dataset("gsm8k:test.jsonl", limit=50)
        records = await arun_bench(
            dataset, strategies=["self_consistency"], ns=[1, 4, 16],
            generator=OpenAIProvider("gpt-4o-mini"), out_dir=Path("runs/gsm8k"),
        )
        ```
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1 (got {concurrency})")
    if not strategies or not ns:
        raise ConfigurationError("name at least one strategy and one n to bench")
    base = base_config or ReasoningConfig()
    configs = [
        build_config(base, {"strategy": strategy, "n": n})
        for strategy in dict.fromkeys(strategies)
        for n in dict.fromkeys(ns)
    ]
    out = Path(out_dir)
    results_path = out / RESULTS_FILE
    _write_manifest(out, dataset, generator, strategies, ns, base)
    done = {
        record_key(r): r
        for r in (load_records(results_path) if results_path.exists() else [])
        if r.error is None
    }
    grid = [(example, config) for example in dataset.examples for config in configs]
    keys = [_key(dataset, example, config) for example, config in grid]
    todo = [unit for unit, key in zip(grid, keys, strict=True) if key not in done]
    resumed = [done[key] for key in keys if key in done]
    with (
        _Progress(resumed, total=len(grid), show=progress) as tally,
        _appender(results_path) as append,
    ):

        def finished_run(record: BenchRecord) -> None:
            append(record)
            tally.add(record)

        new = await _run_all(
            todo,
            dataset=dataset,
            generator=generator,
            verifier=verifier,
            concurrency=concurrency,
            fail_fast=fail_fast,
            on_record=finished_run,
        )
    finished = {**done, **{record_key(r): r for r in new}}
    return [finished[key] for key in keys if key in finished]


def run_bench(
    dataset: Dataset,
    *,
    strategies: Sequence[str],
    ns: Sequence[int],
    generator: Generator,
    verifier: Verifier | VerifierFactory | None = None,
    base_config: ReasoningConfig | None = None,
    out_dir: str | Path,
    concurrency: int = 4,
    progress: bool = True,
    fail_fast: bool = True,
) -> list[BenchRecord]:
    """Blocking wrapper of `arun_bench` (same arguments); closes the providers' clients."""

    async def run() -> list[BenchRecord]:
        try:
            return await arun_bench(
                dataset,
                strategies=strategies,
                ns=ns,
                generator=generator,
                verifier=verifier,
                base_config=base_config,
                out_dir=out_dir,
                concurrency=concurrency,
                progress=progress,
                fail_fast=fail_fast,
            )
        finally:
            for backend in (generator, verifier):
                close = getattr(backend, "aclose", None)
                if close is not None:
                    await close()

    return asyncio.run(run())


# -- one run ------------------------------------------------------------------------------------


def oracle_verifier(dataset: Dataset) -> VerifierFactory:
    """Verifiers that grade each candidate against the example's reference answer.

    An oracle: it knows the gold answer, so it measures what a search strategy does with a
    perfect verifier (an upper bound, as in the paper's oracle runs), not a deployable one.
    Grading is the data set's own (math-verify, or a reasoning-gym task's `score_answer`).

    Example:
        ```python
        await arun_bench(dataset, strategies=["best_of_n"], ns=[4], generator=generator,
                         verifier=oracle_verifier(dataset), out_dir="runs/oracle")
        ```
    """

    def for_example(example: Example) -> Verifier:
        def check(question: str, solution: str) -> bool:
            return dataset.grade(example, extract_answer(solution))

        return ProgrammaticVerifier(check, name=f"oracle({example.id})")

    return for_example


def _key(dataset: Dataset, example: Example, config: ReasoningConfig) -> RecordKey:
    return (dataset.name, example.id, config.strategy, config.n, config.budget_tokens)


async def _run_one(
    dataset: Dataset,
    example: Example,
    config: ReasoningConfig,
    *,
    generator: Generator,
    verifier: Verifier | VerifierFactory | None,
) -> tuple[BenchRecord, ReasoningGraphError | None]:
    started = time.perf_counter()
    try:
        scorer = (
            verifier if verifier is None or isinstance(verifier, Verifier) else verifier(example)
        )
        result = await asolve(example.question, generator=generator, verifier=scorer, config=config)
    except ReasoningGraphError as error:
        seconds = time.perf_counter() - started
        message = " ".join(str(error).split())
        record = _record(
            dataset, example, config, None, seconds, f"{type(error).__name__}: {message}"
        )
        return record, error
    seconds = time.perf_counter() - started
    return _record(dataset, example, config, result, seconds, None), None


def _record(
    dataset: Dataset,
    example: Example,
    config: ReasoningConfig,
    result: Result | None,
    seconds: float,
    error: str | None,
) -> BenchRecord:
    split = example.metadata.get("split")
    common: dict[str, Any] = {
        "dataset": dataset.name,
        "example_id": example.id,
        "split": split if isinstance(split, str) else None,
        "question": example.question,
        "gold": example.gold,
        "human_difficulty": example.human_difficulty,
        "strategy": config.strategy,  # what was asked; `plan` says what compute_optimal ran
        "n": config.n,
        "budget_tokens": config.budget_tokens,
        "seconds": round(seconds, 4),
    }
    if result is None:
        return BenchRecord(
            **common,
            answer=None,
            correct=False,
            prompt_tokens=0,
            completion_tokens=0,
            llm_calls=0,
            candidates=[],
            error=error,
        )
    return BenchRecord(
        **common,
        answer=result.answer,
        correct=dataset.grade(example, result.answer),
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        llm_calls=result.usage.llm_calls,
        difficulty_score=result.difficulty.score,
        difficulty_bin=result.difficulty.bin,
        plan=dict(result.plan),
        candidates=[
            BenchCandidate(
                id=c.id,
                answer=c.answer,
                score=c.score,
                seed=c.seed,
                round=c.round,
                chain=c.chain,
                completion_tokens=c.completion_tokens,
                mean_logprob=c.mean_logprob,
                parent_id=c.parent_id,
                step_scores=c.step_scores,
                complete=c.complete,
            )
            for c in result.candidates
        ],
    )


async def _run_all(
    todo: Sequence[tuple[Example, ReasoningConfig]],
    *,
    dataset: Dataset,
    generator: Generator,
    verifier: Verifier | VerifierFactory | None,
    concurrency: int,
    fail_fast: bool,
    on_record: Callable[[BenchRecord], None],
) -> list[BenchRecord]:
    """Run `todo` in order with `concurrency` workers, so at most that many are in flight."""
    records: list[BenchRecord] = []
    errors: list[ReasoningGraphError] = []
    workers = min(concurrency, len(todo))  # fail fast when this many first runs all fail
    pending = iter(todo)

    async def worker() -> None:
        for example, config in pending:  # one shared iterator: each run is taken once
            record, error = await _run_one(
                dataset, example, config, generator=generator, verifier=verifier
            )
            records.append(record)
            on_record(record)
            if error is not None:
                errors.append(error)
                if fail_fast and len(errors) >= workers and len(errors) == len(records):
                    raise error

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return records


# -- files and progress -------------------------------------------------------------------------


def _write_manifest(
    out: Path,
    dataset: Dataset,
    generator: Generator,
    strategies: Sequence[str],
    ns: Sequence[int],
    base: ReasoningConfig,
) -> None:
    """Write `bench.json`; refuse an `out` whose earlier bench used another model or config."""
    settings = base.model_dump(mode="json", exclude={"strategy", "n"})
    manifest = {
        "dataset": dataset.name,
        "model": generator.model_name,
        "strategies": list(strategies),
        "ns": list(ns),
        "config": settings,
    }
    path = out / MANIFEST_FILE
    if path.exists() and (out / RESULTS_FILE).exists():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            earlier = {}
        before = {"model": earlier.get("model"), **(earlier.get("config") or {})}
        now = {"model": generator.model_name, **settings}
        changed = [name for name, value in now.items() if name in before and before[name] != value]
        if changed:
            raise ConfigurationError(
                f"{out} holds a bench run with other settings ({', '.join(changed)} changed); "
                "pass a new --out directory, or the same settings to resume it"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _appender(path: Path) -> Iterator[Callable[[BenchRecord], None]]:
    """Open `results.jsonl` for appending; each record written is flushed at once.

    A last line cut off mid-write (a killed bench) is dropped first: its run is not done.
    """
    if path.exists():
        content = path.read_bytes()
        if content and not content.endswith(b"\n"):
            with path.open("r+b") as cut:
                cut.truncate(content.rfind(b"\n") + 1)
    with path.open("a", encoding="utf-8") as results:

        def append(record: BenchRecord) -> None:
            results.write(record.model_dump_json() + "\n")
            results.flush()

        yield append


class _Progress:
    """Runs done, accuracy and completion tokens so far; a rich bar on stderr when shown."""

    def __init__(self, records: Iterable[BenchRecord], *, total: int, show: bool) -> None:
        self.done = self.correct = self.tokens = 0
        self._bar: Progress | None = None
        if show:
            self._bar = Progress(
                TextColumn("bench"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs, accuracy {task.fields[accuracy]},"),
                TextColumn("{task.fields[tokens]} completion tokens"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task("bench", total=total, accuracy="-", tokens="0")
        for record in records:
            self.add(record)

    def add(self, record: BenchRecord) -> None:
        self.done += 1
        self.correct += record.correct
        self.tokens += record.completion_tokens
        self._show()

    def _show(self) -> None:
        if self._bar is None:
            return
        accuracy = f"{self.correct / self.done:.1%}" if self.done else "-"
        self._bar.update(
            self._task, completed=self.done, accuracy=accuracy, tokens=f"{self.tokens:,}"
        )

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
