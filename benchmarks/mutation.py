"""Mutation score (issue 13): how many small bugs planted in the core do the fast tests catch?

Runs mutmut 3 (`pip install -e '.[dev]'` has it) with the `[tool.mutmut]` table of
pyproject.toml: it mutates `reasoning_graph/nodes/`, `reasoning_graph/strategies/`,
`reasoning_graph/answers.py` and `reasoning_graph/providers/openai.py` one small change at a
time (an operator, a constant, a string, an argument dropped or set to `None`) and runs, for
each mutant, only the fast tests that call the mutated function (mutmut records which tests
reach which function in one run of the whole selection first). A mutant that `mypy --strict`
rejects is counted apart ("caught by type check") and never run against the tests.

A mutant is *killed* when a test fails (or times out) with it. The report gives two scores:
the share of all mutants killed by the tests or rejected by mypy, and the tests' own share
among the mutants that type-check. It lists every survivor by name; `mutmut show NAME` prints
its diff. Results persist in `mutants/` (git-ignored): a second run only tests mutants without
a result, so an interrupted run resumes; `--fresh` starts over, `--rerun-survivors` re-tests
only the survivors (after adding tests). A change to `[tool.mutmut]`'s tests or pytest options
makes mutmut reset every result (a full run again). CI does not run this: a full run took
31 minutes with `--max-children 2` on 2 cores (2026-12-03, 4674 mutants).

Usage:
    python benchmarks/mutation.py [--max-children 2] [--fresh | --rerun-survivors]
        [--report-only] [--write docs/reliability.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from _docs import Columns, markdown_table, provenance, rich_table, write_section
from rich.console import Console

SECTION = "## Mutation score (issue 13)"
ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), folded to what we count.
STATUS = {
    1: "killed",
    3: "killed",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "type check",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    None: "not checked",
}
COLUMNS = ("killed", "timeout", "type check", "survived", "no tests", "not checked", "other")


@dataclass
class Module:
    """The mutants of one source file, by status."""

    path: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def caught(self) -> int:
        return self.counts["killed"] + self.counts["timeout"] + self.counts["type check"]

    @property
    def decided(self) -> int:
        return sum(self.counts.values()) - self.counts["not checked"]

    @property
    def typed(self) -> int:
        """Mutants that type-check and were run against the tests."""
        return self.decided - self.counts["type check"]


def read_results() -> list[Module]:
    """Every mutated file's mutants, from mutmut's `.meta` files under `mutants/`."""
    modules = []
    for meta in sorted(MUTANTS.glob("reasoning_graph/**/*.py.meta")):
        results: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not results:
            continue
        module = Module(str(meta.relative_to(MUTANTS)).removesuffix(".meta"))
        for name, code in sorted(results.items(), key=lambda item: _mutant_order(item[0])):
            status = STATUS.get(code, "other")
            module.counts[status] += 1
            if status in ("survived", "no tests"):
                module.survivors.append(name)
        modules.append(module)
    return modules


def _mutant_order(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "-"


def columns(modules: list[Module], *, markdown: bool = False) -> Columns:
    header = ["module", "mutants", *COLUMNS, "score", "tests' score"]
    rows = []
    total = Module("total")
    for module in modules:
        total.counts.update(module.counts)
        name = module.path.removeprefix("reasoning_graph/")
        rows.append(_row(module, f"`{name}`" if markdown else name))
    rows.append(_row(total, "**total**" if markdown else "total"))
    return header, rows


def _row(module: Module, name: str) -> list[str]:
    tested = module.counts["killed"] + module.counts["timeout"]
    return [
        name,
        str(sum(module.counts.values())),
        *(str(module.counts[c]) for c in COLUMNS),
        share(module.caught, module.decided),
        share(tested, module.typed),
    ]


def mutmut_command() -> str | None:
    """The `mutmut` script of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "mutmut"
    return str(beside) if beside.exists() else shutil.which("mutmut")


def run_mutmut(mutmut: str, max_children: int, names: list[str]) -> float:
    """`mutmut run` from the repository root; the wall time it took.

    This Python's scripts come first on PATH: mutmut runs `mypy` by name (the type check in
    `[tool.mutmut]`), and a virtual environment that is not activated is not on PATH.
    """
    command = [mutmut, "run", "--max-children", str(max_children), *names]
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, env=env)
    return time.perf_counter() - started


def markdown(modules: list[Module], seconds: float | None, max_children: int) -> str:
    header, rows = columns(modules, markdown=True)
    survivors = [name for module in modules for name in module.survivors]
    unchecked = sum(m.counts["not checked"] for m in modules)
    lines = [
        SECTION,
        "",
        *provenance("benchmarks/mutation.py"),
        f"- Tool: mutmut {version('mutmut')}, `--max-children {max_children}`; the mutated "
        "files, the tests and the deselected ones are `[tool.mutmut]` in pyproject.toml",
    ]
    if seconds is not None:
        lines.append(f"- Wall time of this invocation: {seconds / 60:.1f} min")
    if unchecked:
        lines.append(f"- Not checked (the run stopped before them): {unchecked} mutants")
    lines += [
        "",
        "*score*: mutants killed by a test (a failure or a timeout) or rejected by "
        "`mypy --strict`, over the mutants with a result; *tests' score*: killed by a test, "
        "over the mutants that type-check. *no tests*: no selected test calls the function.",
        "",
        *markdown_table((header, rows)),
        "",
        f"Survivors ({len(survivors)}; `mutmut show NAME` prints the change; judged below):",
        "",
        *(f"- `{name}`" for name in survivors),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first")
    parser.add_argument(
        "--rerun-survivors", action="store_true", help="re-test only the survivors so far"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="report mutants/ as it is, run nothing"
    )
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    seconds = None
    if not args.report_only:
        mutmut = mutmut_command()
        if mutmut is None:
            sys.exit("mutmut is not installed: pip install -e '.[dev]' (or pip install mutmut)")
        names: list[str] = []
        if args.fresh:
            shutil.rmtree(MUTANTS, ignore_errors=True)
        elif args.rerun_survivors:
            names = [name for module in read_results() for name in module.survivors]
            if not names:
                sys.exit("no survivors to re-test")
        seconds = run_mutmut(mutmut, args.max_children, names)
    modules = read_results()
    if not modules:
        sys.exit("no results under mutants/: run without --report-only first")
    Console(width=160).print(rich_table("mutation score", columns(modules), justify="right"))
    if args.write:
        write_section(args.write, SECTION, markdown(modules, seconds, args.max_children))


if __name__ == "__main__":
    main()
