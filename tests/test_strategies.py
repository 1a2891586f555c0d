"""Tests of the strategies as plans (`make_plan`, `next_action`) and of `fit_to_budget`."""

from __future__ import annotations

import math

import pytest

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.nodes.spend import fit_to_budget
from reasoning_graph.state import Action, Candidate, Plan
from reasoning_graph.strategies import chain_depth, make_plan, next_action

Q = "What is 2 + 2?"


def plan_for(
    strategy: str = "self_consistency",
    *,
    verifier_reserve: int = 0,
    has_verifier: bool = False,
    **options: object,
) -> Plan:
    config = ReasoningConfig(strategy=strategy, **options)  # type: ignore[arg-type]
    return make_plan(config, verifier_reserve=verifier_reserve, has_verifier=has_verifier)


def cand(
    number: int, *, chain: int | None = None, round_: int = 0, parent: str | None = None
) -> Candidate:
    return {
        "id": f"c{number}",
        "parent_id": parent,
        "chain": chain,
        "round": round_,
        "node": "think" if round_ == 0 else "revise",
        "text": f"attempt c{number}",
        "answer": str(number),
        "score": None,
        "finish_reason": "stop",
        "completion_tokens": 2,
        "seed": number,
    }


# --- make_plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "has_verifier", "selection", "verify", "chains"),
    [
        ("self_consistency", False, "majority", False, 0),
        ("self_consistency", True, "majority", False, 0),
        ("best_of_n", True, "best_score", True, 0),
        ("weighted_vote", True, "weighted", True, 0),
        ("revision", False, "last", False, 1),
        ("revision", True, "weighted", True, 1),
        ("parallel_revision", False, "last", False, 3),
        ("parallel_revision", True, "weighted", True, 3),
    ],
)
def test_make_plan_per_strategy(
    strategy: str, has_verifier: bool, selection: str, verify: bool, chains: int
) -> None:
    plan = plan_for(strategy, has_verifier=has_verifier, verifier_reserve=3, n=9, max_tokens=50)
    assert plan["strategy"] == strategy
    assert plan["selection"] == selection
    assert plan["verify"] is verify
    assert plan["chains"] == chains
    assert plan["n"] == 9
    assert plan["max_tokens"] == 50
    assert plan["reserve_per_generation"] == 50 + (3 if verify else 0)


def test_make_plan_copies_the_config() -> None:
    plan = plan_for(
        n=5,
        budget_tokens=900,
        temperature=0.3,
        seed=11,
        share_prompt=False,
        revision_context=2,
    )
    assert plan["budget_tokens"] == 900
    assert plan["temperature"] == 0.3
    assert plan["seed"] == 11
    assert plan["share_prompt"] is False
    assert plan["revision_context"] == 2


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 10, 16, 17, 30, 100])
def test_parallel_revision_defaults_to_round_sqrt_n_chains(n: int) -> None:
    plan = plan_for("parallel_revision", n=n)
    assert plan["chains"] == max(1, round(math.sqrt(n)))
    assert sum(chain_depth(plan, c) for c in range(plan["chains"])) == n


@pytest.mark.parametrize(("n", "chains", "expected"), [(8, 2, 2), (8, 8, 8), (3, 5, 3)])
def test_parallel_revision_explicit_chains_capped_by_n(n: int, chains: int, expected: int) -> None:
    assert plan_for("parallel_revision", n=n, chains=chains)["chains"] == expected


def test_revision_is_always_one_chain() -> None:
    assert plan_for("revision", n=9, chains=3)["chains"] == 1


def test_chain_depths_share_n_evenly() -> None:
    plan = plan_for("parallel_revision", n=11, chains=3)
    assert [chain_depth(plan, c) for c in range(3)] == [4, 4, 3]


# --- next_action: sampling ------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["self_consistency", "best_of_n", "weighted_vote"])
def test_sampling_first_wave_shared_is_one_task(strategy: str) -> None:
    plan = plan_for(strategy, has_verifier=True, n=4, seed=100, max_tokens=7, temperature=0.9)
    action = next_action(Q, plan, {}, 0, 0)
    assert action["kind"] == "think"
    assert action["revise"] == []
    assert len(action["think"]) == 1
    task = action["think"][0]
    assert task["ids"] == ["c0", "c1", "c2", "c3"]
    assert task["seeds"] == [100, 101, 102, 103]
    assert task["chains"] == [None] * 4
    assert (task["question"], task["max_tokens"], task["temperature"]) == (Q, 7, 0.9)


def test_sampling_unshared_is_one_task_per_sample() -> None:
    plan = plan_for(n=3, seed=5, share_prompt=False)
    action = next_action(Q, plan, {}, 0, 0)
    assert [t["ids"] for t in action["think"]] == [["c0"], ["c1"], ["c2"]]
    assert [t["seeds"] for t in action["think"]] == [[5], [6], [7]]


@pytest.mark.parametrize("share", [True, False])
def test_sampling_continues_ids_and_seeds_from_launched(share: bool) -> None:
    plan = plan_for(n=5, seed=10, share_prompt=share)
    done = {f"c{i}": cand(i) for i in range(2)}
    action = next_action(Q, plan, done, 2, 0)
    ids = [i for t in action["think"] for i in t["ids"]]
    seeds = [s for t in action["think"] for s in t["seeds"]]
    assert ids == ["c2", "c3", "c4"]
    assert seeds == [12, 13, 14]
    assert len(action["think"]) == (1 if share else 3)


def test_sampling_failed_samples_are_not_rerun() -> None:
    # Three were launched, one failed (c1 is missing): launched, not the candidates, counts.
    plan = plan_for(n=3)
    action = next_action(Q, plan, {"c0": cand(0), "c2": cand(2)}, 3, 0)
    assert action["kind"] == "select"
    assert action["think"] == [] and action["revise"] == []


def test_sampling_selects_once_n_are_launched() -> None:
    plan = plan_for(n=2)
    assert next_action(Q, plan, {"c0": cand(0), "c1": cand(1)}, 2, 0)["kind"] == "select"


# --- next_action: revision ------------------------------------------------------------------


def test_revision_first_round_is_one_think_per_chain() -> None:
    plan = plan_for("parallel_revision", n=9, seed=3)
    action = next_action(Q, plan, {}, 0, 0)
    assert action["kind"] == "think"
    ids = [i for t in action["think"] for i in t["ids"]]
    chains = [c for t in action["think"] for c in t["chains"]]
    assert ids == ["c0", "c1", "c2"]
    assert chains == [0, 1, 2]
    assert len(action["think"]) == 1  # shared prompt: one request


def test_revision_first_round_unshared() -> None:
    plan = plan_for("parallel_revision", n=4, share_prompt=False)
    action = next_action(Q, plan, {}, 0, 0)
    assert [(t["ids"], t["chains"]) for t in action["think"]] == [(["c0"], [0]), (["c1"], [1])]


def test_revision_round_revises_each_live_chain_from_its_last_attempt() -> None:
    plan = plan_for("parallel_revision", n=6, chains=2, seed=50, max_tokens=9)
    candidates = {
        "c0": cand(0, chain=0),
        "c1": cand(1, chain=1),
        "c2": cand(2, chain=0, round_=1, parent="c0"),
        "c3": cand(3, chain=1, round_=1, parent="c1"),
    }
    action = next_action(Q, plan, candidates, 4, 1)
    assert action["kind"] == "revise"
    assert action["think"] == []
    tasks = action["revise"]
    assert [t["id"] for t in tasks] == ["c4", "c5"]
    assert [t["seed"] for t in tasks] == [54, 55]
    assert [t["chain"] for t in tasks] == [0, 1]
    assert [t["round"] for t in tasks] == [2, 2]
    assert [t["parent_id"] for t in tasks] == ["c2", "c3"]
    assert [t["attempts"] for t in tasks] == [
        ["attempt c0", "attempt c2"],
        ["attempt c1", "attempt c3"],
    ]
    assert all(t["question"] == Q and t["max_tokens"] == 9 for t in tasks)


def test_revision_attempts_are_limited_to_revision_context() -> None:
    plan = plan_for("revision", n=10, revision_context=2)
    candidates = {f"c{i}": cand(i, chain=0, round_=i) for i in range(5)}
    (task,) = next_action(Q, plan, candidates, 5, 4)["revise"]
    assert task["attempts"] == ["attempt c3", "attempt c4"]
    assert task["parent_id"] == "c4"
    assert task["round"] == 5


def simulate_revision(plan: Plan) -> dict[str, Candidate]:
    """Run `next_action` to completion with every generation succeeding."""
    candidates: dict[str, Candidate] = {}
    launched = last_round = 0
    for _ in range(10 * plan["n"] + 10):
        action = next_action(Q, plan, candidates, launched, last_round)
        if action["kind"] == "select":
            return candidates
        for task in action["think"]:
            for i, c in zip(task["ids"], task["chains"], strict=True):
                candidates[i] = cand(int(i[1:]), chain=c)
                launched += 1
        for rt in action["revise"]:
            last_round = rt["round"]
            candidates[rt["id"]] = cand(
                int(rt["id"][1:]), chain=rt["chain"], round_=rt["round"], parent=rt["parent_id"]
            )
            launched += 1
    raise AssertionError("next_action never selected")


@pytest.mark.parametrize(
    ("strategy", "n", "chains"),
    [
        ("revision", 1, None),
        ("revision", 4, None),
        ("parallel_revision", 4, None),
        ("parallel_revision", 5, 2),
        ("parallel_revision", 7, 3),
        ("parallel_revision", 12, None),
        ("parallel_revision", 3, 3),
    ],
)
def test_revision_chain_depths_sum_to_n(strategy: str, n: int, chains: int | None) -> None:
    plan = plan_for(strategy, n=n, chains=chains)
    candidates = simulate_revision(plan)
    assert len(candidates) == n
    assert [c["id"] for c in candidates.values()] == [f"c{i}" for i in range(n)]
    per_chain: dict[int, list[Candidate]] = {}
    for c in candidates.values():
        assert c["chain"] is not None
        per_chain.setdefault(c["chain"], []).append(c)
    assert sorted(per_chain) == list(range(plan["chains"]))
    for number, attempts in per_chain.items():
        assert len(attempts) == chain_depth(plan, number)
        assert [a["round"] for a in attempts] == list(range(len(attempts)))
        for earlier, later in zip(attempts, attempts[1:], strict=False):
            assert later["parent_id"] == earlier["id"]


def test_revision_chain_whose_last_attempt_failed_stops() -> None:
    plan = plan_for("parallel_revision", n=9, chains=3)
    # Round 1: chain 1's revision (c4) failed; chains 0 and 2 go on.
    candidates = {
        "c0": cand(0, chain=0),
        "c1": cand(1, chain=1),
        "c2": cand(2, chain=2),
        "c3": cand(3, chain=0, round_=1, parent="c0"),
        "c5": cand(5, chain=2, round_=1, parent="c2"),
    }
    action = next_action(Q, plan, candidates, 6, 1)
    assert [t["chain"] for t in action["revise"]] == [0, 2]
    assert [t["id"] for t in action["revise"]] == ["c6", "c7"]


def test_revision_chain_whose_first_attempt_failed_never_starts() -> None:
    plan = plan_for("parallel_revision", n=4, chains=2)
    action = next_action(Q, plan, {"c0": cand(0, chain=0)}, 2, 0)
    assert [t["chain"] for t in action["revise"]] == [0]


def test_revision_only_chain_whose_revision_failed_stops() -> None:
    plan = plan_for("revision", n=3)
    # c0 was written; its revision c1 was launched in round 1 and failed.
    action = next_action(Q, plan, {"c0": cand(0, chain=0)}, 2, last_round=1)
    assert action["kind"] == "select"


def test_revision_selects_when_every_chain_is_complete() -> None:
    plan = plan_for("revision", n=2)
    candidates = {"c0": cand(0, chain=0), "c1": cand(1, chain=0, round_=1, parent="c0")}
    assert next_action(Q, plan, candidates, 2, 1)["kind"] == "select"


def test_revision_n1_is_a_single_think() -> None:
    plan = plan_for("revision", n=1)
    assert next_action(Q, plan, {}, 0, 0)["kind"] == "think"
    assert next_action(Q, plan, {"c0": cand(0, chain=0)}, 1, 0)["kind"] == "select"


# --- fit_to_budget ----------------------------------------------------------------------------


def ids_of(action: Action) -> list[str]:
    return [i for t in action["think"] for i in t["ids"]] + [t["id"] for t in action["revise"]]


def test_fit_without_budget_is_identity() -> None:
    plan = plan_for(n=5, max_tokens=100)
    action = next_action(Q, plan, {}, 0, 0)
    assert fit_to_budget(action, plan, 10**9) == action


def test_fit_keeps_everything_that_fits() -> None:
    plan = plan_for(n=3, max_tokens=10, budget_tokens=30)
    action = next_action(Q, plan, {}, 0, 0)
    assert fit_to_budget(action, plan, 0) == action


@pytest.mark.parametrize("share", [True, False])
def test_fit_trims_later_samples_first(share: bool) -> None:
    plan = plan_for(n=5, max_tokens=10, budget_tokens=100, share_prompt=share, seed=1)
    action = next_action(Q, plan, {}, 0, 0)
    fitted = fit_to_budget(action, plan, 72)  # 28 left: two generations of 10
    assert fitted["kind"] == "think"
    assert ids_of(fitted) == ["c0", "c1"]
    assert [s for t in fitted["think"] for s in t["seeds"]] == [1, 2]
    assert [c for t in fitted["think"] for c in t["chains"]] == [None, None]
    assert "trimmed from 5 to 2" in fitted["reason"]


def test_fit_reserves_the_verifier_share() -> None:
    plan = plan_for(
        "best_of_n", has_verifier=True, verifier_reserve=4, n=4, max_tokens=10, budget_tokens=30
    )
    fitted = fit_to_budget(next_action(Q, plan, {}, 0, 0), plan, 0)
    assert ids_of(fitted) == ["c0", "c1"]  # 14 per generation


def test_fit_trims_later_revisions_first() -> None:
    plan = plan_for("parallel_revision", n=9, chains=3, max_tokens=10, budget_tokens=100)
    candidates = {f"c{i}": cand(i, chain=i) for i in range(3)}
    action = next_action(Q, plan, candidates, 3, 0)
    fitted = fit_to_budget(action, plan, 75)
    assert fitted["kind"] == "revise"
    assert ids_of(fitted) == ["c3", "c4"]


@pytest.mark.parametrize("spent", [91, 100, 250])
def test_fit_selects_when_nothing_fits(spent: int) -> None:
    plan = plan_for(n=5, max_tokens=10, budget_tokens=100)
    fitted = fit_to_budget(next_action(Q, plan, {}, 0, 0), plan, spent)
    assert fitted["kind"] == "select"
    assert fitted["think"] == [] and fitted["revise"] == []
    assert "budget" in fitted["reason"]


def test_fit_select_stays_select() -> None:
    plan = plan_for(n=1, max_tokens=10, budget_tokens=10)
    action = next_action(Q, plan, {"c0": cand(0)}, 1, 0)
    assert fit_to_budget(action, plan, 0) == action
