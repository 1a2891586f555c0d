"""Load benchmark of `reasoning-graph serve` (issue 12): throughput, latency and overhead.

Three processes on the loopback interface: the stub upstream (`OpenAIStubServer`, a fixed
latency per request), the real server (`reasoning-graph serve` under uvicorn) and this
script, which drives it with `aiohttp` clients. Every run is `self_consistency@4` with the
prompt shared, so one run is one upstream call.

For 1, 8, 32 and 128 concurrent clients (each sending its requests one after another) it
reports requests per second, p50 and p99 latency, and the server's own overhead per
request: the mean latency through the server minus the mean latency of the same number of
concurrent direct `asolve()` calls (run in this process against the same stub), also as a
share of one upstream call (target: under 5% at 32 clients). Then an overload round: 128
clients against `--max-in-flight 32`, which must answer 200 or 429 (with `Retry-After`),
never 5xx, and lose no request.

It prints a ready-to-paste markdown section (and `--write` puts it into a file).

Usage:
    python benchmarks/serve_load.py [--latency 0.2] [--requests-per-client 8] \
        [--clients 1,8,32,128] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from _docs import Columns, machine, markdown_table, write_section
from _stub import StubProcess

from reasoning_graph import asolve
from reasoning_graph.providers.openai import OpenAIProvider

SECTION = "## Serving (issue 12)"
QUESTION = "What is 17 + 25?"
MODEL = "self_consistency@4"


@dataclass
class Round:
    """One concurrency level: per-request latencies and what came back."""

    clients: int
    latencies: list[float]
    wall_s: float
    statuses: Counter[int]
    lost: int  # connection errors or timeouts: no HTTP answer at all
    cpu_s: float = 0.0  # CPU seconds the process that ran the graphs spent on this round

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / max(1, self.done)

    @property
    def done(self) -> int:
        return self.statuses[200]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server_process(base_url: str, max_in_flight: int) -> Iterator[tuple[str, int]]:
    """`reasoning-graph serve` in its own process; yields its root URL (once healthy) and
    its process id."""
    port = free_port()
    command = [
        sys.executable, "-m", "reasoning_graph.cli", "serve", "--port", str(port),
        "--base-url", base_url, "--model", "stub-model", "--max-in-flight", str(max_in_flight),
    ]  # fmt: skip
    log = open(os.devnull, "w")  # noqa: SIM115 - the access log: one JSON line per request
    process = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def process_cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) a process has spent: this one, or `pid` (Linux `/proc`)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    clients: int, per_client: int, call: Callable[[], Awaitable[int]], pid: int | None = None
) -> Round:
    """`clients` concurrent loops, each making `per_client` calls one after another; the CPU
    of process `pid` (default: this one) is measured over the round."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lost = 0

    async def client() -> None:
        nonlocal lost
        for _ in range(per_client):
            began = time.perf_counter()
            try:
                status = await call()
            except (TimeoutError, aiohttp.ClientError):
                lost += 1
                continue
            statuses[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - began)

    began, cpu = time.perf_counter(), process_cpu_s(pid)
    await asyncio.gather(*(client() for _ in range(clients)))
    wall, cpu = time.perf_counter() - began, process_cpu_s(pid) - cpu
    return Round(clients, latencies, wall, statuses, lost, cpu)


async def direct_rounds(base_url: str, levels: list[int], per_client: int) -> list[Round]:
    """The same runs through `asolve()` in this process: the baseline without the server."""
    provider = OpenAIProvider(
        "stub-model", base_url=base_url, api_key="unused", max_concurrency=256
    )

    async def call() -> int:
        await asolve(QUESTION, generator=provider, strategy="self_consistency", n=4)
        return 200

    await drive(1, 2, call)  # warm-up
    rounds = [await drive(c, per_client, call) for c in levels]
    await provider.aclose()
    return rounds


async def http_rounds(url: str, pid: int, levels: list[int], per_client: int) -> list[Round]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def call() -> int:
            async with session.post(url + "/v1/chat/completions", json=body) as response:
                payload = await response.json()
                if response.status == 200:
                    assert payload["choices"][0]["message"]["content"] == "42"
                elif response.status == 429:
                    assert response.headers.get("Retry-After")
                return response.status

        await drive(1, 2, call, pid)  # warm-up
        return [await drive(c, per_client, call, pid) for c in levels]


def cpu_overhead(served: Round, direct: Round) -> float:
    """CPU ms per request the server process spent beyond what `asolve()` alone spent."""
    return served.cpu_ms_per_request - direct.cpu_ms_per_request


def table(served: list[Round], direct: list[Round], latency: float) -> Columns:
    header = [
        "clients", "requests", "req/s", "p50 ms", "p99 ms", "direct asolve p50 ms",
        "overhead ms (mean)", "overhead % of one upstream call",
        "CPU ms/request: server (direct)", "CPU overhead % of one upstream call",
        "non-200 / lost",
    ]  # fmt: skip
    rows = []
    for http, base in zip(served, direct, strict=True):
        overhead = http.mean - base.mean
        failed = sum(n for status, n in http.statuses.items() if status != 200)
        rows.append(
            [
                str(http.clients),
                str(http.done),
                f"{http.done / http.wall_s:.1f}",
                f"{http.quantile(0.5) * 1000:.1f}",
                f"{http.quantile(0.99) * 1000:.1f}",
                f"{base.quantile(0.5) * 1000:.1f}",
                f"{overhead * 1000:.1f}",
                f"{overhead / latency * 100:.1f}%",
                f"{http.cpu_ms_per_request:.2f} ({base.cpu_ms_per_request:.2f})",
                f"{cpu_overhead(http, base) / latency / 10:.1f}%",
                f"{failed} / {http.lost}",
            ]
        )
    return header, rows


def targets_line(
    args: argparse.Namespace, served: list[Round], direct: list[Round], overload: Round
) -> str:
    """Issue 12's targets, judged on this run: overhead at 32 clients, nothing lost, 429s."""
    failed = sum(sum(n for s, n in r.statuses.items() if s != 200) + r.lost for r in served)
    clean = failed == 0 and overload.lost == 0
    clean &= all(s in (200, 429) for s in overload.statuses)
    parts = []
    for http, base in zip(served, direct, strict=True):
        if http.clients == 32:
            share = cpu_overhead(http, base) / 1000 / args.latency
            verdict = "met" if share < 0.05 else "missed"
            parts.append(
                f"the server's CPU overhead at 32 clients {cpu_overhead(http, base):.2f} ms per "
                f"request, {share:.1%} of one upstream call ({verdict})"
            )
    parts.append(
        "no request lost or failed and only 429s past the limit ("
        + ("met" if clean else "missed")
        + ")"
    )
    saturated = [r.clients for r in served if r.clients >= 32]
    note = (
        f" At {' and '.join(map(str, saturated))} clients both paths keep the machine's "
        f"{os.cpu_count()} cores busy, so the latency difference there says where the CPU went "
        "more than what the server adds (it swings from run to run, either sign); the CPU "
        "the server process spends per request beyond `asolve()`'s own (HTTP parsing, "
        "validation, the response and its access log line) is the measure of its overhead "
        "that does not depend on scheduling, and the target is judged on it."
        if saturated
        else ""
    )
    return "Targets (issue 12): " + "; ".join(parts) + "." + note


def markdown(
    args: argparse.Namespace, served: list[Round], direct: list[Round], overload: Round
) -> str:
    statuses = ", ".join(f"{n} x {status}" for status, n in sorted(overload.statuses.items()))
    server_errors = sum(n for status, n in overload.statuses.items() if status >= 500)
    lines = [
        SECTION,
        "",
        f"- Command: `python benchmarks/serve_load.py --latency {args.latency} "
        f"--requests-per-client {args.requests_per_client} --clients "
        f"{','.join(map(str, args.clients))} --overload-clients {args.overload_clients} "
        f"--overload-limit {args.overload_limit}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Setup: three processes on loopback: `OpenAIStubServer` ({args.latency} s per "
        "request), `reasoning-graph serve --max-in-flight 256` and this script's aiohttp "
        f"clients. Every request is `{MODEL}` (one upstream call with n=4); each client sends "
        f"{args.requests_per_client} requests one after another, after a warm-up. *direct "
        "asolve* runs the same number of concurrent `asolve()` calls in one process against "
        "the same stub; *overhead* is the mean latency through the server minus the mean "
        "direct latency; *CPU ms/request* is the CPU time (user + system) of the process "
        "that ran the graphs (the server's, or this script's for *direct*) over the round, "
        "per request (the direct figure includes this script's own event loop; the aiohttp "
        "clients of the served rounds run outside the server).",
        "",
        *markdown_table(table(served, direct, args.latency), align="---:"),
        "",
        f"Overload: {args.overload_clients} clients x {args.requests_per_client} requests "
        f"against `--max-in-flight {args.overload_limit}`: {statuses}; "
        f"{server_errors} 5xx, {overload.lost} lost.",
        "",
        targets_line(args, served, direct, overload),
        "",
    ]
    return "\n".join(lines)


async def measure(args: argparse.Namespace) -> str:
    with StubProcess(args.latency) as stub:
        base_url = stub.base_url
        direct = await direct_rounds(base_url, args.clients, args.requests_per_client)
        with server_process(base_url, max_in_flight=256) as (url, pid):
            served = await http_rounds(url, pid, args.clients, args.requests_per_client)
        with server_process(base_url, max_in_flight=args.overload_limit) as (url, pid):
            (overload,) = await http_rounds(
                url, pid, [args.overload_clients], args.requests_per_client
            )
    return markdown(args, served, direct, overload)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="upstream seconds/request")
    parser.add_argument("--requests-per-client", type=int, default=8)
    parser.add_argument(
        "--clients",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 8, 32, 128],
        help="concurrency levels, comma-separated (default: 1,8,32,128)",
    )
    parser.add_argument("--overload-clients", type=int, default=128)
    parser.add_argument("--overload-limit", type=int, default=32)
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    section = asyncio.run(measure(args))
    print(section)
    if args.write is not None:
        write_section(args.write, SECTION, section)


if __name__ == "__main__":
    main()
