"""The bench report: Wilson intervals, the summary table, shared difficulty bins, plots."""

from __future__ import annotations

import json

import pytest

from reasoning_graph.bench.records import BenchCandidate, BenchRecord
from reasoning_graph.bench.report import (
    Summary,
    difficulty_bins,
    summarize,
    wilson_interval,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def record(
    example: str,
    *,
    strategy: str = "self_consistency",
    n: int = 4,
    correct: bool = True,
    tokens: int = 40,
    calls: int = 1,
    seconds: float = 1.0,
    difficulty: float | None = None,
    error: str | None = None,
    dataset: str = "toy",
) -> BenchRecord:
    return BenchRecord(
        dataset=dataset,
        example_id=example,
        question=f"question {example}",
        gold="1",
        strategy=strategy,
        n=n,
        answer="1" if correct else "2",
        correct=correct,
        prompt_tokens=10,
        completion_tokens=tokens,
        llm_calls=calls,
        seconds=seconds,
        difficulty_score=difficulty,
        candidates=[
            BenchCandidate(
                id=f"c{i}",
                answer="1",
                score=None,
                seed=i,
                round=0,
                chain=None,
                completion_tokens=tokens // n,
            )
            for i in range(0 if error else n)
        ],
        error=error,
    )


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Wilson score intervals at z = 1.959964, computed independently of the code under test.
        (8, 10, 0.4901625, 0.9433178),
        (0, 10, 0.0, 0.2775328),
        (10, 10, 0.7224672, 1.0),
        (50, 100, 0.4038315, 0.5961685),
        (1, 3, 0.0614919, 0.7923403),
        (0, 0, 0.0, 1.0),
    ],
)
def test_wilson_interval_matches_known_values(successes, trials, low, high):
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-6)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)


def test_summary_rows_per_strategy_and_n():
    records = [
        record("a", n=1, correct=True, tokens=10, calls=1, seconds=0.5),
        record("b", n=1, correct=False, tokens=30, calls=3, seconds=1.5),
        record("c", n=1, correct=False, tokens=0, calls=0, seconds=0.1, error="ProviderError: x"),
        record("a", n=4, correct=True, tokens=40),
        record("a", strategy="weighted_vote", n=4, correct=False),
        record("a", strategy="weighted_vote", n=4, correct=True),  # a later record of a run wins
    ]
    summary = summarize(records)
    assert summary.datasets == ["toy"] and summary.questions == 3
    assert [(r.strategy, r.n, r.questions) for r in summary.rows] == [
        ("self_consistency", 1, 3),
        ("self_consistency", 4, 1),
        ("weighted_vote", 4, 1),
    ]
    row = summary.rows[0]
    assert (row.correct, row.errors) == (1, 1)
    assert row.accuracy == pytest.approx(1 / 3)
    assert (row.ci_low, row.ci_high) == pytest.approx(wilson_interval(1, 3))
    assert row.mean_completion_tokens == pytest.approx(40 / 3)
    assert row.mean_llm_calls == pytest.approx(4 / 3)
    assert row.wall_seconds == pytest.approx(2.1)
    assert summary.rows[2].accuracy == 1.0


def test_difficulty_bins_are_quintiles_of_one_reference_score_per_question():
    records = []
    for i in range(10):
        # The n=8 run has the most samples: its score is the question's reference.
        records.append(record(f"q{i}", n=8, difficulty=i / 10))
        records.append(record(f"q{i}", n=2, difficulty=1 - i / 10))
        records.append(record(f"q{i}", strategy="best_of_n", n=1))  # no estimate
    bins = difficulty_bins(records)
    assert {q: b for (_, q), (b, _) in bins.items()} == {f"q{i}": 1 + i // 2 for i in range(10)}
    assert bins[("toy", "q3")] == (2, 0.3)


def test_equal_scores_share_a_bin_and_unscored_questions_are_left_out():
    records = [record(f"q{i}", difficulty=0.5 if i < 4 else 0.9) for i in range(5)]
    records.append(record("lonely", n=1))
    bins = difficulty_bins(records)
    assert {q: b for (_, q), (b, _) in bins.items()} == {
        "q0": 1,
        "q1": 1,
        "q2": 1,
        "q3": 1,
        "q4": 5,
    }
    summary = summarize(records)
    assert summary.unbinned_questions == 1
    assert summary.bin_ranges == {1: (0.5, 0.5), 5: (0.9, 0.9)}
    assert [(d.n, d.bin, d.questions) for d in summary.by_difficulty] == [(4, 1, 4), (4, 5, 1)]


def test_write_report_writes_tables_and_plots(tmp_path):
    records = [
        record(
            f"q{i}",
            strategy=strategy,
            n=n,
            correct=(i + n) % 3 != 0,
            tokens=25 * n,
            difficulty=i / 6,
        )
        for strategy in ("self_consistency", "weighted_vote")
        for n in (1, 2, 4)
        for i in range(6)
    ]
    summary = write_report(records, tmp_path / "report")

    out = tmp_path / "report"
    assert Summary.model_validate(json.loads((out / "summary.json").read_text())) == summary
    markdown = (out / "summary.md").read_text()
    row = summary.rows[0]
    assert (
        f"| self_consistency | 1 | - | 6 | {row.accuracy:.1%} "
        f"| {row.ci_low:.1%} - {row.ci_high:.1%} | 25.0 |" in markdown
    )
    assert "## Accuracy by difficulty bin" in markdown
    for name in ("accuracy_vs_tokens.png", "accuracy_by_difficulty.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, name


def test_plots_are_written_when_nothing_can_be_binned_or_every_run_failed(tmp_path):
    records = [record("a", n=1, correct=False, tokens=0, error="NoCandidatesError: x")]
    summary = write_report(records, tmp_path)
    assert summary.by_difficulty == [] and summary.rows[0].errors == 1
    for name in ("accuracy_vs_tokens.png", "accuracy_by_difficulty.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)


def test_plot_titles_drop_parameters_even_with_plus_signs_inside():
    from types import SimpleNamespace

    from reasoning_graph.bench.plots import _short_name

    mix = "basic_arithmetic[operators=+,-]+basic_arithmetic[max_digits=2,operators=+,-]"
    summary = SimpleNamespace(datasets=[mix, "gsm8k-test"])
    assert _short_name(summary) == "basic_arithmetic, gsm8k-test"


def test_collapsed_bins_are_named_in_the_summary_and_on_the_plot(tmp_path):
    from reasoning_graph.bench.plots import plot_accuracy_by_difficulty

    records = [record(f"q{i}", difficulty=0.75) for i in range(6)]  # every score ties
    summary = write_report(records, tmp_path)
    assert summary.bin_ranges == {1: (0.75, 0.75)}
    assert summary.bins_note == (
        "bins collapsed: 6 questions have 1 distinct difficulty score (equal scores share a "
        "bin), so they fill 1 of 5 difficulty bins"
    )
    markdown = (tmp_path / "summary.md").read_text()
    assert f"Note: {summary.bins_note}." in markdown
    assert "| bin 1 (0.75) |" in markdown and "0.75-0.75" not in markdown
    figure = plot_accuracy_by_difficulty(summary, tmp_path / "difficulty.png")
    title = " ".join(figure.get_suptitle().split())
    assert "bins collapsed: 6 questions have 1 distinct difficulty score" in title
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["bin 1\n(0.75)"]


def test_few_questions_and_full_bins_are_named_or_not():
    few = summarize([record(f"q{i}", difficulty=i / 3) for i in range(3)])
    assert (
        few.bins_note
        == "only 3 questions have a difficulty score, so they fill 3 of 5 difficulty bins"
    )
    full = summarize([record(f"q{i}", difficulty=i / 10) for i in range(10)])
    assert full.bins_note is None and full.bin_label(2) == "bin 2 (0.20-0.30)"
