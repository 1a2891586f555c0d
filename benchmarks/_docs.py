"""Helpers the benchmark scripts share: describe the machine, write a docs section."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from pathlib import Path
from typing import Literal

from rich.table import Table

Columns = tuple[list[str], list[list[str]]]
"""A table as (header, rows), every cell already text."""


def machine() -> str:
    """CPU model, cores, Python and OS, in one line."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()} "
        f"({platform.python_implementation()}); {platform.platform()}"
    )


def provenance(script: str) -> list[str]:
    """The Markdown bullets that say how a section was made: command, machine, date."""
    command = " ".join(["python", script, *sys.argv[1:]])
    return [
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.datetime.now(datetime.UTC).date().isoformat()}",
    ]


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section under `heading` in `path` (up to the next `## `), or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def rich_table(
    title: str, columns: Columns, *, justify: Literal["left", "right"] = "left"
) -> Table:
    """A rich table of `columns` for the console."""
    header, rows = columns
    table = Table(title=title)
    for column in header:
        table.add_column(column, justify=justify, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(columns: Columns, *, align: str = "---") -> list[str]:
    """The lines of a Markdown table of `columns`; `align` is the separator cell."""
    header, rows = columns
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
