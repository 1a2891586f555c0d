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

The files live in `bench.records` (results) and `bench.manifest` (`bench.json`), the
progress bar in `bench.progress`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from reasoning_graph.answers import extract_answer
from reasoning_graph.bench.datasets import Dataset, Example
from reasoning_graph.bench.manifest import MANIFEST_FILE, write_manifest
from reasoning_graph.bench.progress import BenchProgress
from reasoning_graph.bench.records import (
    RESULTS_FILE,
    BenchRecord,
    RecordKey,
    load_records,
    make_record,
    record_appender,
    record_key,
)
from reasoning_graph.blocking import run_blocking
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError, ReasoningGraphError
from reasoning_graph.options import build_config
from reasoning_graph.providers.base import Generator
from reasoning_graph.solve import asolve
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
    write_manifest(
        out,
        dataset=dataset.name,
        model=generator.model_name,
        strategies=strategies,
        ns=ns,
        base=base,
        has_results=results_path.exists(),
    )
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
        BenchProgress(resumed, total=len(grid), show=progress) as tally,
        record_appender(results_path) as append,
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
    close: Sequence[object] = (),
) -> list[BenchRecord]:
    """Blocking wrapper of `arun_bench` (same arguments) on a new event loop.

    Args:
        close: More backends whose clients of that event loop to close when it ends, e.g.
            the generator inside a `CachingGenerator`; `generator` and `verifier` are always
            closed.
    """
    return run_blocking(
        lambda: arun_bench(
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
        ),
        generator,
        verifier,
        *close,
    )


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
        failed = f"{type(error).__name__}: {message}"
        return make_record(dataset.name, example, config, None, seconds, error=failed), error
    seconds = time.perf_counter() - started
    correct = dataset.grade(example, result.answer)
    return make_record(dataset.name, example, config, result, seconds, correct=correct), None


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
