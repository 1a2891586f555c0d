"""`fit_policy`: difficulty quantile bins from probes, best plan per bin and budget."""

from __future__ import annotations

import pytest

from reasoning_graph import ConfigurationError, ReasoningConfig, asolve
from reasoning_graph.bench.calibrate import fit_policy
from reasoning_graph.bench.runner import arun_bench
from reasoning_graph.cli import main
from reasoning_graph.policy import load_policy
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from tests.bench.records_factory import sampling_record
from tests.bench.test_runner import solver, write_data


def record(
    example: str,
    n: int,
    answers: list[str],
    correct: bool,
    tokens: int,
    strategy="self_consistency",
):
    return sampling_record(example, n, answers, correct, tokens, strategy=strategy)


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


def search_record(example, correct, tokens, *, strategy="beam_search", max_steps=3):
    """A benched step search of 2 first steps: its shape is in `plan["search"]`."""
    shape = {"max_steps": max_steps, "beam_width": 1, "lookahead": 0}
    benched = record(example, 2, ["1", "1"], correct, tokens, strategy=strategy)
    return benched.model_copy(update={"plan": {"n": 2, "search": shape}})


def test_a_step_search_is_chosen_where_its_records_are_best_and_it_fits():
    # On the hard questions a beam search of 2 first steps and 3 steps is as accurate as
    # self_consistency@8 with fewer tokens: 50, plus the probe's 2 samples (10 each) it
    # runs after, 70 < 80. Its worst case is 2 x 3 generations after the probe's 2: n = 8.
    records = toy_records() + [search_record(f"hard{q}", True, 50) for q in range(5)]
    policy = fit_policy(records, probe_n=2, budgets=[4, 8, 16], model="toy")
    hard = policy.plans[str(policy.bin_of(0.5))]
    chosen = hard["8"]
    assert (chosen.strategy, chosen.n, chosen.beams, chosen.max_steps) == ("beam_search", 8, 2, 3)
    assert (chosen.accuracy, chosen.mean_completion_tokens) == (1.0, 70.0)
    assert hard["16"].strategy == "beam_search"
    assert hard["4"].strategy == "self_consistency"  # 8 generations do not fit in 4
    easy = policy.plans[str(policy.bin_of(0.0))]
    assert easy["16"].strategy == "self_consistency"  # no search records for easy questions


def test_a_step_search_costing_more_tokens_than_its_tie_loses():
    # 65 tokens + the probe's 20 = 85 > self_consistency@8's 80 at the same accuracy.
    records = toy_records() + [search_record(f"hard{q}", True, 65) for q in range(5)]
    policy = fit_policy(records, probe_n=2, budgets=[8], model="toy")
    assert policy.plans[str(policy.bin_of(0.5))]["8"].strategy == "self_consistency"


def test_a_step_search_record_without_its_shape_is_not_a_plan():
    records = toy_records() + [
        search_record(f"hard{q}", True, 50).model_copy(update={"plan": None}) for q in range(5)
    ]
    policy = fit_policy(records, probe_n=2, budgets=[8], model="toy")
    assert policy.plans[str(policy.bin_of(0.5))]["8"].strategy == "self_consistency"


async def test_calibrate_fits_a_step_search_from_bench_records_and_the_policy_runs_it(
    tmp_path, capsys, monkeypatch
):
    # Bench records of self_consistency and of beam_search (2 first steps, --max-steps 2)
    # carry what calibrate reads: n, tokens, calls and the search's shape. With the samples
    # graded wrong, the search is the best plan at a budget of 2 + 2 x 2 = 6 generations.
    records = await arun_bench(
        write_data(tmp_path),
        strategies=["self_consistency", "beam_search"],
        ns=[2],
        generator=FakeGenerator(solver()),
        verifier=FakeVerifier({}, default=0.5),
        base_config=ReasoningConfig(max_steps=2),
        out_dir=tmp_path / "out",
        progress=False,
    )
    searched = [r for r in records if r.strategy == "beam_search"]
    assert searched and all(r.plan and r.plan["search"]["max_steps"] == 2 for r in searched)
    assert all(r.n == 2 and r.llm_calls >= 2 and r.completion_tokens > 0 for r in searched)
    graded = [r if r in searched else r.model_copy(update={"correct": False}) for r in records]

    results = tmp_path / "graded.jsonl"
    results.write_text("".join(r.model_dump_json() + "\n" for r in graded))
    policy_path = tmp_path / "policy.json"
    argv = [
        "calibrate",
        str(results),
        "--out",
        str(policy_path),
        "--probe-n",
        "2",
        "--model",
        "fake",
        "--budgets",
        "6",
    ]
    monkeypatch.setenv("COLUMNS", "200")
    assert main(argv) == 0
    assert "beam_search x6 (2 beams, 2 steps) 100%" in capsys.readouterr().out
    policy = load_policy(policy_path)
    assert policy.plans == fit_policy(graded, probe_n=2, budgets=[6], model="fake").plans
    for plans in policy.plans.values():
        chosen = plans["6"]
        assert (chosen.strategy, chosen.n, chosen.beams, chosen.max_steps) == (
            "beam_search",
            6,
            2,
            2,
        )
        assert (chosen.beam_width, chosen.lookahead) == (1, None)
    generator = FakeGenerator(solver())
    result = await asolve(
        "What is 2 + 3?",
        generator=generator,
        verifier=FakeVerifier({}, default=0.5),
        strategy="compute_optimal",
        n=6,
        policy=str(policy_path),
    )
    assert result.plan["base"] == "beam_search" and result.answer == "5"
    assert generator.completions_made <= 6
