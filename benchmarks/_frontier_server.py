"""The frontier of `confidence_frontier.py` again through `python -m llama_cpp.server`.

`confidence_frontier.py --server` starts llama-cpp-python's OpenAI-compatible server on the
same GGUF (`_llama_server.py`: one thread, pinned to one CPU), and runs on the first test part
(`--server-size` questions per family) through `--provider openai --base-url ...`:

1. a pool of its own (`OUT/server/pool-test.sqlite`): self_consistency n=16, the same
   seeds, max_tokens and top_logprobs as the embedded pool;
2. DeepConf-online **live** through the server's stream (`--online-stop 0.1
   --confidence-vote`, no cache: the provider closes each stream whose confidence falls);
3. offline, from that pool: the same replays as the embedded frontier (self_consistency
   n=1..16, the confidence selections, compute_optimal with the same policy files).

Generation runs in steps of `--server-step` questions per family (pool, then live, then the
next step), so a run stopped early holds whole steps of all three families; re-running
resumes (the pool is a cache, the live run's records are kept).

The analysis (`server_report`) compares the server with the embedded provider on the same
held-out questions: per sample (same request, same seed: same text? where do they part?),
per row (accuracy with Wilson intervals, tokens), and the live online stop with its
simulation from the server's own pool (per question: same tokens, same correctness).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
from _llama_server import SERVED_MODEL, ServerSpec, llama_server, server_command
from compute_optimal import run

from reasoning_graph.bench.datasets import load_dataset
from reasoning_graph.bench.records import BenchRecord
from reasoning_graph.prompts import solve_messages
from reasoning_graph.providers.base import Completion
from reasoning_graph.providers.cache import _Call

POOL_NAME = "pool-test.sqlite"
LIVE_DIR = "online-live"
LIVE_KEEP = 0.1  # DeepConf-low, as the embedded live check
TEMPERATURE = 0.7  # ReasoningConfig.temperature's default, which the bench keeps


def steps(size: int, step: int) -> list[int]:
    """The sizes to generate in turn: `step`, `2 * step`, ... up to `size` (always included)."""
    if size < 1 or step < 1:
        raise ValueError(f"size and step must be at least 1, got {size} and {step}")
    return [*range(step, size, step), size]


@dataclass(frozen=True)
class ServerPlan:
    """What the server runs: where, on which questions, with which client flags."""

    out: Path
    """`OUT/server`: the pool, the runs and the server's log."""
    data: Callable[[int], str]
    """The first test part's data spec for a size (questions per family)."""
    size: int
    step: int
    common: Sequence[str]
    """The embedded frontier's client flags (max_tokens, logprobs, top_logprobs, ...)."""
    window: int
    replay_only: bool = False
    """Generate nothing (the pool and the live runs as they are); only the replays."""

    def client(self, base_url: str | None) -> list[str]:
        """The client flags; a replay (`base_url` None) names no provider: it calls none."""
        if base_url is None:
            return list(self.common)
        return [*self.common, "--provider", "openai", "--base-url", base_url, "--model",
                SERVED_MODEL]  # fmt: skip

    def bench(self, size: int, out: str, flags: Sequence[str], base_url: str | None) -> None:
        run(["bench", "--data", self.data(size), "--out", str(self.out / out), *flags,
             *self.client(base_url)])  # fmt: skip


def generate(
    plan: ServerPlan,
    spec: ServerSpec,
    confidence_runs: dict[str, list[str]],
    policies: dict[str, Path],
    embedded_pool: Path,
) -> None:
    """Pool and live run step by step through the server, the repeat-penalty check against
    `embedded_pool`, then every replay (each policy passed with `--policy`)."""
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")  # the server checks no key
    plan.out.mkdir(parents=True, exist_ok=True)
    pool = str(plan.out / POOL_NAME)
    window = ["--confidence-window", str(plan.window)]
    sc = ["--strategies", "self_consistency"]
    with llama_server(spec, log=plan.out / "server.log") as base_url:
        for size in [] if plan.replay_only else steps(plan.size, plan.step):
            plan.bench(size, "test-a", [*sc, "--n", "16", "--cache", pool], base_url)
            live = [*sc, "--n", "16", "--online-stop", str(LIVE_KEEP), "--confidence-vote",
                    *window]  # fmt: skip
            plan.bench(size, LIVE_DIR, live, base_url)
        repeat_penalty_check(plan, base_url, embedded_pool)
    # replays: no model call, so no server
    replay = ["--replay", pool]
    plan.bench(plan.size, "test-a", [*sc, "--n", "1,2,4,8,16", *replay], None)
    for name, flags in confidence_runs.items():
        plan.bench(plan.size, f"test-a-{name}", [*sc, "--n", "8,16", *flags, *window, *replay],
                   None)  # fmt: skip
    for path in policies.values():
        plan.bench(plan.size, f"test-a-co-{path.stem}",
                   ["--strategies", "compute_optimal", "--n", "16", "--policy", str(path),
                    *replay], None)  # fmt: skip


def pool_samples(pool: Path) -> dict[tuple[str, int], Completion]:
    """Every sample of a pool by (request hash, seed); the hash covers the model name, the
    messages and the sampling settings, so the two pools share keys for the same request."""
    with sqlite3.connect(pool) as db:
        return {
            (request, seed): Completion.model_validate_json(text)
            for request, seed, text in db.execute(
                "SELECT request, seed, completion FROM completions"
            )
        }


@dataclass(frozen=True)
class SampleMatch:
    """How the server's samples compare with the embedded ones of the same request and seed."""

    compared: int
    same_text: int
    same_tokens_to_divergence: int
    """Samples whose shared prefix (tokens up to where they part) has identical logprobs."""
    first_divergence: list[int]
    """For each sample that differs: the index of the first differing token."""
    max_logprob_diff: float
    """Over the shared prefixes: the largest |logprob difference| of a sampled token."""


def match_samples(
    embedded: dict[tuple[str, int], Completion], served: dict[tuple[str, int], Completion]
) -> SampleMatch:
    """Compare every sample both pools hold (same request, same seed) token by token."""
    compared = same_text = same_prefix = 0
    divergence: list[int] = []
    worst = 0.0
    for key, remote in served.items():
        local = embedded.get(key)
        if local is None:
            continue
        compared += 1
        pairs = list(zip(local.logprobs or [], remote.logprobs or [], strict=False))
        parts = next((i for i, (x, y) in enumerate(pairs) if x.token != y.token), len(pairs))
        if local.text == remote.text:
            same_text += 1
        else:
            divergence.append(parts)
        diffs = [abs(x.logprob - y.logprob) for x, y in pairs[:parts]]
        worst = max([worst, *diffs])
        same_prefix += all(d < 1e-4 for d in diffs)
    return SampleMatch(compared, same_text, same_prefix, divergence, worst)


def parse_args(parser: argparse.ArgumentParser) -> None:
    """The `--server` options of `confidence_frontier.py`."""
    group = parser.add_argument_group("the same frontier through python -m llama_cpp.server")
    group.add_argument("--server", action="store_true", help="also run it through the server")
    group.add_argument("--server-size", type=int, default=20,
                       help="questions per family of the first test part")  # fmt: skip
    group.add_argument("--server-step", type=int, default=5,
                       help="per family at a time (pool, then live)")  # fmt: skip
    group.add_argument("--server-python", default=sys.executable,
                       help="interpreter with llama_cpp and the server's extras")  # fmt: skip
    group.add_argument("--server-replay-only", action="store_true",
                       help="generate nothing: score the runs as they are")  # fmt: skip
    group.add_argument("--server-port", type=int, default=8791)
    group.add_argument("--server-cpu", type=int, default=1, help="CPU to pin the server to")


class RowLike(Protocol):
    """A frontier row (`confidence_frontier.Row`)."""

    @property
    def label(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def correct(self) -> int: ...
    @property
    def questions(self) -> int: ...
    @property
    def tokens(self) -> float: ...
    @property
    def accuracy(self) -> float: ...
    @property
    def ci(self) -> tuple[float, float]: ...


@dataclass(frozen=True)
class LiveMatch:
    """The live online stop against its simulation from the same pool, question by question."""

    questions: int
    same_tokens: int
    same_correct: int
    live_tokens: float
    simulated_tokens: float
    live_correct: int
    simulated_correct: int
    agree: list[bool]
    """Per question: the same completion tokens and the same correctness."""


def match_live(
    live: Sequence[BenchRecord], simulate: Callable[[BenchRecord], tuple[bool, int]]
) -> LiveMatch:
    """Compare each live record with `simulate(record)`: (correct, completion tokens) of the
    simulation of the same question from the pool."""
    simulated = [simulate(record) for record in live]
    count = max(len(live), 1)
    return LiveMatch(
        questions=len(live),
        same_tokens=sum(
            r.completion_tokens == t for r, (_, t) in zip(live, simulated, strict=True)
        ),
        same_correct=sum(r.correct == c for r, (c, _) in zip(live, simulated, strict=True)),
        live_tokens=sum(r.completion_tokens for r in live) / count,
        simulated_tokens=sum(t for _, t in simulated) / count,
        live_correct=sum(r.correct for r in live),
        simulated_correct=sum(c for c, _ in simulated),
        agree=[
            r.correct == c and r.completion_tokens == t
            for r, (c, t) in zip(live, simulated, strict=True)
        ],
    )


def warmup_differs(live: Sequence[BenchRecord], pool: dict[str, BenchRecord], warmup: int) -> int:
    """Live questions whose first `warmup` samples (sent whole, like the pool's) differ in
    answer or tokens from the pool's samples of the same seeds."""

    def first(record: BenchRecord) -> list[tuple[int | None, str | None, int | None]]:
        ordered = sorted(record.candidates, key=lambda c: c.seed or 0)[:warmup]
        return [(c.seed, c.answer, c.completion_tokens) for c in ordered]

    return sum(first(r) != first(pool[r.example_id]) for r in live if r.example_id in pool)


def discordant(
    embedded: Sequence[BenchRecord], served: Sequence[BenchRecord], n: int
) -> tuple[int, int]:
    """Questions right at `n` on the embedded model only, and on the server only."""
    local = {r.example_id: r.correct for r in embedded if r.n == n}
    remote = {r.example_id: r.correct for r in served if r.n == n}
    shared = local.keys() & remote.keys()
    return (
        sum(local[q] and not remote[q] for q in shared),
        sum(remote[q] and not local[q] for q in shared),
    )


PENALTY_CHECK = "repeat-penalty-check.json"


def repeat_penalty_check(
    plan: ServerPlan, base_url: str, embedded_pool: Path, limit: int = 32
) -> dict[str, int]:
    """Ask the server again, with `repeat_penalty` 1.0 (llama.cpp's own default, which the
    embedded provider uses; the server's requests default to 1.1), for up to `limit` samples
    whose text differs from the embedded one, and count how many then come out the same.
    Saved to `PENALTY_CHECK` and read back on re-runs."""
    saved = plan.out / PENALTY_CHECK
    if saved.exists():
        return dict(json.loads(saved.read_text()))
    embedded, served = pool_samples(embedded_pool), pool_samples(plan.out / POOL_NAME)
    questions = {e.question for e in load_dataset(plan.data(plan.size)).examples}
    max_tokens = int(plan.common[list(plan.common).index("--max-tokens") + 1])
    top_k = int(plan.common[list(plan.common).index("--top-logprobs") + 1])
    messages = {
        _Call(tuple(solve_messages(q)), max_tokens, TEMPERATURE, None, True, top_k).key(
            SERVED_MODEL
        ): solve_messages(q)
        for q in questions
    }
    differing = [
        key
        for key, sample in sorted(served.items())
        if key[0] in messages and key in embedded and embedded[key].text != sample.text
    ][:limit]
    same = 0
    for request, seed in differing:
        body = {"model": SERVED_MODEL, "messages": messages[request], "max_tokens": max_tokens,
                "temperature": TEMPERATURE, "seed": seed, "repeat_penalty": 1.0}  # fmt: skip
        reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=300)
        reply.raise_for_status()
        same += reply.json()["choices"][0]["message"]["content"] == embedded[(request, seed)].text
    result = {
        "requests_found": len({k for k, _ in served} & messages.keys()),
        "checked": len(differing),
        "same_with_penalty_1": same,
    }
    saved.write_text(json.dumps(result, indent=2) + "\n")
    return result


SECTION = "## The confidence frontier through llama.cpp's server (issue 11)"


@dataclass(frozen=True)
class ServerFindings:
    """Everything the server's section reports."""

    embedded: Sequence[RowLike]
    """The embedded frontier's rows on the server's questions."""
    served: Sequence[RowLike]
    """The same rows from the server's pool, in the same order."""
    live: LiveMatch
    samples: SampleMatch
    penalty: dict[str, int]
    sc16_discordant: tuple[int, int]
    """SC@16: questions right on the embedded model only, on the server only."""
    log: LogCounts
    seconds_per_sample: float
    failed: int
    """Scored records (server pool, replays, live) whose run failed."""
    warmup_differs: int
    """Live questions whose warm-up samples differ from the pool's (same requests, seeds)."""


def report(
    findings: ServerFindings, plan: ServerPlan, spec: ServerSpec, provenance: list[str]
) -> str:
    """The Markdown section for the server's frontier."""
    f = findings
    questions = f.served[0].questions
    lines = [
        SECTION,
        "",
        *provenance,
        f"- Server: `{' '.join(server_command(spec, Path('MODEL.gguf')))}` (the same GGUF as "
        "the embedded model; `confidence_frontier.py --server` starts and stops it), asked "
        f"through `--provider openai --base-url {spec.base_url} --model {SERVED_MODEL}` with "
        f"the embedded frontier's flags (`{' '.join(plan.common)}`), so the requests (and "
        "their cache keys) and the seeds 0-15 are the same",
        f"- Questions: the first {plan.size} per family of the first test part (seed 5000), "
        f"**{questions} held-out questions**; the embedded columns are the embedded frontier's "
        "rows on the same questions",
        "",
        "| strategy | n | embedded accuracy | 95% CI | tokens | server accuracy | 95% CI "
        "| tokens |",
        "|---|--:|--:|---|--:|--:|---|--:|",
    ]
    for a, b in zip(f.embedded, f.served, strict=True):
        lines.append(
            f"| {b.label} | {b.n} | {a.accuracy:.3f} | {a.ci[0]:.3f}-{a.ci[1]:.3f} | "
            f"{a.tokens:.1f} | {b.accuracy:.3f} | {b.ci[0]:.3f}-{b.ci[1]:.3f} | {b.tokens:.1f} |"
        )
    low, high = wilson(f.live.live_correct, f.live.questions)
    lines.append(
        f"| DeepConf-online low (keep 10%), **live** through the server's stream | 16 | - | - "
        f"| - | {f.live.live_correct / max(f.live.questions, 1):.3f} | {low:.3f}-{high:.3f} | "
        f"{f.live.live_tokens:.1f} |"
    )
    s = f.samples
    median = sorted(s.first_divergence)[len(s.first_divergence) // 2] if s.first_divergence else 0
    only_embedded, only_server = f.sc16_discordant
    checked, same = f.penalty.get("checked", 0), f.penalty.get("same_with_penalty_1", 0)
    logprobs_agree = s.max_logprob_diff < 1e-4
    lines += [
        "",
        f"**Per sample** (same request, same seed): {s.same_text} of {s.compared} samples "
        f"({100 * s.same_text / max(s.compared, 1):.0f}%) have the same text on both paths; "
        f"the others part at token {median} (median of the first differing token). Over the "
        "tokens before they part, the largest |difference| of a sampled token's logprob is "
        f"{s.max_logprob_diff:.1e} ({s.same_tokens_to_divergence} of {s.compared} shared "
        f"prefixes agree within 1e-4)"
        + (
            ": the server honours the seed and reports the embedded provider's logprobs."
            if logprobs_agree and s.same_text
            else ": the server honours the seed and reports the embedded provider's logprobs, "
            "but not bit for bit every time."
        )
        + " What differs is the sampler: the server's requests default to `repeat_penalty` "
        "1.1 (llama-cpp-python's `server/types.py`; the OpenAI request has no such field), "
        "`create_chat_completion` (the embedded provider) to 1.0. Asked again with "
        f"`repeat_penalty` 1.0 (a raw request, no logprobs), {same} of {checked} differing "
        "samples come out identical to the embedded ones"
        + (": that is the whole difference." if checked and same == checked else "."),
        "",
        f"**Per question**, SC@16: right on the embedded model only: {only_embedded}; on the "
        f"server only: {only_server}; every row's intervals "
        + (
            "overlap: the same frontier within the noise."
            if _overlap(f.embedded, f.served)
            else "do not all overlap (see the table)."
        ),
        "",
        "**DeepConf-online live through the server's stream** (`--online-stop 0.1 "
        "--confidence-vote`, the OpenAI provider closing each stream whose group confidence "
        f"falls): on {f.live.questions} questions, {f.live.live_correct} right, "
        f"{f.live.live_tokens:.1f} completion tokens per question; simulated from the "
        f"server's own pool (the same seeds): {f.live.simulated_correct} right, "
        f"{f.live.simulated_tokens:.1f} tokens. Per question, both the same on "
        f"{sum(f.live.agree)} of {f.live.questions} (the same completion tokens on "
        f"{f.live.same_tokens}, the same correctness on {f.live.same_correct})"
        + (
            f"; in {f.warmup_differs} questions already the warm-up samples (seeds 0-3, "
            "plain requests like the pool's) differ from the pool's: the server does not "
            "always give a request and seed the same sample twice, and the simulation replays "
            "the pool's samples (likely cause: llama-cpp-python reuses the prompt prefix its "
            "cache holds from the previous request, so a prompt is not always evaluated in "
            "the same pieces; the few samples whose logprobs differ from the embedded ones "
            "above differ from the first token). The server "
            if f.warmup_differs
            else ". The server "
        )
        + "notices a closed stream after the next chunk it sends (llama-cpp-python's "
        "`get_event_publisher` checks `is_disconnected()` per chunk) and stops generating: "
        f"its log shows {f.log.closed} streams closed mid-generation. It sends no usage chunk "
        "in a stream, so a streamed sample's completion tokens are the tokens received (one "
        "per logprob entry) and its prompt tokens go uncounted.",
        "",
        f"Throughput: {f.seconds_per_sample:.1f} s per sample through the server (median over "
        "the pool's questions of their wall clock / 16), on a core shared with the other "
        "work of the machine (the embedded provider: 11-18 s per question, about 1 s per "
        "sample). llama-cpp-python's server "
        "finds each token's top logprobs by sorting the whole 49,152-token vocabulary in "
        "Python (`llama.py`, and it needs `logits_all`), so a token costs several times "
        "llama.cpp's own eval of it (25-60 ms per token in the server's log). The OpenAI "
        "provider sends a question's 16 samples at once "
        "and the one-slot server serves them in turn, so under load the last ones wait past "
        f"the provider's 60 s timeout: {f.log.abandoned} requests were given up while queued "
        "and sent again (a run still failing after its retries is re-run on resume; "
        f"{f.failed} failed runs are left in the records scored here, counted wrong).",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class LogCounts:
    """What the server's log says about closed connections."""

    closed: int
    """Streams the client closed while the server was generating them."""
    abandoned: int
    """Requests the client gave up (timed out) before the server reached them."""


def log_counts(log: Path) -> LogCounts:
    """Count llama-cpp-python's disconnect lines in the server's log."""
    text = log.read_text() if log.exists() else ""
    before = text.count("Disconnected from client (via refresh/close) before llm invoked")
    return LogCounts(text.count("Disconnected from client (via refresh/close)") - before, before)


def wilson(correct: int, total: int) -> tuple[float, float]:
    from reasoning_graph.bench.report import wilson_interval

    return wilson_interval(correct, total) if total else (0.0, 0.0)


def _overlap(a: Sequence[RowLike], b: Sequence[RowLike]) -> bool:
    return all(x.ci[0] <= y.ci[1] and y.ci[0] <= x.ci[1] for x, y in zip(a, b, strict=True))
