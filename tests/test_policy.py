"""Policies: the file format, and `compute_optimal` running the plan a policy picks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoning_graph import ConfigurationError, asolve
from reasoning_graph.policy import PlanChoice, Policy, load_policy
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

FIXTURE = Path(__file__).parent / "fixtures" / "policy_all_plans.json"


def test_policy_round_trips(tmp_path):
    policy = load_policy(FIXTURE)
    policy.save(tmp_path / "p.json")
    assert load_policy(tmp_path / "p.json") == policy


def test_unknown_version_fails_clearly(tmp_path):
    data = json.loads(FIXTURE.read_text())
    data["version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="policy version 99 is not supported.*calibrate"):
        load_policy(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not JSON"), ('{"version": 1}', "is not a valid policy: model")],
)
def test_malformed_policy_fails_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_policy(path)


def test_missing_policy_file_names_it(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read policy file .*nope.json"):
        load_policy(tmp_path / "nope.json")


def test_bins_and_budgets():
    policy = load_policy(FIXTURE)  # edges 0.1, 0.3, 0.5, 0.7; budgets 2, 4, 8
    assert [policy.bin_of(s) for s in (0.0, 0.1, 0.2, 0.5, 0.9)] == [1, 2, 2, 4, 5]
    assert policy.bin_of(None) == 3
    assert policy.plan_for(4, 16) == PlanChoice(strategy="self_consistency", n=8)
    assert policy.plan_for(4, 5).n == 4  # largest fitted budget not above 5 is 4
    assert policy.plan_for(4, 1).n == 1  # below every budget: the smallest, capped


def test_the_packaged_default_policy_loads():
    policy = load_policy()
    assert isinstance(policy, Policy)
    assert sorted(policy.plans) == ["1", "2", "3", "4", "5"]


async def run_co(answers, *, n=8, verifier=None):
    generator = FakeGenerator(answers)
    result = await asolve(
        "q?",
        generator=generator,
        verifier=verifier,
        strategy="compute_optimal",
        n=n,
        policy=str(FIXTURE),
    )
    return result, generator


async def test_easy_question_stops_after_the_probe():
    # The probe's two samples agree: difficulty 0 -> bin 1 -> self_consistency n=2.
    result, generator = await run_co(["The answer is 3."])
    assert generator.completions_made == 2
    assert result.answer == "3"
    assert result.difficulty.bin == 1
    assert result.plan["base"] == "self_consistency" and result.plan["phase"] == "chosen"


async def test_hard_question_gets_the_policy_plan_for_its_bin():
    # The probe disagrees (agreement 0.5 -> score 0.5 -> bin 4): self_consistency n=8,
    # sampled in waves of 2 with the confidence stopping rule.
    result, generator = await run_co(["The answer is 3.", "The answer is 4."] + ["It is 3."] * 8)
    assert result.difficulty.bin == 4
    assert result.plan["base"] == "self_consistency" and result.plan["n"] == 8
    assert result.answer == "3"
    assert 2 < generator.completions_made <= 8


async def test_revision_plan_chains_start_from_the_probe():
    # Bin 3 (score 0.3..0.5) -> parallel_revision n=8 with the probe's 2 samples as chain starts.
    verifier = FakeVerifier({"3": 0.6, "4": 0.6})  # mean score 0.6, agreement 0.5 -> 0.45
    result, generator = await run_co(["The answer is 3.", "The answer is 4."], verifier=verifier)
    assert result.difficulty.bin == 3
    assert result.plan["base"] == "parallel_revision" and result.plan["chains"] == 2
    assert len(result.candidates) == 8
    assert {c.chain for c in result.candidates} == {0, 1}
    assert sum(c.node == "revise" for c in result.candidates) == 6


async def test_verifier_plans_fall_back_without_a_verifier(tmp_path):
    # Bin 2 wants weighted_vote; with no verifier the controller runs self_consistency.
    policy = json.loads(FIXTURE.read_text())
    policy["bin_edges"] = [0.0, 0.9, 0.95, 0.99]  # a fully agreeing probe (score 0) is bin 2
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    generator = FakeGenerator(["The answer is 3."])
    result = await asolve(
        "q?", generator=generator, strategy="compute_optimal", n=8, policy=str(path)
    )
    assert result.difficulty.bin == 2
    assert result.plan["base"] == "self_consistency" and not result.plan["verify"]
    assert "verify" not in result.usage.by_node
