"""Fan-out benchmark (issue 2): do `n` samples cost one call's latency, and what does the graph add?

Starts `OpenAIStubServer` (loopback, its own thread and event loop) with a fixed latency per
request and runs `self_consistency` through the real graph (`asolve`) and the real
`OpenAIProvider`:

- `share_prompt=False`: one `Send` branch per sample, each one HTTP request, all in parallel;
- `share_prompt=True`: one branch, one request with the server's `n`.

It reports wall time per question divided by the per-request latency (ideal: 1.0x whatever
`n` is), the requests made and the most the server saw in flight at once; then the same
runs with zero latency, as milliseconds per question and per candidate (nothing subtracted:
graph, provider, HTTP client and stub server together, on one machine).

Usage:
    python benchmarks/fanout.py [--latency 0.2] [--repeats 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reasoning_graph import asolve
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer

SIZES = (1, 4, 16, 64)
QUESTION = "What is 17 + 25?"
MAX_CONCURRENCY = 64
SECTION = "## Fan-out (issue 2)"


@dataclass
class Timing:
    """Wall times of repeated runs of one configuration, and what the server saw."""

    seconds: list[float]
    requests: int  # per question
    peak_in_flight: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)


async def run_config(
    server: OpenAIStubServer, provider: OpenAIProvider, n: int, share_prompt: bool, runs: int
) -> Timing:
    """Time `runs` questions after one warm-up question (connections, imports, caches)."""

    async def one() -> float:
        start = time.perf_counter()
        result = await asolve(
            QUESTION,
            generator=provider,
            strategy="self_consistency",
            n=n,
            share_prompt=share_prompt,
        )
        elapsed = time.perf_counter() - start
        if result.answer != "42" or len(result.candidates) != n:
            raise RuntimeError(f"unexpected result for n={n}: {result.answer!r}")
        return elapsed

    await one()
    server.reset()
    seconds = [await one() for _ in range(runs)]
    return Timing(seconds, len(server.requests) // runs, server.peak_in_flight)


async def single_call(server: OpenAIStubServer, provider: OpenAIProvider, runs: int) -> float:
    """Mean seconds of one bare `provider.generate(n=1)` call (no graph)."""
    messages = [{"role": "user", "content": QUESTION}]
    await provider.generate(messages, n=1)  # type: ignore[arg-type]
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        await provider.generate(messages, n=1)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - start)
    server.reset()
    return statistics.fmean(seconds)


async def measure(latency: float, repeats: int, overhead_runs: int) -> dict[str, object]:
    results: dict[str, object] = {}
    with (
        OpenAIStubServer(latency_s=latency) as slow,
        OpenAIStubServer(latency_s=0.0) as fast,
    ):
        slow_provider = OpenAIProvider(
            "stub", base_url=slow.base_url, api_key="bench", max_concurrency=MAX_CONCURRENCY
        )
        fast_provider = OpenAIProvider(
            "stub", base_url=fast.base_url, api_key="bench", max_concurrency=MAX_CONCURRENCY
        )
        try:
            results["single_call"] = await single_call(slow, slow_provider, repeats)
            for n in SIZES:
                for share_prompt in (False, True):
                    results[f"wall/{n}/{share_prompt}"] = await run_config(
                        slow, slow_provider, n, share_prompt, repeats
                    )
                    results[f"zero/{n}/{share_prompt}"] = await run_config(
                        fast, fast_provider, n, share_prompt, overhead_runs
                    )
        finally:
            await slow_provider.aclose()
            await fast_provider.aclose()
    return results


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{platform.platform()}"
    )


def tables(results: dict[str, object], latency: float) -> tuple[list[str], list[list[str]]]:
    header = [
        "n",
        "parallel: wall s",
        "parallel: x latency (worst)",
        "parallel: requests / peak in flight",
        "shared n: wall s",
        "shared n: x latency (worst)",
        "shared n: requests",
        "overhead parallel: ms/question (ms/candidate)",
        "overhead shared n: ms/question (ms/candidate)",
    ]
    rows = []
    for n in SIZES:
        par = results[f"wall/{n}/False"]
        shr = results[f"wall/{n}/True"]
        zpar = results[f"zero/{n}/False"]
        zshr = results[f"zero/{n}/True"]
        assert isinstance(par, Timing) and isinstance(shr, Timing)
        assert isinstance(zpar, Timing) and isinstance(zshr, Timing)
        rows.append(
            [
                str(n),
                f"{par.mean:.3f}",
                f"{par.mean / latency:.2f}x ({par.worst / latency:.2f}x)",
                f"{par.requests} / {par.peak_in_flight}",
                f"{shr.mean:.3f}",
                f"{shr.mean / latency:.2f}x ({shr.worst / latency:.2f}x)",
                str(shr.requests),
                f"{zpar.mean * 1000:.1f} ({zpar.mean * 1000 / n:.2f})",
                f"{zshr.mean * 1000:.1f} ({zshr.mean * 1000 / n:.2f})",
            ]
        )
    return header, rows


def markdown(
    header: list[str], rows: list[list[str]], args: argparse.Namespace, single: float
) -> str:
    command = " ".join(["python", "benchmarks/fanout.py", *sys.argv[1:]])
    lines = [
        SECTION,
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.datetime.now(datetime.UTC).date().isoformat()}",
        f"- Stub latency per request: {args.latency} s; one bare `OpenAIProvider.generate(n=1)` "
        f"call measured {single:.3f} s.",
        f"- `self_consistency` through `asolve` and `OpenAIProvider(max_concurrency="
        f"{MAX_CONCURRENCY})` against `OpenAIStubServer` (loopback, honours `n`). "
        "*parallel* is `share_prompt=False` (one `Send` branch and one request per sample), "
        "*shared n* is `share_prompt=True` (one request with `n`). Wall times are the mean of "
        f"{args.repeats} questions after one warm-up (worst in brackets), divided by the stub "
        "latency. Overhead is the mean of "
        f"{args.overhead_runs} questions at zero latency, nothing subtracted: graph, provider, "
        "HTTP client and stub server share the machine (and the stub shares the GIL).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the `SECTION` of `path` (up to the next `## ` heading), or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--repeats", type=int, default=3, help="timed questions per setting")
    parser.add_argument(
        "--overhead-runs", type=int, default=20, help="zero-latency questions per setting"
    )
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    if args.latency <= 0 or args.repeats < 1 or args.overhead_runs < 1:
        parser.error("--latency must be > 0 and --repeats / --overhead-runs >= 1")

    results = asyncio.run(measure(args.latency, args.repeats, args.overhead_runs))
    header, rows = tables(results, args.latency)
    single = results["single_call"]
    assert isinstance(single, float)

    table = Table(title=f"self_consistency fan-out, {args.latency} s per request")
    for column in header:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"one bare generate(n=1) call: {single:.3f} s; {machine()}")
    if args.write is not None:
        write_section(args.write, markdown(header, rows, args, single))
        console.print(f"wrote section {SECTION!r} to {args.write}")


if __name__ == "__main__":
    main()
