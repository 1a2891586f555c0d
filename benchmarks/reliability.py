"""Fault-injection benchmark (issue 6): do runs survive 20% injected faults, and at what cost?

Starts `OpenAIStubServer` (loopback, its own thread and event loop) with `Faults` injecting,
at `--rate`, every fault kind the stub knows (429 with and without `Retry-After`, 500, 503,
timeouts, connection resets, truncated and malformed JSON, empty `choices` and
`finish_reason: "length"` cuts), and runs `--questions` different "What is A + B?" questions
through the real graph (`asolve`, `self_consistency`, `share_prompt=False`: one request per
sample) and the real `OpenAIProvider`, `--parallel` questions at a time.

It reports the share of runs that end with the correct answer, the completed branches lost
(every completion the server sent must be a candidate of its question: the replies name
their question and sample, so the two sides are compared text by text), whether the usage
charged equals what the server sent, the retries spent by reason, the faults injected by
kind, and the peak of requests in flight against the provider's `max_concurrency`.

Usage:
    python benchmarks/reliability.py [--questions 1000] [--n 8] [--rate 0.2]
        [--write docs/reliability.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _docs import Columns, machine, markdown_table, rich_table, write_section
from rich.console import Console

from reasoning_graph import NoCandidatesError, Result, asolve
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.testing.openai_server import FAULT_KINDS, FaultKind, Faults

SECTION = "## Fault injection (issue 6)"
_SUM = re.compile(r"What is (\d+) \+ (\d+)\?")

REACTION: dict[FaultKind, str] = {
    "429_retry_after": "retried after the `Retry-After` wait (`http_429`)",
    "429": "retried after backoff (`http_429`)",
    "500": "retried after backoff (`http_500`)",
    "503": "retried after backoff (`http_503`)",
    "timeout": "client gives up at `timeout_s`, retried (`timeout`)",
    "reset": "retried (`connection`)",
    "truncated_json": "retried (`invalid_json`)",
    "malformed_json": "retried (`invalid_json`)",
    "empty_choices": "retried (`no_choices`)",
    "length": "kept: a normal answer with `finish_reason=length`, no retry",
}


def reply(request: Mapping[str, Any], index: int) -> str:
    """Answer the sum in the request's question, naming the sample: every text is unique."""
    question = str(request["messages"][-1]["content"])
    match = _SUM.search(question)
    a, b = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    sample = request.get("seed", 0) + index
    return f"Sample {sample} of {a} + {b}: {a} + {b} = {a + b}. The answer is {a + b}."


@dataclass
class Report:
    questions: int
    correct: int = 0
    raised: list[str] = field(default_factory=list)
    completed_sent: int = 0
    lost: int = 0
    unexpected: int = 0
    failed_branches: int = 0
    usage_exact: bool = True
    requests: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    peak_in_flight: int = 0
    seconds: float = 0.0

    @property
    def retries_total(self) -> int:
        return sum(self.retries.values())


async def measure(args: argparse.Namespace) -> Report:
    rng = random.Random(args.seed)
    questions = [(rng.randint(10, 999), rng.randint(10, 999)) for _ in range(args.questions)]
    faults = Faults(rate=args.rate, kinds=FAULT_KINDS, seed=args.seed, hang_s=30.0)
    report = Report(questions=len(questions))
    results: list[Result] = []
    with OpenAIStubServer(reply=reply, latency_s=args.latency, faults=faults) as server:
        provider = OpenAIProvider(
            "stub",
            base_url=server.base_url,
            api_key="bench",
            max_concurrency=args.max_concurrency,
            max_attempts=args.max_attempts,
            retry_backoff_s=0.001,
            timeout_s=args.timeout,
        )
        gate = asyncio.Semaphore(args.parallel)

        async def one(a: int, b: int) -> None:
            async with gate:
                try:
                    result = await asolve(
                        f"What is {a} + {b}?",
                        generator=provider,
                        strategy="self_consistency",
                        n=args.n,
                        share_prompt=False,
                    )
                except NoCandidatesError as error:
                    report.raised.append(str(error))
                    return
            results.append(result)
            report.correct += result.answer == str(a + b)
            report.failed_branches += sum(len(f.candidate_ids) for f in result.failures)

        started = time.perf_counter()
        try:
            await asyncio.gather(*(one(a, b) for a, b in questions))
        finally:
            await provider.aclose()
        report.seconds = time.perf_counter() - started
        sent = server.responses
        report.requests = len(server.requests)
        report.injected = server.injected
        report.retries = provider.retries.by_reason
        report.peak_in_flight = server.peak_in_flight

    texts = Counter(c["message"]["content"] for r in sent for c in r["choices"])
    kept = Counter(c.text for result in results for c in result.candidates)
    report.completed_sent = sum(texts.values())
    report.lost = sum((texts - kept).values())
    report.unexpected = sum((kept - texts).values())
    for name in ("prompt_tokens", "completion_tokens"):
        charged = sum(getattr(result.usage, name) for result in results)
        report.usage_exact &= charged == sum(r["usage"][name] for r in sent)
    report.usage_exact &= sum(result.usage.requests for result in results) == len(sent)
    report.usage_exact &= sum(result.usage.llm_calls for result in results) == sum(texts.values())
    return report


def outcome_table(report: Report, args: argparse.Namespace) -> Columns:
    q = report.questions
    rows = [
        ["runs with the correct answer", f"{report.correct} / {q} ({report.correct / q:.0%})"],
        ["runs that raised `NoCandidatesError`", str(len(report.raised))],
        ["completions sent by the server (branches completed)", str(report.completed_sent)],
        ["completed branches lost (sent, not a candidate)", str(report.lost)],
        ["candidates the server never sent", str(report.unexpected)],
        [
            f"branches failed after {args.max_attempts} attempts (in `failures`)",
            str(report.failed_branches),
        ],
        ["usage charged = usage the server sent", "yes" if report.usage_exact else "NO"],
        ["chat requests received", str(report.requests)],
        ["faults injected", f"{sum(report.injected.values())} ({_share(report)})"],
        [
            "retries spent (per question)",
            f"{report.retries_total} ({report.retries_total / q:.2f})",
        ],
        [
            "peak requests in flight / `max_concurrency`",
            f"{report.peak_in_flight} / {args.max_concurrency}",
        ],
        ["wall time", f"{report.seconds:.1f} s"],
    ]
    return ["measure", "value"], rows


def _share(report: Report) -> str:
    return f"{sum(report.injected.values()) / max(report.requests, 1):.1%} of requests"


def kinds_table(report: Report) -> Columns:
    rows = [
        [f"`{kind}`", str(report.injected.get(kind, 0)), REACTION[kind]] for kind in FAULT_KINDS
    ]
    return ["fault kind", "injected", "what the provider does"], rows


def retries_table(report: Report) -> Columns:
    q = report.questions
    rows = [
        [f"`{reason}`", str(count), f"{count / q:.2f}"] for reason, count in report.retries.items()
    ]
    rows.append(["total", str(report.retries_total), f"{report.retries_total / q:.2f}"])
    return ["retry reason", "retries", "per question"], rows


def markdown(report: Report, args: argparse.Namespace) -> str:
    command = " ".join(["python", "benchmarks/reliability.py", *sys.argv[1:]])
    return "\n".join(
        [
            SECTION,
            "",
            f"- Command: `{command}`",
            f"- Machine: {machine()}",
            f"- Date: {datetime.datetime.now(datetime.UTC).date().isoformat()}",
            f'- Setup: {args.questions} different questions "What is A + B?", '
            f"`self_consistency` with n={args.n} and `share_prompt=False` (one request per "
            f"sample) through `asolve`, {args.parallel} questions at a time, against "
            f"`OpenAIStubServer` (loopback, {args.latency} s per request) injecting "
            f"`Faults(rate={args.rate}, seed={args.seed})`, every kind equally likely; "
            f"`OpenAIProvider(max_attempts={args.max_attempts}, retry_backoff_s=0.001, "
            f"timeout_s={args.timeout}, max_concurrency={args.max_concurrency})`.",
            "",
            *markdown_table(outcome_table(report, args)),
            "",
            "Faults injected, by kind:",
            "",
            *markdown_table(kinds_table(report)),
            "",
            "Retries spent, by reason (`provider.retries.by_reason`):",
            "",
            *markdown_table(retries_table(report)),
            "",
            accounting(report, args),
            "",
        ]
    )


def accounting(report: Report, args: argparse.Namespace) -> str:
    """How the retries add up: one per injected fault but length cuts and final faults."""
    injected = sum(report.injected.values())
    cuts = report.injected.get("length", 0)
    left = injected - cuts - report.failed_branches
    chance = args.rate**args.max_attempts
    return (
        f"Every injected fault but a length cut cost one retry, except the last fault of a "
        f"branch that ran out of attempts: {injected} injected - {cuts} length cuts - "
        f"{report.failed_branches} final faults = {left} "
        f"({'equal to' if left == report.retries_total else 'NOT equal to'} the "
        f"{report.retries_total} retries counted). A branch fails only when all "
        f"{args.max_attempts} of its attempts draw a fault ({args.rate}^{args.max_attempts} = "
        f"{chance:.1e} per branch, {chance * args.questions * args.n:.1f} expected here); "
        "it is recorded in `failures` and its question is answered by the other branches."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--n", type=int, default=8, help="samples per question")
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests faulted")
    parser.add_argument("--seed", type=int, default=0, help="seed of questions and faults")
    parser.add_argument("--parallel", type=int, default=8, help="questions in flight at once")
    parser.add_argument("--max-concurrency", type=int, default=16, help="provider's limit")
    parser.add_argument("--max-attempts", type=int, default=6, help="tries per request")
    parser.add_argument("--timeout", type=float, default=0.5, help="client timeout, seconds")
    parser.add_argument("--latency", type=float, default=0.01, help="stub seconds per request")
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    if args.questions < 1 or args.n < 1 or args.parallel < 1 or not 0 <= args.rate <= 1:
        parser.error("--questions, --n and --parallel must be >= 1, --rate in [0, 1]")

    report = asyncio.run(measure(args))
    console = Console()
    console.print(rich_table(f"{args.rate:.0%} injected faults", outcome_table(report, args)))
    console.print(rich_table("faults injected", kinds_table(report)))
    console.print(rich_table("retries spent", retries_table(report)))
    console.print(accounting(report, args))
    for message in report.raised[:3]:
        console.print(f"raised: {message}")
    if args.write is not None:
        write_section(args.write, SECTION, markdown(report, args))
        console.print(f"wrote section {SECTION!r} to {args.write}")


if __name__ == "__main__":
    main()
