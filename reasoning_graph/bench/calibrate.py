"""Fit a compute-optimal policy from bench records, as Snell et al. do per difficulty bin.

1. Each calibration question gets a model-predicted difficulty: the score
   `estimate_difficulty` gives its first `probe_n` samples (the same samples, same seeds, a
   `compute_optimal` probe draws at run time), taken from a sampling run with `n >= probe_n`.
2. Bin edges are the 20/40/60/80% quantiles of those scores: five bins of (about) equal size.
3. For each bin and budget, among the plans measured with `probe_n <= n <= budget`, the plan
   with the best accuracy on the bin's questions wins; plans within `accuracy_tolerance` of
   the best are tied, and ties go to fewer mean completion tokens.

Which plan a record measured, and its `n`, is `reasoning_graph.bench.plans`': a step search
record counts as the probe plus the search's worst case, its tokens as the record's plus the
probe's samples' (at run time it runs after the probe, not from it).

With `prior=True` (`calibrate --prior`), step 1's score is the continuous difficulty of a
fitted `DifficultyPrior` (`reasoning_graph.bench.fit_prior`): a logistic regression of
"solvable at `solvable_n`" on the question's text features, and one on that prior and the
probe's signals (agreement, token confidence, verifier score). Only questions with that
label are binned, and those the prior gives up on are left out of the bins: at run time they
draw one sample and no plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.bench.fit_prior import Split, fit_difficulty_prior
from reasoning_graph.bench.plans import PlanKey, plan_choice, plan_key
from reasoning_graph.bench.records import BenchCandidate, BenchRecord
from reasoning_graph.difficulty import estimate_difficulty
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.policy import POLICY_VERSION, PlanChoice, Policy
from reasoning_graph.prior import DifficultyPrior, probe_signals
from reasoning_graph.state import Candidate, Difficulty
from reasoning_graph.strategies import REGISTRY

__all__ = ["fit_policy", "probe_difficulty", "solvable_labels"]

_BINS = 5


def _index(candidate_id: str) -> int:
    return int(candidate_id[1:]) if candidate_id[1:].isdigit() else 0


def _first(record: BenchRecord, probe_n: int) -> list[BenchCandidate]:
    """`record`'s first `probe_n` samples: a probe's."""
    return sorted(record.candidates, key=lambda c: _index(c.id))[:probe_n]


def _probe(record: BenchRecord, probe_n: int, matcher: AnswerMatcher) -> Difficulty:
    """`estimate_difficulty` of `record`'s first `probe_n` samples, with their confidences
    kept as `confidences` are read by `probe_signals`."""
    first = _first(record, probe_n)
    wave: list[Candidate] = [
        {
            "id": c.id,
            "parent_id": None,
            "chain": c.chain,
            "round": c.round,
            "node": "think",
            "text": "",
            "answer": c.answer,
            "score": c.score,
            "finish_reason": None,
            "completion_tokens": c.completion_tokens,
            "seed": c.seed,
            "mean_logprob": c.mean_logprob,
        }
        for c in first
    ]
    difficulty = estimate_difficulty(wave, matcher)
    measured = [c.confidence["mean"] for c in first if c.confidence is not None]
    difficulty["confidence"] = sum(measured) / len(measured) if measured else None
    return difficulty


def probe_difficulty(record: BenchRecord, probe_n: int, matcher: AnswerMatcher) -> float | None:
    """The difficulty score of `record`'s first `probe_n` samples (a sampling run)."""
    return _probe(record, probe_n, matcher)["score"]


def _probe_runs(records: Sequence[BenchRecord], probe_n: int) -> dict[str, BenchRecord]:
    """Each question's largest sampling run with `n >= probe_n`, whose first samples are
    its probe's."""
    runs: dict[str, BenchRecord] = {}
    for record in sorted(records, key=lambda r: -r.n):
        if _is_sampling(record) and record.n >= probe_n and record.example_id not in runs:
            runs[record.example_id] = record
    return runs


def _probes(
    runs: Mapping[str, BenchRecord], probe_n: int, matcher: AnswerMatcher
) -> dict[str, Difficulty]:
    """Each question's probe: the first `probe_n` samples of its run (`_probe_runs`)."""
    return {example_id: _probe(run, probe_n, matcher) for example_id, run in runs.items()}


def solvable_labels(
    records: Iterable[BenchRecord], solvable_n: int | None = None
) -> tuple[int, dict[str, bool]]:
    """Whether `self_consistency` at `solvable_n` answered each question right, by example
    id; `solvable_n` defaults to the largest `n` it ran at. Returns `(solvable_n, labels)`.

    Raises:
        ConfigurationError: No `self_consistency` record at that `n`.
    """
    voted = [r for r in records if _is_plain_vote(r) and r.error is None]
    if solvable_n is None and voted:
        solvable_n = max(r.n for r in voted)
    labels = {r.example_id: r.correct for r in voted if r.n == solvable_n}
    if solvable_n is None or not labels:
        raise ConfigurationError(
            f"a prior is fitted on `self_consistency` at n={solvable_n or 16}, and no record "
            "has it: run `reasoning-graph bench --strategies self_consistency --n ...,16`"
        )
    return solvable_n, labels


def _split(
    records: Sequence[BenchRecord], probes: Mapping[str, Difficulty], labels: Mapping[str, bool]
) -> Split:
    """The questions, probe signals and labels of `records`' questions."""
    questions = {r.example_id: r.question for r in records}
    signals = {
        example_id: probe_signals(
            None,
            agreement=probe["agreement"],
            confidences=[probe.get("confidence")],
            token_probability=probe["token_confidence"],
            verifier=probe["mean_verifier_score"],
        )
        for example_id, probe in probes.items()
    }
    return questions, signals, labels


def _fit_prior(
    records: Sequence[BenchRecord],
    probes: Mapping[str, Difficulty],
    *,
    probe_n: int,
    solvable_n: int | None,
    give_up_loss: float | None,
    heldout: Iterable[BenchRecord] | None,
) -> tuple[DifficultyPrior, dict[str, float]]:
    """Fit the prior on `records` (AUROCs on `heldout` too); scores of the questions kept."""
    solvable_n, labels = solvable_labels(records, solvable_n)
    held: Split | None = None
    if heldout is not None:
        held_records = [r for r in heldout if r.error is None]
        try:
            _, held_labels = solvable_labels(held_records, solvable_n)
        except ConfigurationError as error:
            raise ConfigurationError(f"the held-out records: {error}") from None
        held_probes = _probes(_probe_runs(held_records, probe_n), probe_n, AnswerMatcher())
        held = _split(held_records, held_probes, held_labels)
    return fit_difficulty_prior(
        _split(records, probes, labels),
        solvable_n=solvable_n,
        give_up_loss=give_up_loss,
        heldout=held,
    )


def _is_sampling(record: BenchRecord) -> bool:
    """Whether `record` ran independent samples, whose first `probe_n` are a probe's."""
    spec = REGISTRY.get(record.strategy)
    return spec is not None and spec.policy_choice == "samples"


def _is_plain_vote(record: BenchRecord) -> bool:
    """Whether `record` is a plain majority vote over samples (`self_consistency`)."""
    spec = REGISTRY.get(record.strategy)
    return spec is not None and spec.policy_choice == "samples" and spec.selection == "majority"


def _quantile_edges(scores: Sequence[float]) -> list[float]:
    ordered = sorted(scores)
    return [ordered[min(len(ordered) - 1, (len(ordered) * k) // _BINS)] for k in range(1, _BINS)]


def _best(
    outcomes: Mapping[PlanKey, list[tuple[bool, int]]], budget: int, tolerance: float
) -> PlanChoice:
    measured = {k: v for k, v in outcomes.items() if v}
    affordable = {k: v for k, v in measured.items() if k[1] <= budget}
    if not affordable:  # every plan costs more than the budget: take the cheapest
        cheapest = min(measured, key=lambda k: k[1])
        affordable = {cheapest: measured[cheapest]}
    pool = affordable
    stats = {
        key: (sum(ok for ok, _ in runs) / len(runs), sum(t for _, t in runs) / len(runs))
        for key, runs in pool.items()
    }
    top = max(accuracy for accuracy, _ in stats.values())
    key = min(
        (k for k, (accuracy, _) in stats.items() if accuracy >= top - tolerance),
        key=lambda k: (stats[k][1], k[1]),
    )
    return plan_choice(key, accuracy=stats[key][0], tokens=stats[key][1])


def fit_policy(
    records: Iterable[BenchRecord],
    *,
    probe_n: int,
    budgets: Sequence[int],
    model: str,
    accuracy_tolerance: float = 0.0,
    early_stop: Literal["none", "settled", "confidence"] = "confidence",
    stop_confidence: float = 0.95,
    wave_size: int = 2,
    fitted_on: Mapping[str, Any] | None = None,
    prior: bool = False,
    solvable_n: int | None = None,
    give_up_loss: float | None = None,
    heldout: Iterable[BenchRecord] | None = None,
) -> Policy:
    """Fit a policy from bench records of a calibration split.

    Args:
        records: Bench records; failed ones are ignored. They must include a sampling run
            with `n >= probe_n` per question (for its difficulty) and the plans to choose
            from (sampling strategies at several `n`; `parallel_revision` with
            `chains == probe_n`; step searches, whose worst case plus the probe counts as
            their `n`).
        probe_n: Samples in the run-time probe.
        budgets: The budgets (`n`, generations) to fit plans for.
        model: The model the records came from, recorded in the policy.
        accuracy_tolerance: Plans this close to the best accuracy count as tied.
        early_stop: The stopping rule `compute_optimal` applies to voting plans.
        stop_confidence: Threshold of the `confidence` rule.
        wave_size: Samples per wave after the probe.
        fitted_on: Provenance to record (data spec, command, date).
        prior: Fit a `DifficultyPrior` (needs `self_consistency` records at `solvable_n`
            and scikit-learn) and bin its continuous score instead of the probe's.
        solvable_n: The `n` whose `self_consistency` result labels a question solvable;
            defaults to the largest `n` it ran at.
        give_up_loss: With `prior`, the share of calibration questions that giving up
            before the probe may lose; `None` (the default): never give up.
        heldout: With `prior`, records of a split calibration never saw, on which the
            prior's AUROCs are reported (`prior.evidence`).

    Raises:
        ConfigurationError: No question has a sampling run with `n >= probe_n`, no record
            measures a plan a policy can choose, or (with `prior`) the labels are missing
            or all alike, or scikit-learn is not installed.
    """
    valid = [r for r in records if r.error is None]
    runs = _probe_runs(valid, probe_n)
    probes = _probes(runs, probe_n, AnswerMatcher())
    if not probes:
        raise ConfigurationError(
            f"no record is a sampling run with n >= probe_n={probe_n}: run `reasoning-graph "
            f"bench --strategies self_consistency --n {probe_n},...` on the calibration split"
        )
    fitted_prior: DifficultyPrior | None = None
    if prior:
        fitted_prior, scores = _fit_prior(
            valid,
            probes,
            probe_n=probe_n,
            solvable_n=solvable_n,
            give_up_loss=give_up_loss,
            heldout=heldout,
        )
    else:
        scores = {i: 0.5 if p["score"] is None else p["score"] for i, p in probes.items()}
    probe_tokens = {
        example_id: sum(c.completion_tokens or 0 for c in _first(run, probe_n))
        for example_id, run in runs.items()
    }
    outcomes: dict[PlanKey, dict[str, tuple[bool, int]]] = defaultdict(dict)
    for record in valid:
        key = plan_key(record, probe_n)
        if key is not None and key[1] >= probe_n and record.example_id in scores:
            tokens = record.completion_tokens
            if key[2] is not None:  # a step search spends the probe's tokens on top
                tokens += probe_tokens[record.example_id]
            outcomes[key][record.example_id] = (record.correct, tokens)
    if not outcomes:
        raise ConfigurationError(
            f"no record measures a plan with n >= probe_n={probe_n} that a policy can choose"
        )
    edges = _quantile_edges(list(scores.values()))
    draft = Policy(version=POLICY_VERSION, model=model, probe_n=probe_n, bin_edges=edges, plans={})
    members: dict[int, list[str]] = defaultdict(list)
    for example_id, score in scores.items():
        members[draft.bin_of(score)].append(example_id)
    plans: dict[str, dict[str, PlanChoice]] = {}
    for difficulty_bin in range(1, _BINS + 1):
        ids = members.get(difficulty_bin) or list(scores)  # an empty bin uses every question
        bin_outcomes = {key: [runs[i] for i in ids if i in runs] for key, runs in outcomes.items()}
        plans[str(difficulty_bin)] = {
            str(budget): _best(bin_outcomes, budget, accuracy_tolerance) for budget in budgets
        }
    return Policy(
        version=POLICY_VERSION,
        model=model,
        probe_n=probe_n,
        early_stop=early_stop,
        stop_confidence=stop_confidence,
        wave_size=wave_size,
        bin_edges=edges,
        plans=plans,
        prior=fitted_prior,
        fitted_on={
            **(fitted_on or {}),
            "questions": len(scores),
            "bin_sizes": {str(b): len(members.get(b, [])) for b in range(1, _BINS + 1)},
            "accuracy_tolerance": accuracy_tolerance,
        },
    )
