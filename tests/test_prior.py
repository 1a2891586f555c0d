"""The difficulty prior: its formulas on hand-computed values, its fit by `calibrate`, its
place in the policy file, and `compute_optimal` scoring and giving up with it."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from rich.console import Console

from reasoning_graph import ConfigurationError, asolve
from reasoning_graph.bench.base import Example
from reasoning_graph.bench.calibrate import fit_policy
from reasoning_graph.bench.fit_prior import auroc, fit_linear, give_up_threshold
from reasoning_graph.bench.records import RESULTS_FILE, BenchRecord
from reasoning_graph.bench.records import make_record as make_bench_record
from reasoning_graph.cli import main
from reasoning_graph.cli.view import print_summary
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.policy import load_policy
from reasoning_graph.prior import (
    DifficultyPrior,
    LinearModel,
    difficulty_score,
    logit,
    prior_probability,
    probe_signals,
    question_features,
    sigmoid,
)
from reasoning_graph.providers.fake import FakeGenerator
from tests.bench.records_factory import sampling_record

FIXTURES = Path(__file__).parent / "fixtures"
PRIOR = FIXTURES / "policy_prior.json"  # P(solvable) = sigmoid(-2 (max_digits - 2))
GIVES_UP = FIXTURES / "policy_prior_gives_up.json"  # the same, giving up below 0.9
OLD = FIXTURES / "policy_all_plans.json"


def test_question_features_by_hand():
    features = question_features("Calculate (17 + 2.5) * 300.")
    assert features == {
        "chars": math.log1p(27),
        "words": 6.0,  # whitespace-separated: "(17" and "2.5)" count as words
        "numbers": 3.0,
        "digits": 7.0,
        "max_digits": 3.0,
        "operators": 2.0,
        "parentheses": 1.0,
        "decimals": 1.0,
    }


def test_linear_model_by_hand_and_a_missing_input_counts_as_its_mean():
    model = LinearModel(inputs=["agreement"], mean=[0.5], scale=[0.25], coef=[2.0], intercept=-1.0)
    # -1 + 2 * (1.0 - 0.5) / 0.25 = 3
    assert model.probability({"agreement": 1.0}) == pytest.approx(1 / (1 + math.exp(-3)))
    assert model.probability({}) == pytest.approx(1 / (1 + math.exp(1)))
    assert model.probability({"agreement": None}) == model.probability({})


def test_difficulty_score_by_hand():
    prior = DifficultyPrior(
        solvable_n=16,
        question=LinearModel(inputs=[], mean=[], scale=[], coef=[], intercept=0.0),
        score=LinearModel(
            inputs=["prior", "agreement", "confidence"],
            mean=[0.0, 0.5, 1.0],
            scale=[1.0, 0.5, 0.5],
            coef=[1.0, 1.0, 0.5],
            intercept=0.0,
        ),
    )
    signals = probe_signals(0.8, agreement=1.0, confidences=[1.5, None, 2.5])
    assert signals["prior"] == pytest.approx(math.log(4))  # logit(0.8)
    assert signals["confidence"] == 2.0  # the samples that have one
    # log 4 + (1 - 0.5) / 0.5 + 0.5 * (2 - 1) / 0.5 = log 4 + 2; 1 - sigmoid(.) = q / (1 + q)
    q = math.exp(-2) / 4
    assert difficulty_score(prior, signals) == pytest.approx(q / (1 + q))
    assert difficulty_score(prior, signals) == pytest.approx(0.0327272, abs=1e-6)


def test_the_score_is_continuous_where_the_probe_agrees_alike():
    policy = load_policy(PRIOR)
    assert policy.prior is not None
    scores = {
        difficulty_score(
            policy.prior,
            probe_signals(prior_probability(policy.prior, q), agreement=0.5),
        )
        for q in ("What is 1 + 1?", "What is 12 + 1?", "What is 123 + 1?", "What is 1234 + 1?")
    }
    assert len(scores) == 4  # the probe's agreement alone would give one score, one bin


def test_sigmoid_and_logit_are_inverse_and_do_not_overflow():
    assert sigmoid(logit(0.3)) == pytest.approx(0.3)
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0
    assert math.isfinite(logit(0.0)) and math.isfinite(logit(1.0))


def test_auroc_by_hand():
    assert auroc([0.9, 0.2, 0.6], [True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.6], [True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.7, 0.1], [True, False, True, False]) == 0.875  # a tie counts 1/2
    assert auroc([0.5, 0.7], [True, True]) is None


def test_give_up_threshold_by_hand():
    priors, labels = [0.1, 0.2, 0.3, 0.9], [False, False, True, True]
    assert give_up_threshold(priors, labels, 0.0) == 0.3  # gives up 0.1 and 0.2, no solvable
    assert give_up_threshold(priors, labels, 0.25) == 0.9  # may lose one of 4 questions
    assert give_up_threshold(priors, labels, 0.5) is None  # could lose every solvable one
    assert give_up_threshold([0.3, 0.4], [True, False], 0.0) is None  # nothing below 0.3


def test_fit_linear_leaves_out_constant_inputs_and_needs_both_labels():
    model = fit_linear(
        [{"a": 1.0, "b": 5.0}, {"a": 2.0, "b": 5.0}, {"a": 3.0, "b": 5.0}, {"a": 4.0}],
        [False, False, True, True],
        ["a", "b", "c"],
    )
    assert model.inputs == ["a"] and model.coef[0] > 0
    with pytest.raises(ConfigurationError, match="every one of the 2 calibration questions"):
        fit_linear([{"a": 1.0}, {"a": 2.0}], [True, True], ["a"])


# --- calibrate fits the prior on records where difficulty is a known function of the text


def make_record(example_id: str, question: str, n: int, answers: list[str], correct: bool):
    return sampling_record(
        example_id, n, answers, correct, 10 * n, question=question, dataset="synthetic"
    )


def synthetic_split(name: str, questions: int, seed: int) -> list[BenchRecord]:
    """Questions `a + b (+ c)` whose largest number has 1..5 digits; a question is solvable
    at n=16 exactly when it has at most 2 digits, except that one in ten is flipped. A
    solvable question's 2-sample probe agrees, an unsolvable one's splits."""
    rng = random.Random(seed)
    records = []
    for k in range(questions):
        digits = rng.randint(1, 5)
        terms = [rng.randint(10 ** (digits - 1), 10**digits - 1)]
        terms += [rng.randint(1, 9) for _ in range(rng.randint(1, 2))]
        question = f"What is {' + '.join(map(str, terms))}?"
        solvable = (digits <= 2) != (k % 10 == 0)
        example_id = f"{name}{k}"
        probe = ["1", "1"] if solvable else ["1", "2"]
        records += [
            make_record(example_id, question, 2, probe, solvable and rng.random() < 0.7),
            make_record(example_id, question, 16, probe + ["1"] * 14, solvable),
        ]
    return records


def test_calibrate_fits_a_prior_that_predicts_solvability_on_held_out_questions():
    policy = fit_policy(
        synthetic_split("cal", 200, seed=1),
        probe_n=2,
        budgets=[2, 16],
        model="synthetic",
        prior=True,
        give_up_loss=0.05,
        heldout=synthetic_split("test", 100, seed=2),
    )
    prior = policy.prior
    assert prior is not None and prior.solvable_n == 16
    assert "max_digits" in prior.question.inputs
    evidence = prior.evidence
    assert evidence["questions"] == 200 and evidence["heldout_questions"] == 100
    assert evidence["prior_auroc_out_of_fold"] >= 0.8
    assert evidence["heldout_prior_auroc"] >= 0.8  # labels are 10% noise: 0.9 is the ceiling
    assert evidence["heldout_score_auroc"] >= evidence["heldout_prior_auroc"]
    assert evidence["given_up"] > 0 and evidence["solvable_given_up"] <= 0.05 * 200
    assert prior.give_up_below is not None
    assert len(set(policy.bin_edges)) == 4  # the continuous score keeps five distinct bins
    assert policy.fitted_on["questions"] == 200 - evidence["given_up"]


def test_a_prior_needs_self_consistency_at_the_solvable_n():
    with pytest.raises(ConfigurationError, match="n=32, and no record has it"):
        fit_policy(
            synthetic_split("cal", 20, seed=1),
            probe_n=2,
            budgets=[2],
            model="synthetic",
            prior=True,
            solvable_n=32,
        )


def test_policy_with_a_prior_round_trips_as_plain_numbers(tmp_path):
    policy = fit_policy(
        synthetic_split("cal", 60, seed=3), probe_n=2, budgets=[2, 16], model="s", prior=True
    )
    policy.save(tmp_path / "p.json")
    assert load_policy(tmp_path / "p.json") == policy
    stored = json.loads((tmp_path / "p.json").read_text())["prior"]
    assert all(isinstance(w, float) for w in stored["question"]["coef"])
    assert stored["give_up_below"] is None  # no --give-up-loss: never give up


def test_a_prior_with_an_unknown_input_fails_clearly(tmp_path):
    data = json.loads(PRIOR.read_text())
    data["prior"]["question"]["inputs"] = ["vowels"]
    (tmp_path / "p.json").write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match=r"unknown inputs \['vowels'\]; known: chars"):
        load_policy(tmp_path / "p.json")


def test_held_out_records_without_labels_are_named(tmp_path):
    heldout = [r for r in synthetic_split("test", 20, seed=2) if r.n == 2]
    with pytest.raises(ConfigurationError, match="the held-out records: .*n=16"):
        fit_policy(
            synthetic_split("cal", 20, seed=1),
            probe_n=2,
            budgets=[2],
            model="s",
            prior=True,
            heldout=heldout,
        )


def test_a_policy_without_a_prior_is_written_as_before(tmp_path):
    policy = load_policy(OLD)
    assert policy.prior is None
    policy.save(tmp_path / "p.json")
    assert "prior" not in json.loads((tmp_path / "p.json").read_text())


def test_the_shipped_policy_has_the_re_fitted_prior_and_never_gives_up():
    """docs/compute-optimal.md and docs/benchmarks.md describe the shipped policy as issue 11's
    re-fit without giving up: a prior whose score reads token confidence, and no threshold
    (the fit that gives up gave up on "Calculate 17 + 25.", the docs' own example)."""
    prior = load_policy().prior
    assert prior is not None and prior.give_up_below is None
    assert {"confidence", "token_probability"} <= set(prior.score.inputs)
    assert prior.evidence["questions"] == 229 and prior.evidence["heldout_questions"] == 176


async def test_the_shipped_policy_degrades_on_a_provider_without_logprobs():
    """The shipped prior's score reads token confidence, so the probe asks for logprobs; a
    provider that returns none still runs: the missing signals count as their calibration
    means, and the result says why there is no confidence. ("What is 1 + 1?" has a high prior,
    so it is probed, not given up.)"""
    generator = FakeGenerator(["The answer is 2.", "The answer is 3."])
    result = await asolve("What is 1 + 1?", generator=generator, strategy="compute_optimal", n=16)
    assert result.plan["logprobs"] and not result.difficulty.gave_up
    assert result.difficulty.confidence is None and result.difficulty.prior is not None
    assert result.difficulty.score is not None and 0.0 < result.difficulty.score < 1.0
    assert generator.completions_made >= 2 and result.answer in {"2", "3"}
    assert any("no token confidence" in note for note in result.notes)


def test_calibrate_command_fits_a_prior(tmp_path, capsys):
    bench = tmp_path / "cal"
    bench.mkdir()
    lines = [r.model_dump_json() for r in synthetic_split("cal", 60, seed=4)]
    (bench / RESULTS_FILE).write_text("\n".join(lines) + "\n")
    out = tmp_path / "policy.json"
    argv = ["calibrate", str(bench), "--out", str(out), "--probe-n", "2", "--budgets", "2,16"]
    assert main([*argv, "--model", "s", "--prior", "--give-up-loss", "0.05"]) == 0
    assert "prior (solvable at n=16)" in capsys.readouterr().out
    policy = load_policy(out)
    assert policy.prior is not None and policy.prior.evidence["give_up_loss"] == 0.05
    assert main([*argv, "--model", "s", "--give-up-loss", "0.05"]) == 2
    assert "need --prior" in capsys.readouterr().err


# --- compute_optimal with a prior


async def test_compute_optimal_scores_the_probe_with_the_prior():
    # max_digits 1: prior sigmoid(2); the probe agrees: 1 - sigmoid(2 + 1) = 0.0474 -> bin 1.
    generator = FakeGenerator(["The answer is 2."])
    result = await asolve(
        "What is 1 + 1?", generator=generator, strategy="compute_optimal", n=8, policy=str(PRIOR)
    )
    difficulty = result.difficulty
    assert difficulty.prior == pytest.approx(sigmoid(2.0))
    assert difficulty.score == pytest.approx(1 - sigmoid(3.0))
    assert difficulty.probe_score == 0.0 and difficulty.bin == 1 and not difficulty.gave_up
    assert result.plan["phase"] == "chosen" and result.plan["n"] == 2
    assert generator.completions_made == 2


async def test_a_hard_looking_question_with_a_split_probe_gets_a_hard_bin():
    # max_digits 4: prior sigmoid(-4); agreement 0.5 is the mean: 1 - sigmoid(-4) -> bin 5.
    generator = FakeGenerator(["The answer is 1239.", "The answer is 1.", "It is 1239."])
    result = await asolve(
        "What is 1234 + 5?",
        generator=generator,
        strategy="compute_optimal",
        n=8,
        policy=str(PRIOR),
    )
    assert result.difficulty.score == pytest.approx(1 - sigmoid(-4.0))
    assert result.difficulty.bin == 5
    assert result.plan["base"] == "self_consistency"  # bin 5's best_of_n needs a verifier


async def test_a_question_the_prior_gives_up_on_draws_one_sample():
    generator = FakeGenerator(["The answer is 2."])
    result = await asolve(
        "What is 1 + 1?",
        generator=generator,
        strategy="compute_optimal",
        n=16,
        policy=str(GIVES_UP),
    )
    assert generator.completions_made == 1
    assert result.answer == "2"
    assert result.difficulty.gave_up and result.difficulty.bin == 5
    assert result.difficulty.score == pytest.approx(1 - sigmoid(2.0))  # agreement unknown
    assert result.plan["gave_up"] and result.plan["n"] == 1 and result.plan["phase"] == "chosen"


async def test_an_old_policy_runs_as_before():
    generator = FakeGenerator(["The answer is 3."])
    result = await asolve(
        "What is 1 + 1?", generator=generator, strategy="compute_optimal", n=8, policy=str(OLD)
    )
    assert result.difficulty.score == 0.0 and result.difficulty.prior is None
    assert result.difficulty.probe_score is None and "prior" not in result.plan


async def test_a_score_model_that_reads_confidence_asks_for_logprobs(tmp_path):
    policy = load_policy(PRIOR)
    assert policy.prior is not None
    score = LinearModel(
        inputs=["prior", "confidence"],
        mean=[0.0, 1.0],
        scale=[1.0, 1.0],
        coef=[1.0, 1.0],
        intercept=0.0,
    )
    prior = policy.prior.model_copy(update={"score": score})
    policy.model_copy(update={"prior": prior}).save(tmp_path / "p.json")
    # Every word's logprob -0.1 with one alternative at -2.3: token confidence 1.2.
    generator = FakeGenerator(["The answer is 2."], logprobs=[[-0.1, -2.3]])
    result = await asolve(
        "What is 1 + 1?",
        generator=generator,
        strategy="compute_optimal",
        n=8,
        policy=str(tmp_path / "p.json"),
    )
    assert result.plan["logprobs"]
    assert result.difficulty.confidence == pytest.approx(1.2)
    # logit(prior) = 2, (1.2 - 1) / 1 = 0.2
    assert result.difficulty.score == pytest.approx(1 - sigmoid(2.2))


async def test_the_summary_says_the_question_was_given_up():
    result = await asolve(
        "What is 1 + 1?",
        generator=FakeGenerator(["The answer is 2."]),
        strategy="compute_optimal",
        n=16,
        policy=str(GIVES_UP),
    )
    console = Console(record=True, width=200)
    print_summary(result, console)
    assert "difficulty bin 5/5 (given up, score 0.12, prior 0.88)" in console.export_text()


def test_calibrate_reads_the_probes_token_confidence_from_the_records():
    def with_confidence(record: BenchRecord, value: float) -> BenchRecord:
        confidence = {
            "tokens": 5,
            "mean": value,
            "lowest_group": value,
            "bottom_group": value,
            "tail": value,
            "window": 5,
            "top_k": 2,
        }
        candidates = [c.model_copy(update={"confidence": confidence}) for c in record.candidates]
        return record.model_copy(update={"candidates": candidates})

    # A solvable question's samples are more confident, with noise; the probe is the first
    # two samples of the n=16 run, as in a pool.
    rng = random.Random(5)
    records = []
    for r in synthetic_split("cal", 80, seed=5):
        agree = r.candidates[0].answer == r.candidates[1].answer
        records.append(with_confidence(r, (2.0 if agree else 1.0) + rng.random()))
    policy = fit_policy(records, probe_n=2, budgets=[2, 16], model="s", prior=True)
    assert policy.prior is not None
    assert "confidence" in policy.prior.score.inputs
    assert "token_probability" not in policy.prior.score.inputs  # no record has logprobs


async def test_bench_records_keep_each_candidates_confidence():
    config = ReasoningConfig(n=2, logprobs=True)
    result = await asolve(
        "What is 1 + 1?",
        generator=FakeGenerator(["The answer is 2."], logprobs=[[-0.1, -2.3]]),
        n=2,
        logprobs=True,
    )
    example = Example(id="e", question="What is 1 + 1?", gold="2")
    record = make_bench_record("toy", example, config, result, 0.0, correct=True)
    stored = BenchRecord.model_validate_json(record.model_dump_json())
    assert [c.confidence["mean"] for c in stored.candidates] == pytest.approx([1.2, 1.2])
