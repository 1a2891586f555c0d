"""Step-search benchmark (issue 4): beam_search, lookahead, dvts and particle_filtering against
best_of_n and weighted_vote on the embedded model, with the oracle verifier (a perfect
verifier: each candidate graded against the reference answer), through the public `bench`
command.

Sampling strategies run at n = 4, 8, 16 (their samples are shared through one generation
cache); the search strategies at n = 4 beams (particles) with `--max-steps` steps. The
report puts every strategy on one accuracy-versus-completion-tokens plot, so budgets are
compared at matched tokens.

Usage:
    python benchmarks/search.py --out bench-search [--size 8] [--max-steps 4]
        [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import time
from pathlib import Path

from _docs import machine, write_section
from compute_optimal import COMMON, LEVELS, pool_note, table

from reasoning_graph.bench.report import write_report
from reasoning_graph.bench.runner import load_records
from reasoning_graph.cli import main as cli

SECTIONS = {
    "oracle": "## Step search with an oracle verifier (issue 4)",
    "default": "## Step search with the LLM judge (issue 4)",
}
VERIFIERS = {
    "oracle": "- Verifier: the oracle (`bench --verifier oracle`): each candidate and each "
    "partial solution is graded against the reference answer, so this measures what the "
    "search does with a perfect verifier, not with a deployable one",
    "default": "- Verifier: the default LLM judge on the same SmolLM2 model (a Yes/No verdict "
    "per solution, and per step for the search strategies)",
}


def run(argv: list[str]) -> None:
    print("$ reasoning-graph " + " ".join(argv), flush=True)
    if cli(argv) != 0:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-search"))
    parser.add_argument("--size", type=int, default=8, help="questions per level")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--write", type=Path)
    parser.add_argument(
        "--verifier",
        choices=tuple(SECTIONS),
        default="oracle",
        help="oracle: graded against the reference; default: the LLM judge on the same model",
    )
    args = parser.parse_args()
    out: Path = args.out
    data = "+".join(
        f"gym:basic_arithmetic?size={args.size}&seed=3&{level}&{COMMON}" for level in LEVELS
    )
    common = [
        "--data",
        data,
        "--max-tokens",
        str(args.max_tokens),
        "--max-steps",
        str(args.max_steps),
        "--verifier",
        args.verifier,
        "--cache",
        str(out / "pool.sqlite"),
        "--quiet",
        "--concurrency",
        "1",
    ]
    started = time.time()
    run(
        [
            "bench",
            "--strategies",
            "best_of_n,weighted_vote",
            "--n",
            "4,8,16",
            "--out",
            str(out / "sampling"),
            *common,
        ]
    )
    run(
        [
            "bench",
            "--strategies",
            "beam_search,dvts,lookahead,particle_filtering",
            "--n",
            "4",
            "--out",
            str(out / "search"),
            *common,
        ]
    )
    records = load_records(out / "sampling") + load_records(out / "search")
    summary = write_report(records, out / "all")
    elapsed = time.time() - started
    if args.write:
        images = args.write.parent / "img"
        images.mkdir(parents=True, exist_ok=True)
        image = f"search_{args.verifier}_accuracy_vs_tokens.png"
        shutil.copy(out / "all" / "accuracy_vs_tokens.png", images / image)
        command = " ".join(["python", "benchmarks/search.py", *sys.argv[1:]])
        lines = [
            SECTIONS[args.verifier],
            "",
            f"- Command: `{command}`",
            f"- Machine: {machine()}",
            f"- Date: {datetime.date.today().isoformat()}; this run took {elapsed / 60:.1f} min, "
            f"serving samples from the cache in `{out}` where present; "
            f"{pool_note(out, ('pool.sqlite',))}",
            "- Model: SmolLM2-135M-Instruct on llama.cpp (CPU), temperature 0.7, "
            f"max_tokens {args.max_tokens} per sample and per step, search up to "
            f"{args.max_steps} steps of 4 beams (M = 2)",
            f"- Data: reasoning-gym `basic_arithmetic`, the three levels of the "
            f"compute-optimal benchmark, seed 3, {3 * args.size} questions",
            VERIFIERS[args.verifier],
            "",
            *table(summary),
            "",
            f"![accuracy vs tokens](img/{image})",
            "",
            "How to read it: compare strategies at equal mean completion tokens on the plot, "
            "not at equal n. With the oracle, `best_of_n` at n is close to pass@n (any "
            "correct sample wins), the ceiling here; the oracle scores a partial solution by "
            "the answer it states so far (else its last number), a weak step signal. A "
            "process reward model grades the steps themselves; a GPU run with one is still "
            "to be measured.",
            "",
        ]
        write_section(args.write, SECTIONS[args.verifier], "\n".join(lines))


if __name__ == "__main__":
    main()
