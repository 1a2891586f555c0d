"""`BenchRecord`: one question answered by one strategy at one budget, as written to JSONL.

This is the contract between the bench runner (which writes records), the report (which
summarises and plots them), replay, and `calibrate` (which fits a compute-optimal policy from
them). Candidates are kept in launch order with their seeds, so the first `k` candidates of a
sampling run are exactly the `k` samples a probe of size `k` would draw.

The records of a bench live in `results.jsonl`, one per line, appended and flushed as each
run finishes (`record_appender`); `load_records` reads them back. A run is one (data set,
example, strategy, n, token budget): `record_key`. When the same run appears twice, the
later line wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from reasoning_graph.confidence import Confidence
from reasoning_graph.errors import ConfigurationError

if TYPE_CHECKING:
    from reasoning_graph.bench.datasets import Example
    from reasoning_graph.config import ReasoningConfig
    from reasoning_graph.result import Result

__all__ = [
    "RECORD_VERSION",
    "RESULTS_FILE",
    "BenchCandidate",
    "BenchRecord",
    "RecordKey",
    "load_records",
    "make_record",
    "record_appender",
    "record_key",
]

RESULTS_FILE = "results.jsonl"

RECORD_VERSION = 2
"""2: `llm_calls` counts generations and verifier scores (8 samples of one `n=8` request are
8 calls) and `requests` the requests behind them. A version 1 record's `llm_calls` counted
requests, and it has no `requests`."""


class BenchCandidate(BaseModel):
    """What a record keeps of each candidate (no full text: records stay small)."""

    model_config = ConfigDict(frozen=True)

    id: str
    answer: str | None
    score: float | None
    seed: int | None
    round: int
    chain: int | None
    completion_tokens: int | None
    mean_logprob: float | None = None
    confidence: Confidence | None = None
    """Token confidence (`reasoning_graph.confidence`), when the provider returned logprobs."""
    parent_id: str | None = None
    step_scores: list[float] | None = None
    complete: bool | None = None


class BenchRecord(BaseModel):
    """One (question, strategy, budget) run of a benchmark."""

    model_config = ConfigDict(frozen=True)

    version: int = RECORD_VERSION
    dataset: str
    example_id: str
    split: str | None = None
    question: str
    gold: str
    human_difficulty: str | None = None
    """The data set's own difficulty label (e.g. MATH level, a reasoning-gym setting)."""
    strategy: str
    n: int
    budget_tokens: int | None = None
    answer: str | None
    correct: bool
    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    """Generations and verifier scores (see `reasoning_graph.usage`)."""
    requests: int | None = None
    """The requests behind `llm_calls`; `None` in version 1 records."""
    seconds: float
    difficulty_score: float | None = None
    difficulty_bin: int | None = None
    plan: dict[str, object] | None = None
    """For `compute_optimal`: the plan the controller chose."""
    candidates: list[BenchCandidate]
    error: str | None = None


def make_record(
    dataset: str,
    example: Example,
    config: ReasoningConfig,
    result: Result | None,
    seconds: float,
    *,
    correct: bool = False,
    error: str | None = None,
) -> BenchRecord:
    """The record of one run: `result` (graded `correct`), or its `error` when it failed.

    `strategy` and `n` are the ones asked for (`plan` says what `compute_optimal` ran).
    """
    split = example.metadata.get("split")
    common = BenchRecord(
        dataset=dataset,
        example_id=example.id,
        split=split if isinstance(split, str) else None,
        question=example.question,
        gold=example.gold,
        human_difficulty=example.human_difficulty,
        strategy=config.strategy,
        n=config.n,
        budget_tokens=config.budget_tokens,
        seconds=round(seconds, 4),
        answer=None,
        correct=False,
        prompt_tokens=0,
        completion_tokens=0,
        llm_calls=0,
        requests=0,
        candidates=[],
        error=error,
    )
    if result is None:
        return common
    kept = set(BenchCandidate.model_fields)
    return common.model_copy(
        update={
            "answer": result.answer,
            "correct": correct,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "llm_calls": result.usage.llm_calls,
            "requests": result.usage.requests,
            "difficulty_score": result.difficulty.score,
            "difficulty_bin": result.difficulty.bin,
            "plan": dict(result.plan),
            "candidates": [BenchCandidate(**c.model_dump(include=kept)) for c in result.candidates],
        }
    )


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


@contextmanager
def record_appender(path: Path) -> Iterator[Callable[[BenchRecord], None]]:
    """Open `results.jsonl` for appending; each record written is flushed at once.

    A last line cut off mid-write (a killed bench) is dropped first: its run is not done.

    Example:
        ```python
        with record_appender(out / RESULTS_FILE) as append:
            append(record)
        ```
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
