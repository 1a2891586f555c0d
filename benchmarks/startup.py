"""Startup benchmark (issue 10): `reasoning-graph --help` and `import reasoning_graph` times.

Each command runs `--runs` times in a fresh interpreter (after one warm-up run that fills the
OS file cache), interleaved so a busy spell hits every command alike. It reports the median
and the fastest wall time of each, and the median as a ratio to `python -c pass` (the
interpreter's own start), which travels between machines better than seconds do. Target:
`--help` under 0.5 s. It also lists which heavy libraries each command imported (none should
be: the openai SDK, LangChain's chat model, sympy, llama.cpp, langgraph's graph).

Usage:
    python benchmarks/startup.py [--runs 20] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _docs import Columns, markdown_table, provenance, rich_table, write_section
from rich.console import Console

SECTION = "## Startup (issue 10)"
TARGET_S = 0.5
HEAVY = (
    "openai",
    "langchain_core.language_models.chat_models",
    "sympy",
    "llama_cpp",
    "langgraph.graph",
)


def commands() -> dict[str, list[str]]:
    """What is timed, by label: each a fresh process."""
    python = sys.executable
    script = shutil.which("reasoning-graph") or str(Path(python).with_name("reasoning-graph"))
    return {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import reasoning_graph'": [python, "-c", "import reasoning_graph"],
        "reasoning-graph --help": [script, "--help"],
        "reasoning-graph solve --help": [script, "solve", "--help"],
    }


def heavy_imports(code: str) -> list[str]:
    """The `HEAVY` modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return [m for m in done.stdout.strip().split(",") if m]


def time_runs(runs: int) -> dict[str, list[float]]:
    """Wall seconds of each command, `runs` times, interleaved, after one warm-up each."""
    timed = commands()
    seconds: dict[str, list[float]] = {label: [] for label in timed}
    for argv in timed.values():
        subprocess.run(argv, capture_output=True, check=True)
    for _ in range(runs):
        for label, argv in timed.items():
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            seconds[label].append(time.perf_counter() - start)
    return seconds


def table(seconds: dict[str, list[float]]) -> Columns:
    base = statistics.median(seconds["python -c pass"])
    header = ["command", "median s", "fastest s", "median / python -c pass"]
    rows = [
        [
            f"`{label}`",
            f"{statistics.median(times):.3f}",
            f"{min(times):.3f}",
            f"{statistics.median(times) / base:.1f}x",
        ]
        for label, times in seconds.items()
    ]
    return header, rows


def verdict(seconds: dict[str, list[float]]) -> str:
    help_s = statistics.median(seconds["reasoning-graph --help"])
    met = "meets" if help_s < TARGET_S else "misses"
    return f"`reasoning-graph --help`: median {help_s:.3f} s, {met} the {TARGET_S} s target."


def markdown(seconds: dict[str, list[float]], runs: int, imports: dict[str, list[str]]) -> str:
    loaded = "; ".join(f"`{code}`: {', '.join(found) or 'none'}" for code, found in imports.items())
    return "\n".join(
        [
            SECTION,
            "",
            *provenance("benchmarks/startup.py"),
            f"- Each command in a fresh process, {runs} runs after one warm-up, interleaved.",
            f"- Heavy libraries imported ({', '.join(HEAVY)}): {loaded}.",
            "",
            *markdown_table(table(seconds), align="---:"),
            "",
            verdict(seconds),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command")
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    imports = {
        "import reasoning_graph": heavy_imports("import reasoning_graph"),
        "--help": heavy_imports(
            "from reasoning_graph.cli.parser import build_parser\nbuild_parser().format_help()"
        ),
    }
    seconds = time_runs(args.runs)
    console = Console()
    console.print(rich_table("startup", table(seconds), justify="right"))
    console.print(verdict(seconds))
    section = markdown(seconds, args.runs, imports)
    print("\n" + section)
    if args.write is not None:
        write_section(args.write, SECTION, section)
        console.print(f"wrote section {SECTION!r} to {args.write}")


if __name__ == "__main__":
    main()
