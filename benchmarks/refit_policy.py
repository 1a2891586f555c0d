"""Re-fit the shipped compute_optimal policy on a larger calibration split (issue 11, items
4-5), judged on the held-out questions of `confidence_frontier.py`.

Run it after `benchmarks/confidence_frontier.py`, in the same `--out`: it reuses that
script's test pool, its held-out records (`heldout-sc.jsonl`) and its 60-question fits. All
through the public CLI in-process, every sample generated once (a cache per split):

1. a calibration pool: `bench` self_consistency n=16 (logprobs, 20 alternatives) on seed
   11, `--cal-size` questions per family (reasoning-gym draws item i with seed + i, so the
   frontier's calibration split, 20 per family, is its start and comes from its cache when
   `pool-cal.sqlite` is copied to `pool-cal{size}.sqlite` first), replayed at n=1..16;
2. calibration questions whose text occurs in any test part are dropped (`cal{size}-fit`),
   so the held-out questions stay held out; `calibrate --prior` on the rest, with and
   without `--give-up-loss` (`policy-refit{size}-prior.json`, `-give-up.json`);
3. compute_optimal n=16 replayed from the test pool with each re-fitted policy, the
   frontier's two 60-question fits and issue 3's policy (shipped before this re-fit, kept in
   `benchmarks/policies/issue3_default.json`), scored on the held-out questions;
4. issue 3's policy's own domain (issue 3: `basic_arithmetic` at three levels,
   max_tokens 64), on a small split no calibration saw (seed 20000, `--issue3-size` per
   level): a pool, self_consistency n=1..16 and the same policies, replayed;
5. the report with Wilson 95% intervals and per family, `--write docs/benchmarks.md`.

Usage:
    python benchmarks/refit_policy.py --out bench-out/frontier [--cal-size 80]
        [--issue3-size 15] [--give-up-loss 0.05] [--write docs/benchmarks.md]

Generation (steps 1 and 4) is the slow part, 11-18 s per question on one core of the machine
in docs/benchmarks.md: pin it with `taskset -c 0`. Re-running resumes every step. Installing
a policy is a decision this script does not take: copy the chosen file over
`reasoning_graph/policies/default.json` (docs/benchmarks.md says which and why).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from _docs import machine, write_section
from compute_optimal import pool_note, run
from compute_optimal import spec as issue3_spec
from confidence_frontier import CAL_SEED, POOL_N, TEST_SEEDS, TOP_K, Row, row, spec

from reasoning_graph.bench.datasets import load_dataset
from reasoning_graph.bench.records import BenchRecord, load_records

SECTION = "## Re-fitting the shipped policy (issue 11)"
ISSUE3_SEED = 20000
ISSUE3_CAL = (40, 1)  # issue 3's policy's calibration split: 40 per level, seed 1
# the policy the package shipped before this re-fit (issue 3's, no prior), kept to compare
ISSUE3_POLICY = Path(__file__).parent / "policies/issue3_default.json"
SHIPPED = Path(__file__).parent.parent / "reasoning_graph/policies/default.json"
SC_NS = "1,2,4,8,16"


class Refit:
    """The runs of one `--out` directory: paths, and `bench` through the CLI."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.cal = f"cal{args.cal_size}"
        self.specs = {self.cal: spec(args.cal_size, CAL_SEED)} | {
            name: spec(args.test_size, seed) for name, seed in TEST_SEEDS.items()
        }
        self.specs["issue3"] = issue3_spec(args.issue3_size, ISSUE3_SEED)
        self.pools = {self.cal: f"pool-{self.cal}.sqlite", "issue3": "pool-issue3.sqlite"}
        self.policies = {
            f"re-fit on {args.cal_size}/family, prior": self.out
            / f"policy-refit{args.cal_size}-prior.json",
            f"re-fit on {args.cal_size}/family, prior+give-up": self.out
            / f"policy-refit{args.cal_size}-give-up.json",
            "frontier fit on 20/family, prior": self.out / "policy-prior.json",
            "frontier fit on 20/family, prior+give-up": self.out / "policy-give-up.json",
            "issue 3's policy (shipped before, no prior)": ISSUE3_POLICY,
        }

    def bench(self, split: str, out: str, ns: str, *extra: str, record: bool = False) -> None:
        pool = self.out / self.pools.get(split, "pool-test.sqlite")
        max_tokens = 64 if split == "issue3" else self.args.max_tokens
        run(["bench", "--data", self.specs[split], "--n", ns, "--out", str(self.out / out),
             "--cache" if record else "--replay", str(pool), "--max-tokens", str(max_tokens),
             "--logprobs", "--top-logprobs", str(TOP_K), "--quiet", "--concurrency", "1",
             *extra])  # fmt: skip

    def sampling(self, split: str) -> None:
        """The pool at n=16, then self_consistency n=1..16 replayed from it."""
        self.bench(split, split, str(POOL_N), "--strategies", "self_consistency", record=True)
        self.bench(split, split, SC_NS, "--strategies", "self_consistency")

    def policy(self, split: str, path: Path) -> None:
        """compute_optimal n=16 with the policy at `path`, replayed."""
        self.bench(split, f"{split}-co-{path.stem}", str(POOL_N),
                   "--strategies", "compute_optimal", "--policy", str(path))  # fmt: skip

    def fit(self, test_questions: set[str]) -> None:
        """Both re-fits, on the calibration questions no test part holds."""
        fit_dir = self.out / f"{self.cal}-fit"
        fit_dir.mkdir(exist_ok=True)
        kept = [r for r in load_records(self.out / self.cal) if r.question not in test_questions]
        (fit_dir / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in kept))
        shutil.copy(self.out / self.cal / "bench.json", fit_dir / "bench.json")  # the model
        for name, path in list(self.policies.items())[:2]:
            give_up = ["--give-up-loss", str(self.args.give_up_loss)] if "give-up" in name else []
            heldout = str(self.out / "heldout-sc.jsonl")
            run(["calibrate", str(fit_dir), "--out", str(path), "--probe-n",
                 str(self.args.probe_n), "--budgets", "2,4,8,16", "--prior", "--solvable-n",
                 str(POOL_N), "--heldout", heldout, *give_up])  # fmt: skip

    def records(self, splits: Sequence[str], suffix: str, questions: set[str]) -> list[BenchRecord]:
        return [
            r
            for split in splits
            for r in load_records(self.out / f"{split}{suffix}")
            if r.question in questions
        ]


def family(record: BenchRecord) -> str:
    """The record's reasoning-gym family; `basic_arithmetic` with its digits (issue 3's
    levels)."""
    name = record.example_id.split("[")[0]
    if name == "basic_arithmetic":
        low, high = record.example_id.split("min_digits=")[1].split(",max_digits=")
        return f"{name} {low}-{high.split(',')[0]} digits"
    return name


def table(rows: Sequence[Row], reference: Row) -> list[str]:
    lines = [
        "| run | n | accuracy | 95% CI | right | mean completion tokens | share of SC@16's |",
        "|---|--:|--:|---|--:|--:|--:|",
    ]
    for r in rows:
        low, high = r.ci
        share = 100 * r.tokens / reference.tokens
        lines.append(
            f"| {r.label} | {r.n} | {r.accuracy:.3f} | {low:.3f}-{high:.3f} | "
            f"{r.correct}/{r.questions} | {r.tokens:.1f} | {share:.1f}% |"
        )
    return lines


def by_family(named: dict[str, list[BenchRecord]]) -> list[str]:
    """Right answers and mean tokens per family, one column per run."""
    families = sorted({family(r) for records in named.values() for r in records})
    lines = ["| run | " + " | ".join(families) + " |", "|---|" + "--:|" * len(families)]
    for name, records in named.items():
        cells = []
        for fam in families:
            mine = [r for r in records if family(r) == fam]
            right = sum(r.correct for r in mine)
            tokens = sum(r.completion_tokens for r in mine) / max(len(mine), 1)
            cells.append(f"{right}/{len(mine)}, {tokens:.0f} tok")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def evaluate(
    refit: Refit, splits: Sequence[str], questions: set[str]
) -> tuple[list[Row], dict[str, list[BenchRecord]]]:
    """self_consistency n=4, 8, 16 and every policy's compute_optimal, on `questions`."""
    sc = refit.records(splits, "", questions)
    rows = [
        row("self_consistency", n, [(r.correct, r.completion_tokens) for r in sc if r.n == n])
        for n in (1, 2, 4, 8, 16)
    ]
    named = {f"self_consistency n={POOL_N}": [r for r in sc if r.n == POOL_N]}
    for name, path in refit.policies.items():
        records = refit.records(splits, f"-co-{path.stem}", questions)
        named[f"compute_optimal, {name}"] = records
        rows.append(row(f"compute_optimal, {name}", POOL_N,
                        [(r.correct, r.completion_tokens) for r in records]))  # fmt: skip
    return rows, named


def gave_up(records: Sequence[BenchRecord]) -> str:
    """How many of `records` the prior gave up on, by family."""
    given_up = Counter(family(r) for r in records if (r.plan or {}).get("gave_up"))
    parts = ", ".join(f"{count} {name}" for name, count in sorted(given_up.items()))
    return f"{given_up.total()}" + (f" ({parts})" if parts else "")


def policy_notes(
    refit: Refit, named: dict[str, list[BenchRecord]], named3: dict[str, list[BenchRecord]]
) -> list[str]:
    """Each prior policy's evidence, and how many questions it gave up on."""
    lines = []
    for name, path in refit.policies.items():
        policy = json.loads(path.read_text())
        prior = policy.get("prior")
        if not prior:
            continue
        evidence = prior["evidence"]
        threshold = prior.get("give_up_below")
        key = f"compute_optimal, {name}"
        lines.append(
            f"- **{name}**: fitted on {evidence['questions']} questions "
            f"({evidence['solvable']} solvable at n=16); score inputs "
            f"{', '.join(prior['score']['inputs'])}; bin edges "
            f"{[round(e, 3) for e in policy['bin_edges']]}; give up below prior "
            f"{'never' if threshold is None else round(threshold, 3)}. Prior AUROC for "
            f"'solvable at n=16': out of fold {evidence['prior_auroc_out_of_fold']}, held-out "
            f"{evidence.get('heldout_prior_auroc')} (score {evidence.get('heldout_score_auroc')})"
            f". Questions given up: {gave_up(named[key])} held-out, {gave_up(named3[key])} on "
            "issue 3's domain."
        )
    return lines


def verdict(refit: Refit, rows: Sequence[Row], rows3: Sequence[Row]) -> list[str]:
    """Each re-fit against issue 3's policy on both domains, and which policy the package
    ships now (the one whose content `reasoning_graph/policies/default.json` equals)."""
    base = next(r for r in rows if "issue 3's" in r.label)
    base3 = next(r for r in rows3 if "issue 3's" in r.label)
    lines = []
    for fitted, fitted3 in zip(rows[5:7], rows3[5:7], strict=True):
        parts = [
            f"{where}: {r.correct} vs {b.correct} right of {r.questions}, "
            f"{r.tokens:.1f} vs {b.tokens:.1f} tokens ({100 * (r.tokens / b.tokens - 1):+.0f}%)"
            for where, r, b in (("held-out", fitted, base), ("issue 3's domain", fitted3, base3))
        ]
        lines.append(f"- {fitted.label} against issue 3's policy: " + "; ".join(parts) + ".")
    shipped = json.loads(SHIPPED.read_text())
    same = [
        name for name, path in refit.policies.items() if json.loads(path.read_text()) == shipped
    ]
    lines.append(
        f"- The package ships (`reasoning_graph/policies/default.json`): "
        f"{same[0] if same else 'none of these'}."
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/frontier"))
    parser.add_argument("--cal-size", type=int, default=80, help="questions per family")
    parser.add_argument("--test-size", type=int, default=20, help="the frontier's, per part")
    parser.add_argument("--issue3-size", type=int, default=15, help="questions per level")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--probe-n", type=int, default=2)
    parser.add_argument("--give-up-loss", type=float, default=0.05)
    parser.add_argument("--write", type=Path, help="markdown file to write the section into")
    args = parser.parse_args()
    started = time.time()
    refit = Refit(args)
    refit.sampling(refit.cal)
    refit.sampling("issue3")

    def questions(split: str) -> list[str]:
        return load_questions(refit.specs[split])

    tests = list(TEST_SEEDS)
    test_questions = {q for split in tests for q in questions(split)}
    # the frontier's held-out questions: test questions its 20/family calibration never saw
    held_out = test_questions - set(load_questions(spec(20, CAL_SEED)))
    refit.fit(test_questions)
    for path in refit.policies.values():
        for split in [*tests, "issue3"]:
            refit.policy(split, path)
    issue3_seen = set(questions(refit.cal)) | set(load_questions(issue3_spec(*ISSUE3_CAL)))
    issue3 = set(questions("issue3")) - issue3_seen
    rows, named = evaluate(refit, tests, held_out)
    rows3, named3 = evaluate(refit, ["issue3"], issue3)
    report = markdown(refit, rows, named, rows3, named3, time.time() - started)
    (args.out / "refit.md").write_text(report)
    print(report)
    if args.write:
        write_section(args.write, SECTION, report)


def load_questions(data: str) -> list[str]:
    """The question texts of a `--data` spec, in order (no generation)."""
    return [e.question for e in load_dataset(data).examples]


def markdown(
    refit: Refit,
    rows: Sequence[Row],
    named: dict[str, list[BenchRecord]],
    rows3: Sequence[Row],
    named3: dict[str, list[BenchRecord]],
    elapsed: float,
) -> str:
    args = refit.args
    sc16 = next(r for r in rows if r.label == "self_consistency" and r.n == POOL_N)
    sc16_3 = next(r for r in rows3 if r.label == "self_consistency" and r.n == POOL_N)
    fit = load_records(refit.out / f"{refit.cal}-fit")
    command = (
        f"taskset -c 0 python benchmarks/refit_policy.py --out {args.out} --cal-size "
        f"{args.cal_size} --issue3-size {args.issue3_size} --give-up-loss {args.give_up_loss}"
        + (f" --write {args.write}" if args.write else "")
    )
    pools = (f"pool-{refit.cal}.sqlite", "pool-test.sqlite", "pool-issue3.sqlite")
    lines = [
        SECTION,
        "",
        f"- Command: `{command}` (after `confidence_frontier.py`, whose pools it reuses)",
        f"- Machine: {machine()}; generation pinned to one core",
        f"- Date: {datetime.date.today().isoformat()}; the analysis run took "
        f"{elapsed / 60:.1f} min; {pool_note(args.out, pools)}; a pool copied from an "
        "earlier run keeps its samples' times, so its span covers that run too",
        f"- Model and sampling as in the section above (max_tokens {args.max_tokens}; 64 on "
        "issue 3's domain), logprobs with 20 alternatives in every pool",
        f"- Calibration: seed {CAL_SEED}, {args.cal_size} per family of the three above "
        f"({3 * args.cal_size} questions; the first 20 per family are the frontier's "
        f"calibration split); {len({r.question for r in fit if r.n == POOL_N})} distinct "
        "questions left after dropping every one whose text a test part holds",
        "- Issue 3's policy is the one the package shipped before this re-fit (its rows in "
        "the section above, measured before, are labelled "
        '"issue 3\'s policy, shipped before, no prior")',
        f"- Held-out: the frontier's **{sc16.questions} questions**; issue 3's domain: seed "
        f"{ISSUE3_SEED}, {args.issue3_size} per level, **{sc16_3.questions} questions** after "
        "dropping those in its calibration split (seed 1, 40 per level) or in ours",
        "",
        "On the frontier's held-out questions:",
        "",
        *table(rows, sc16),
        "",
        *by_family(named),
        "",
        "On issue 3's domain (the domain of the policy shipped before; max_tokens 64):",
        "",
        *table(rows3, sc16_3),
        "",
        *by_family(named3),
        "",
        *verdict(refit, rows, rows3),
        "",
        *policy_notes(refit, named, named3),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
