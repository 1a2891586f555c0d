"""`fit_policy`: difficulty quantile bins from probes, best plan per bin and budget."""

from __future__ import annotations

import pytest

from reasoning_graph import ConfigurationError
from reasoning_graph.bench.calibrate import fit_policy
from reasoning_graph.bench.records import BenchCandidate, BenchRecord


def record(
    example: str,
    n: int,
    answers: list[str],
    correct: bool,
    tokens: int,
    strategy="self_consistency",
):
    return BenchRecord(
        dataset="toy",
        example_id=example,
        question="q",
        gold="1",
        strategy=strategy,
        n=n,
        answer=answers[0],
        correct=correct,
        prompt_tokens=0,
        completion_tokens=tokens,
        llm_calls=n,
        seconds=0.0,
        candidates=[
            BenchCandidate(
                id=f"c{i}",
                answer=a,
                score=None,
                seed=i,
                round=0,
                chain=None,
                completion_tokens=tokens // n,
            )
            for i, a in enumerate(answers)
        ],
    )


def toy_records():
    records = []
    # 5 easy questions: the probe agrees, and one sample is as good as eight.
    for q in range(5):
        records += [
            record(f"easy{q}", 2, ["1", "1"], True, 20),
            record(f"easy{q}", 8, ["1"] * 8, True, 80),
        ]
    # 5 hard questions: the probe disagrees, and only eight samples get it right.
    for q in range(5):
        records += [
            record(f"hard{q}", 2, ["1", "2"], False, 20),
            record(f"hard{q}", 8, ["1", "2"] + ["1"] * 6, True, 80),
        ]
    return records


def test_fit_policy_picks_cheap_plans_for_easy_bins_and_big_ones_for_hard():
    policy = fit_policy(toy_records(), probe_n=2, budgets=[2, 8], model="toy")
    easy_bin, hard_bin = policy.bin_of(0.0), policy.bin_of(0.5)
    assert easy_bin < hard_bin
    assert policy.plans[str(easy_bin)]["8"].n == 2  # tie on accuracy -> fewer tokens
    assert policy.plans[str(hard_bin)]["8"].n == 8
    assert policy.plans[str(hard_bin)]["8"].accuracy == 1.0
    assert policy.plans[str(hard_bin)]["2"].n == 2  # the budget caps the choice
    assert policy.fitted_on["questions"] == 10


def test_fit_policy_tolerance_trades_accuracy_for_tokens():
    records = toy_records()
    exact = fit_policy(records, probe_n=2, budgets=[8], model="toy")
    loose = fit_policy(records, probe_n=2, budgets=[8], model="toy", accuracy_tolerance=1.0)
    hard = str(exact.bin_of(0.5))
    assert exact.plans[hard]["8"].n == 8
    assert loose.plans[hard]["8"].n == 2


def test_fit_policy_needs_sampling_runs_as_large_as_the_probe():
    with pytest.raises(ConfigurationError, match="n >= probe_n=4"):
        fit_policy(toy_records()[:1], probe_n=4, budgets=[8], model="toy")


def test_failed_records_are_ignored():
    records = toy_records()
    broken = records[0].model_copy(update={"error": "ProviderUnavailableError", "correct": False})
    policy = fit_policy([broken, *records[1:]], probe_n=2, budgets=[8], model="toy")
    assert policy.fitted_on["questions"] == 10
