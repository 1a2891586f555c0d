"""Embedded-model speed (issues 9 and 11): what logprobs and extra buffer types change.

Runs the embedded SmolLM2-135M-Instruct through `LlamaCppProvider` and compares completion
tokens per second of two pairs of settings, each in one interleaved run:

- *logprobs*: plain sampling against `generate(logprobs=True, top_logprobs=5)` (read
  through a logits processor, `providers/llama_logprobs.py`), on one loaded model;
- *extra buffer types*: the default (`extra_buffer_types=False`, llama.cpp's AMX and
  repacked weight buffers off) against `extra_buffer_types=True`, two loaded models. Only
  run this on a CPU where the extra buffer types work (on an AMX CPU in a VM without tile
  state the second arm crashes: run `reasoning-graph doctor` first).

Each round runs both arms of a pair with the same seed, in alternating order, so both
sample the same tokens and share whatever else the machine is doing; the overhead is
the median over rounds of (plain seconds / other seconds) - 1 per token, with the pooled
tokens/s beside it. Time is wall time of whole `generate` calls (prompt included, the same
short prompt for both arms). Run it on an otherwise idle machine.

Usage:
    python benchmarks/llama_cpp_speed.py [--rounds 12] [--max-tokens 128] \
        [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _docs import Columns, machine, markdown_table, rich_table, write_section
from rich.console import Console

from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.llama_cpp import LlamaCppProvider

SECTION = "## Embedded model speed (issues 9 and 11)"
PROMPT: list[ChatMessage] = [
    {"role": "user", "content": "Tell a long story about a lighthouse keeper and a storm."}
]


@dataclass
class Arm:
    """One setting: the provider it runs on and the `generate` options it adds."""

    name: str
    provider: LlamaCppProvider
    options: dict[str, Any]
    tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return sum(self.tokens) / sum(self.seconds)


async def timed(arm: Arm, *, seed: int, max_tokens: int) -> None:
    start = time.perf_counter()
    generation = await arm.provider.generate(
        PROMPT, max_tokens=max_tokens, temperature=0.7, seed=seed, **arm.options
    )
    arm.seconds.append(time.perf_counter() - start)
    arm.tokens.append(generation.usage["completion_tokens"])


async def compare(base: Arm, other: Arm, *, rounds: int, max_tokens: int) -> float:
    """Run the pair `rounds` times, alternating which goes first; the median overhead."""
    await timed(base, seed=10_000, max_tokens=8)  # load the models, warm the caches
    await timed(other, seed=10_000, max_tokens=8)
    for arm in (base, other):
        arm.tokens.clear()
        arm.seconds.clear()
    ratios = []
    for i in range(rounds):
        first, second = (base, other) if i % 2 == 0 else (other, base)
        await timed(first, seed=i, max_tokens=max_tokens)
        await timed(second, seed=i, max_tokens=max_tokens)
        per_token_base = base.seconds[-1] / max(base.tokens[-1], 1)
        per_token_other = other.seconds[-1] / max(other.tokens[-1], 1)
        ratios.append(per_token_other / per_token_base - 1.0)
    return statistics.median(ratios)


async def measure(rounds: int, max_tokens: int) -> Columns:
    provider = LlamaCppProvider()
    pairs = [
        (
            "logprobs (top 5) vs plain sampling",
            Arm("plain", provider, {}),
            Arm("logprobs", provider, {"logprobs": True, "top_logprobs": 5}),
        ),
        (
            "extra buffer types on vs off (default)",
            Arm("off", LlamaCppProvider(), {}),
            Arm("on", LlamaCppProvider(extra_buffer_types=True), {}),
        ),
    ]
    rows = []
    for label, base, other in pairs:
        overhead = await compare(base, other, rounds=rounds, max_tokens=max_tokens)
        rows.append(
            [
                label,
                f"{base.tokens_per_s:.1f}",
                f"{other.tokens_per_s:.1f}",
                f"{overhead * 100:+.1f}%",
                f"{sum(base.tokens)} / {sum(other.tokens)}",
            ]
        )
    header = ["comparison", "base tokens/s", "other tokens/s", "time per token", "tokens"]
    return header, rows


def section(columns: Columns, *, rounds: int, max_tokens: int, command: str) -> str:
    lines = [
        SECTION,
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- {rounds} rounds of one `generate` per arm (same seed per round, alternating "
        f"order), max_tokens {max_tokens}, temperature 0.7, SmolLM2-135M-Instruct; "
        "time per token is the median over rounds of the other arm's seconds per token "
        "relative to the base arm's",
        "",
        *markdown_table(columns, align="--:"),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--write", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args()
    columns = asyncio.run(measure(args.rounds, args.max_tokens))
    Console().print(rich_table("Embedded model speed", columns, justify="right"))
    command = "python " + " ".join(["benchmarks/llama_cpp_speed.py", *sys.argv[1:]])
    text = section(columns, rounds=args.rounds, max_tokens=args.max_tokens, command=command)
    print(text)
    if args.write:
        write_section(args.write, SECTION, text)


if __name__ == "__main__":
    main()
