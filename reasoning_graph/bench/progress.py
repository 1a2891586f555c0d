"""`BenchProgress`: runs done, accuracy and completion tokens, as a rich bar on stderr."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from reasoning_graph.bench.records import BenchRecord

__all__ = ["BenchProgress"]


class BenchProgress:
    """Runs done, accuracy and completion tokens so far; a rich bar on stderr when shown.

    Args:
        records: Runs already done (a resumed bench's); counted at once.
        total: Runs in the whole grid.
        show: Draw the bar; otherwise only count.

    Example:
        ```python
        with BenchProgress(resumed, total=len(grid), show=True) as tally:
            tally.add(record)
        ```
    """

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
        """Count one finished run."""
        self.done += 1
        self.correct += record.correct
        self.tokens += record.completion_tokens
        if self._bar is not None:
            accuracy = f"{self.correct / self.done:.1%}"
            self._bar.update(
                self._task, completed=self.done, accuracy=accuracy, tokens=f"{self.tokens:,}"
            )

    def __enter__(self) -> BenchProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
