"""Fan-out benchmark (issue 2): do `n` samples cost one call's latency, and what does the graph add?

Starts `OpenAIStubServer` (loopback, its own thread and event loop) with a fixed latency per
request and runs `self_consistency` through the real graph (`asolve`) and the real
`OpenAIProvider`:

- *parallel*, `share_prompt=False`: one `Send` branch per sample, one HTTP request each;
- *shared n*, `share_prompt=True`: one branch, one request with the server's `n`.

`asolve` compiles the graph of a (generator, config) once and reuses it (the warm-up question
compiles it), so the figures are the per-question cost of a long-running caller.

It reports wall time per question divided by the per-request latency (ideal: 1.0x whatever
`n` is), the requests made and the most the server saw in flight at once. Then the same
runs at zero latency, in ms per question and per candidate, nothing subtracted (graph,
provider, HTTP client and stub server on one machine), next to the graph alone on
`FakeGenerator` (no HTTP).

Usage:
    python benchmarks/fanout.py [--latency 0.2] [--repeats 3] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from _docs import Columns, machine, markdown_table, provenance, rich_table, write_section
from rich.console import Console

from reasoning_graph import asolve
from reasoning_graph.providers.base import Generator
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer

SIZES = (1, 4, 16, 64)
QUESTION = "What is 17 + 25?"
MAX_CONCURRENCY = 64
DEFAULT_MAX_CONCURRENCY = 16  # OpenAIProvider's default
SECTION = "## Fan-out (issue 2)"


@dataclass
class Timing:
    """Wall times of repeated questions in one setting, and what the server saw."""

    seconds: list[float]
    requests: int  # per question
    peak_in_flight: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)


@dataclass
class Row:
    n: int
    parallel: Timing
    shared: Timing
    zero_parallel: Timing
    zero_shared: Timing
    graph_only: Timing


async def run_setting(
    generator: Generator,
    n: int,
    share_prompt: bool,
    runs: int,
    server: OpenAIStubServer | None = None,
) -> Timing:
    """Time `runs` questions after one warm-up question (connections, caches)."""

    async def one() -> float:
        start = time.perf_counter()
        result = await asolve(
            QUESTION,
            generator=generator,
            strategy="self_consistency",
            n=n,
            share_prompt=share_prompt,
        )
        elapsed = time.perf_counter() - start
        if result.answer != "42" or len(result.candidates) != n or result.failures:
            raise RuntimeError(f"unexpected result for n={n}: {result.answer!r} {result.failures}")
        return elapsed

    await one()
    if server is not None:
        server.reset()
    seconds = [await one() for _ in range(runs)]
    if server is None:
        return Timing(seconds, 0, 0)
    return Timing(seconds, len(server.requests) // runs, server.peak_in_flight)


async def single_call(provider: OpenAIProvider, runs: int) -> float:
    """Mean seconds of one bare `provider.generate(n=1)` call (no graph)."""
    messages = [{"role": "user", "content": QUESTION}]
    await provider.generate(messages, n=1)  # type: ignore[arg-type]
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        await provider.generate(messages, n=1)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - start)
    return statistics.fmean(seconds)


@dataclass
class Report:
    rows: list[Row]
    single_call: float
    default_cap: Timing  # n = max(SIZES), parallel, OpenAIProvider's default max_concurrency


async def measure(latency: float, repeats: int, overhead_runs: int) -> Report:
    fake = FakeGenerator(lambda messages, index: "17 + 25 = 42. The answer is 42.")
    with (
        OpenAIStubServer(latency_s=latency) as slow,
        OpenAIStubServer(latency_s=0.0) as fast,
    ):
        providers = {
            name: OpenAIProvider("stub", base_url=url, api_key="bench", max_concurrency=cap)
            for name, url, cap in (
                ("slow", slow.base_url, MAX_CONCURRENCY),
                ("fast", fast.base_url, MAX_CONCURRENCY),
                ("default", slow.base_url, DEFAULT_MAX_CONCURRENCY),
            )
        }
        slow_p, fast_p = providers["slow"], providers["fast"]
        try:
            single = await single_call(slow_p, repeats)
            rows = []
            for n in SIZES:
                rows.append(
                    Row(
                        n=n,
                        parallel=await run_setting(slow_p, n, False, repeats, slow),
                        shared=await run_setting(slow_p, n, True, repeats, slow),
                        zero_parallel=await run_setting(fast_p, n, False, overhead_runs, fast),
                        zero_shared=await run_setting(fast_p, n, True, overhead_runs, fast),
                        graph_only=await run_setting(fake, n, False, overhead_runs),
                    )
                )
            default_cap = await run_setting(providers["default"], SIZES[-1], False, repeats, slow)
        finally:
            for provider in providers.values():
                await provider.aclose()
    return Report(rows, single, default_cap)


def ratio(timing: Timing, latency: float) -> str:
    return f"{timing.mean / latency:.2f}x ({timing.worst / latency:.2f}x)"


def per_question(timing: Timing, n: int) -> str:
    return f"{timing.mean * 1000:.1f} ({timing.mean * 1000 / n:.2f})"


def wall_table(report: Report, latency: float) -> Columns:
    header = [
        "n",
        "parallel: wall s",
        "parallel: x latency (worst)",
        "parallel: requests",
        "parallel: peak in flight",
        "shared n: wall s",
        "shared n: x latency (worst)",
        "shared n: requests",
    ]
    rows = [
        [
            str(r.n),
            f"{r.parallel.mean:.3f}",
            ratio(r.parallel, latency),
            str(r.parallel.requests),
            str(r.parallel.peak_in_flight),
            f"{r.shared.mean:.3f}",
            ratio(r.shared, latency),
            str(r.shared.requests),
        ]
        for r in report.rows
    ]
    return header, rows


def overhead_table(report: Report) -> Columns:
    header = [
        "n",
        "parallel over HTTP: ms/question (ms/candidate)",
        "shared n over HTTP: ms/question (ms/candidate)",
        "graph alone, parallel, FakeGenerator: ms/question (ms/candidate)",
    ]
    rows = [
        [
            str(r.n),
            per_question(r.zero_parallel, r.n),
            per_question(r.zero_shared, r.n),
            per_question(r.graph_only, r.n),
        ]
        for r in report.rows
    ]
    return header, rows


def default_cap_line(report: Report, latency: float) -> str:
    t = report.default_cap
    return (
        f"With `OpenAIProvider`'s default `max_concurrency={DEFAULT_MAX_CONCURRENCY}`, "
        f"n={SIZES[-1]} parallel takes {t.mean:.3f} s = {ratio(t, latency)} latency, "
        f"peak in flight {t.peak_in_flight}."
    )


def targets_line(report: Report, latency: float) -> str:
    """Issue 10's targets: the package's overhead per question at n=1, and n=16 in parallel."""
    one = next(r for r in report.rows if r.n == 1).parallel.mean
    sixteen = next(r for r in report.rows if r.n == 16).parallel.mean
    overhead_ms = (one - report.single_call) * 1000
    share = overhead_ms / (latency * 1000)
    ratio16 = sixteen / report.single_call
    return (
        f"Targets (issue 10): package overhead per question at n=1 = {overhead_ms:.1f} ms "
        f"({share:.1%} of one {latency} s call; target <= 3%, "
        f"{'met' if share <= 0.03 else 'missed'}); n=16 in parallel = {ratio16:.2f}x one "
        f"bare call (target <= 1.2x, {'met' if ratio16 <= 1.2 else 'missed'})."
    )


def markdown(report: Report, args: argparse.Namespace) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            *provenance("benchmarks/fanout.py"),
            f"- Setup: `self_consistency` through `asolve` with `OpenAIProvider(max_concurrency="
            f"{MAX_CONCURRENCY})` against `OpenAIStubServer` (loopback, honours `n`, "
            f"{args.latency} s per request; one bare `generate(n=1)` call measured "
            f"{report.single_call:.3f} s). *parallel* is `share_prompt=False` (one `Send` "
            "branch and one request per sample), *shared n* is `share_prompt=True` (one "
            "request with `n`).",
            f"- Wall time: mean of {args.repeats} questions after one warm-up, divided by the "
            "stub latency (ideal 1.00x); the worst question in brackets.",
            "",
            *markdown_table(wall_table(report, args.latency), align="---:"),
            "",
            default_cap_line(report, args.latency),
            "",
            targets_line(report, args.latency),
            "",
            f"Overhead at zero latency: mean of {args.overhead_runs} questions after one "
            "warm-up, nothing subtracted (graph, provider, HTTP client and the stub server, "
            "which shares the process and the GIL).",
            "",
            *markdown_table(overhead_table(report), align="---:"),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--repeats", type=int, default=3, help="timed questions per setting")
    parser.add_argument(
        "--overhead-runs", type=int, default=20, help="zero-latency questions per setting"
    )
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    if args.latency <= 0 or args.repeats < 1 or args.overhead_runs < 1:
        parser.error("--latency must be > 0 and --repeats / --overhead-runs >= 1")

    report = asyncio.run(measure(args.latency, args.repeats, args.overhead_runs))
    console = Console()
    console.print(
        rich_table(
            f"self_consistency wall time, {args.latency} s per request",
            wall_table(report, args.latency),
            justify="right",
        )
    )
    console.print(default_cap_line(report, args.latency))
    console.print(targets_line(report, args.latency))
    console.print(rich_table("overhead at zero latency", overhead_table(report), justify="right"))
    console.print(f"one bare generate(n=1) call: {report.single_call:.3f} s; {machine()}")
    if args.write is not None:
        write_section(args.write, SECTION, markdown(report, args))
        console.print(f"wrote section {SECTION!r} to {args.write}")


if __name__ == "__main__":
    main()
