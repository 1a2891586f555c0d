"""The bench report: accuracy per strategy and budget, with intervals, tables and plots.

`write_report(records, out_dir)` writes:

- `summary.md` and `summary.json`: one row per strategy x n (x token budget): questions,
  accuracy with a 95% Wilson score interval, mean completion tokens, mean model calls
  (generations and verifier scores) and mean requests, summed wall seconds and failed runs;
  then accuracy per difficulty bin.
- `accuracy_vs_tokens.png`: accuracy (Wilson error bars) against mean completion tokens on a
  log2 axis, one line per strategy, each point labelled with its `n`.
- `accuracy_by_difficulty.png`: accuracy per difficulty bin, one panel per `n`, one bar per
  strategy.

Difficulty bins are per question, shared by every strategy: a question's reference
difficulty is the `difficulty_score` of its record with the most candidates (ties: the larger
`n`, then the strategy name), and the questions are split into quintiles of that score. A
question's bin is `1 + floor(5 * below / count)`, `below` being the number of questions with
a strictly lower score, so equal scores always share a bin (bins can be uneven when many
questions tie). Questions with no score (every record of them had one sample, or failed)
are left out of the per-bin figures. Failed runs count as wrong everywhere.

Plots need matplotlib (the `bench` extra); they are drawn with the Agg renderer, no display
(`reasoning_graph.bench.plots`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from reasoning_graph.bench.plots import plot_accuracy_by_difficulty, plot_accuracy_vs_tokens
from reasoning_graph.bench.records import BenchRecord, record_key

__all__ = [
    "DIFFICULTY_QUANTILES",
    "DifficultyRow",
    "Summary",
    "SummaryRow",
    "difficulty_bins",
    "format_summary",
    "summarize",
    "wilson_interval",
    "write_report",
]

DIFFICULTY_QUANTILES = 5
_Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


class SummaryRow(BaseModel):
    """One strategy at one `n` (and token budget) over the whole data set."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    n: int
    budget_tokens: int | None
    questions: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_completion_tokens: float
    mean_llm_calls: float
    """Generations and verifier scores per question."""
    mean_requests: float | None = None
    """Requests per question, over the records that say (`None` when none do)."""
    wall_seconds: float
    """Summed over the runs; runs overlap when the bench ran them concurrently."""
    errors: int


class DifficultyRow(BaseModel):
    """One strategy at one `n` (and token budget) on the questions of one difficulty bin."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    n: int
    budget_tokens: int | None
    bin: int
    questions: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float


class Summary(BaseModel):
    """What `write_report` found; written as `summary.json`."""

    model_config = ConfigDict(frozen=True)

    datasets: list[str]
    questions: int
    rows: list[SummaryRow]
    by_difficulty: list[DifficultyRow]
    bin_ranges: dict[int, tuple[float, float]]
    """Lowest and highest reference difficulty score of the questions in each bin."""
    unbinned_questions: int
    bins_note: str | None = None
    """Why the questions fill fewer than `DIFFICULTY_QUANTILES` bins (too few questions, or
    tied scores), when they do; shown under the table and on the difficulty plot."""

    def bin_label(self, number: int) -> str:
        """`bin 2 (0.20-0.40)`, or `bin 1 (0.75)` when its questions share one score."""
        low, high = (f"{score:.2f}" for score in self.bin_ranges[number])
        return f"bin {number} ({low if low == high else f'{low}-{high}'})"


def wilson_interval(successes: int, trials: int, *, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or `trials`
    successes. With no trials it is (0, 1): nothing is known.

    Example:
        ```python
        wilson_interval(8, 10)  # (0.4902, 0.9433), rounded
        ```
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return min(low, p), max(high, p)


def difficulty_bins(
    records: Iterable[BenchRecord], *, quantiles: int = DIFFICULTY_QUANTILES
) -> dict[tuple[str, str], tuple[int, float]]:
    """Each question's difficulty bin (1 easiest) and reference score; see the module doc.

    Returns:
        `(dataset, example_id) -> (bin, reference score)` for every question that has a
        reference score.
    """
    reference: dict[tuple[str, str], tuple[tuple[int, int, str], float]] = {}
    for record in records:
        if record.difficulty_score is None:
            continue
        question = (record.dataset, record.example_id)
        rank = (len(record.candidates), record.n, record.strategy)
        if question not in reference or rank > reference[question][0]:
            reference[question] = (rank, record.difficulty_score)
    scores = sorted(score for _, score in reference.values())
    count = len(scores)
    bins = min(quantiles, count)
    below: dict[float, int] = {}
    for position, score in enumerate(scores):
        below.setdefault(score, position)
    return {
        question: (1 + bins * below[score] // count, score)
        for question, (_, score) in reference.items()
    }


def summarize(records: Iterable[BenchRecord]) -> Summary:
    """Summarise records (the later of two records of one run wins); see the module doc."""
    unique = list({record_key(r): r for r in records}.values())
    groups: dict[tuple[str, int, int | None], list[BenchRecord]] = defaultdict(list)
    for record in unique:
        groups[(record.strategy, record.n, record.budget_tokens)].append(record)
    order = sorted(groups, key=lambda g: (g[0], g[2] or 0, g[1]))
    rows = [_row(key, groups[key]) for key in order]
    bins = difficulty_bins(unique)
    by_difficulty: list[DifficultyRow] = []
    for key in order:
        per_bin: dict[int, list[BenchRecord]] = defaultdict(list)
        for record in groups[key]:
            binned = bins.get((record.dataset, record.example_id))
            if binned is not None:
                per_bin[binned[0]].append(record)
        for number in sorted(per_bin):
            correct = sum(r.correct for r in per_bin[number])
            total = len(per_bin[number])
            low, high = wilson_interval(correct, total)
            by_difficulty.append(
                DifficultyRow(
                    strategy=key[0],
                    n=key[1],
                    budget_tokens=key[2],
                    bin=number,
                    questions=total,
                    correct=correct,
                    accuracy=correct / total,
                    ci_low=low,
                    ci_high=high,
                )
            )
    ranges: dict[int, tuple[float, float]] = {}
    for number, score in bins.values():
        low, high = ranges.get(number, (score, score))
        ranges[number] = (min(low, score), max(high, score))
    questions = {(r.dataset, r.example_id) for r in unique}
    return Summary(
        datasets=sorted({r.dataset for r in unique}),
        questions=len(questions),
        rows=rows,
        by_difficulty=by_difficulty,
        bin_ranges=dict(sorted(ranges.items())),
        unbinned_questions=len(questions - bins.keys()),
        bins_note=_bins_note(bins, len(ranges)),
    )


def _bins_note(bins: dict[tuple[str, str], tuple[int, float]], used: int) -> str | None:
    """What to say when the binned questions fill fewer than the quintiles' bins."""
    if not bins or used >= DIFFICULTY_QUANTILES:
        return None
    filled = f"{used} of {DIFFICULTY_QUANTILES} difficulty bins"
    if len(bins) < DIFFICULTY_QUANTILES:
        return f"only {len(bins)} questions have a difficulty score, so they fill {filled}"
    distinct = len({score for _, score in bins.values()})
    return (
        f"bins collapsed: {len(bins)} questions have {distinct} distinct difficulty "
        f"score{'s' if distinct != 1 else ''} (equal scores share a bin), so they fill {filled}"
    )


def _row(key: tuple[str, int, int | None], records: Sequence[BenchRecord]) -> SummaryRow:
    correct = sum(r.correct for r in records)
    low, high = wilson_interval(correct, len(records))
    requests = [r.requests for r in records if r.requests is not None]
    return SummaryRow(
        strategy=key[0],
        n=key[1],
        budget_tokens=key[2],
        questions=len(records),
        correct=correct,
        accuracy=correct / len(records),
        ci_low=low,
        ci_high=high,
        mean_completion_tokens=sum(r.completion_tokens for r in records) / len(records),
        mean_llm_calls=sum(r.llm_calls for r in records) / len(records),
        mean_requests=sum(requests) / len(requests) if requests else None,
        wall_seconds=sum(r.seconds for r in records),
        errors=sum(r.error is not None for r in records),
    )


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_summary(summary: Summary) -> str:
    """The summary as Markdown: the main table, then accuracy per difficulty bin."""
    lines = [
        f"# Bench summary: {', '.join(summary.datasets) or 'no records'}",
        "",
        f"{summary.questions} questions. Accuracy with a 95% Wilson interval; failed runs "
        "count as wrong; wall seconds are summed over runs.",
        "",
        "| strategy | n | budget | questions | accuracy | 95% CI | mean completion tokens "
        "| mean calls | mean requests | wall s | errors |",
        "|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for row in summary.rows:
        lines.append(
            f"| {row.strategy} | {row.n} | {row.budget_tokens or '-'} | {row.questions} "
            f"| {row.accuracy:.1%} | {row.ci_low:.1%} - {row.ci_high:.1%} "
            f"| {row.mean_completion_tokens:.1f} | {row.mean_llm_calls:.2f} "
            f"| {_mean(row.mean_requests)} | {row.wall_seconds:.1f} | {row.errors} |"
        )
    if summary.by_difficulty:
        bins = sorted(summary.bin_ranges)
        lines += [
            "",
            "## Accuracy by difficulty bin",
            "",
            "Bins are quintiles of each question's reference difficulty score (the "
            "controller's estimate in its record with the most samples), shared by every "
            f"strategy; {summary.unbinned_questions} questions had no score."
            + (f" Note: {summary.bins_note}." if summary.bins_note else ""),
            "",
            "| strategy | n | budget | " + " | ".join(summary.bin_label(b) for b in bins) + " |",
            "|---|--:|--:|" + "--:|" * len(bins),
        ]
        cells: dict[tuple[str, int, int | None], dict[int, str]] = defaultdict(dict)
        for d in summary.by_difficulty:
            cells[(d.strategy, d.n, d.budget_tokens)][d.bin] = f"{d.accuracy:.0%} ({d.questions})"
        for (strategy, n, budget), by_bin in cells.items():
            values = " | ".join(by_bin.get(b, "-") for b in bins)
            lines.append(f"| {strategy} | {n} | {budget or '-'} | {values} |")
    return "\n".join(lines) + "\n"


def write_report(records: Iterable[BenchRecord], out_dir: str | Path) -> Summary:
    """Write `summary.md`, `summary.json` and the two plots into `out_dir`; see the module doc.

    Raises:
        ConfigurationError: matplotlib is missing (the summary files are written first).

    Example:
        ```python
        summary = write_report(load_records("runs/gsm8k"), "runs/gsm8k")
        [(row.strategy, row.n, row.accuracy) for row in summary.rows]
        ```
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(records)
    (out / "summary.md").write_text(format_summary(summary), encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
    )
    plot_accuracy_vs_tokens(summary, out / "accuracy_vs_tokens.png")
    plot_accuracy_by_difficulty(summary, out / "accuracy_by_difficulty.png")
    return summary
