"""The bench's two plots: accuracy against compute, and accuracy per difficulty bin.

Drawn with matplotlib's Agg renderer (no pyplot, no display); matplotlib is the `bench`
extra, imported when a plot is drawn.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from reasoning_graph.errors import ConfigurationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from reasoning_graph.bench.report import Summary, SummaryRow

__all__ = ["plot_accuracy_by_difficulty", "plot_accuracy_vs_tokens"]


def _figure(width: float, height: float, panels: int = 1) -> tuple[Figure, list[Axes]]:
    """A matplotlib figure on the Agg renderer (no pyplot, no display) and its axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(
            "the bench plots need matplotlib: pip install 'reasoning-graph[bench]' "
            "(or pip install matplotlib)"
        ) from None
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, sharey=True, squeeze=False)[0]
    return figure, list(axes)


def _short_name(summary: Summary) -> str:
    """The data set names, parameters dropped and cut short, for a plot title."""
    bare = (re.sub(r"\[[^\]]*\]", "", name) for name in summary.datasets)
    names = dict.fromkeys(part for name in bare for part in name.split("+") if part)
    return textwrap.shorten(", ".join(names), width=60, placeholder="...")


def _label(strategy: str, budget: int | None) -> str:
    return strategy if budget is None else f"{strategy} (budget {budget})"


def plot_accuracy_vs_tokens(summary: Summary, path: Path) -> Figure:
    """Accuracy (Wilson error bars) against mean completion tokens, one line per strategy."""
    figure, (axes,) = _figure(7.0, 4.5)
    lines: dict[str, list[SummaryRow]] = defaultdict(list)
    for row in summary.rows:
        if row.mean_completion_tokens > 0:  # a log axis cannot show runs that all failed
            lines[_label(row.strategy, row.budget_tokens)].append(row)
    for label, rows in lines.items():
        rows.sort(key=lambda r: r.mean_completion_tokens)
        xs = [r.mean_completion_tokens for r in rows]
        ys = [r.accuracy for r in rows]
        errors = [[r.accuracy - r.ci_low for r in rows], [r.ci_high - r.accuracy for r in rows]]
        axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=label)
        for row in rows:
            axes.annotate(
                f"n={row.n}",
                (row.mean_completion_tokens, row.accuracy),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    if lines:
        axes.set_xscale("log", base=2)
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no completed runs", ha="center", transform=axes.transAxes)
    axes.set_xlabel("mean completion tokens per question (log2)")
    axes.set_ylabel("accuracy (95% Wilson interval)")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(f"Accuracy vs test-time compute: {_short_name(summary)}")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=120)
    return figure


def plot_accuracy_by_difficulty(summary: Summary, path: Path) -> Figure:
    """Accuracy per difficulty bin, one panel per `n`; says so when the bins collapsed."""
    ns = sorted({d.n for d in summary.by_difficulty}) or [0]
    figure, panels = _figure(max(5.0, 3.2 * len(ns)), 4.0, len(ns))
    bins = sorted(summary.bin_ranges)
    labels = sorted({_label(d.strategy, d.budget_tokens) for d in summary.by_difficulty})
    width = 0.8 / max(1, len(labels))
    for axes, n in zip(panels, ns, strict=True):
        for index, label in enumerate(labels):
            rows = [
                d
                for d in summary.by_difficulty
                if d.n == n and _label(d.strategy, d.budget_tokens) == label
            ]
            axes.bar(
                [d.bin - 0.4 + width * (index + 0.5) for d in rows],
                [d.accuracy for d in rows],
                width=width,
                yerr=[
                    [d.accuracy - d.ci_low for d in rows],
                    [d.ci_high - d.accuracy for d in rows],
                ],
                capsize=2,
                label=label,
            )
        axes.set_xticks(bins, [summary.bin_label(b).replace(" (", "\n(") for b in bins])
        axes.set_xlabel("difficulty bin (1 easiest)")
        axes.set_title(f"n={n}" if n else "no difficulty estimates")
        axes.set_ylim(0, 1.05)
        axes.grid(axis="y", alpha=0.3)
    panels[0].set_ylabel("accuracy (95% Wilson interval)")
    if labels:
        panels[-1].legend(fontsize=8)
    title = f"Accuracy by difficulty quintile: {_short_name(summary)}"
    note = f"\n{textwrap.fill(summary.bins_note, 90)}" if summary.bins_note else ""
    figure.suptitle(title + note)
    figure.savefig(path, dpi=120)
    return figure
