"""The strategy registry is the one place that knows the strategies.

Its rows give the names the config, the CLI and policies accept, what the graph needs, and
how each strategy plans, moves, stops and selects; no module tests a strategy's name but
its own family module and the registry.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import get_args

import pytest

import reasoning_graph
from reasoning_graph import ConfigurationError, ReasoningConfig
from reasoning_graph.config import STRATEGIES
from reasoning_graph.events import record
from reasoning_graph.nodes.spend import fit_to_budget
from reasoning_graph.policy import PlanChoice
from reasoning_graph.state import Candidate
from reasoning_graph.strategies import (
    POLICY_STRATEGIES,
    REGISTRY,
    describe_strategies,
    make_plan,
    next_action,
    round_bound,
    strategy_spec,
)

PACKAGE = Path(reasoning_graph.__file__).parent


def test_every_name_the_config_accepts_is_a_row() -> None:
    assert STRATEGIES == tuple(REGISTRY)
    assert get_args(reasoning_graph.Strategy) == STRATEGIES
    for name in STRATEGIES:
        assert ReasoningConfig(strategy=name).strategy == name


def test_every_row_says_what_it_does() -> None:
    lines = describe_strategies().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [f"- {name}" for name in STRATEGIES]
    assert all(len(spec.summary) > 20 for spec in REGISTRY.values())


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="unknown strategy 'nope'; choose one of: self_"):
        strategy_spec("nope")
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        ReasoningConfig(strategy="nope")


def test_policies_may_choose_only_the_rows_that_say_how() -> None:
    assert set(POLICY_STRATEGIES) == {
        name for name, spec in REGISTRY.items() if spec.policy_choice is not None
    }
    for name in POLICY_STRATEGIES:
        shape = {"beams": 2, "max_steps": 3} if REGISTRY[name].step_search else {}
        assert PlanChoice(strategy=name, n=2, **shape).strategy == name
    assert {"beam_search", "lookahead", "dvts", "particle_filtering"} <= set(POLICY_STRATEGIES)
    with pytest.raises(ValueError, match="a policy cannot choose strategy 'revision'"):
        PlanChoice(strategy="revision", n=2)


@pytest.mark.parametrize("name", STRATEGIES)
def test_each_row_plans_its_own_strategy(name: str) -> None:
    config = ReasoningConfig(strategy=name, n=6, max_steps=3)
    spec = REGISTRY[name]
    plan = make_plan(config, verifier_reserve=2, has_verifier=True)
    assert plan["strategy"] == name
    assert plan["selection"] == spec.selection_for(True)
    assert ("search" in plan) is spec.step_search
    assert round_bound(config) == spec.rounds(config) >= config.n
    if spec.step_search:
        assert round_bound(config) == config.n + config.max_steps


def test_the_selection_without_a_verifier_comes_from_the_row() -> None:
    for name, spec in REGISTRY.items():
        plan = make_plan(ReasoningConfig(strategy=name), verifier_reserve=0, has_verifier=False)
        assert plan["selection"] == spec.selection_for(False)
    assert REGISTRY["revision"].selection_for(False) == "last"


def cand(number: int, answer: str) -> Candidate:
    return {
        "id": f"c{number}",
        "parent_id": None,
        "chain": None,
        "round": 0,
        "node": "think",
        "text": f"The answer is {answer}.",
        "answer": answer,
        "score": None,
        "finish_reason": "stop",
        "completion_tokens": 5,
        "seed": number,
        "mean_logprob": None,
    }


def test_actions_carry_why_sampling_stops() -> None:
    config = ReasoningConfig(n=4, early_stop="settled", wave_size=2)
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    agreeing = {"c0": cand(0, "4"), "c1": cand(1, "4"), "c2": cand(2, "4")}
    settled = next_action("q", plan, agreeing, 3, 0)
    assert (settled["kind"], settled["stop"]) == ("select", "settled")
    done = next_action("q", plan, agreeing | {"c3": cand(3, "5")}, 4, 0)
    assert (done["kind"], done["stop"]) == ("select", "complete")
    confident = make_plan(
        config.model_copy(update={"early_stop": "confidence"}),
        verifier_reserve=0,
        has_verifier=False,
    )
    assert next_action("q", confident, agreeing, 3, 0)["stop"] == "confidence"
    wanted = next_action("q", {**plan, "budget_tokens": 10}, {}, 0, 0)
    assert "stop" not in wanted
    assert fit_to_budget(wanted, {**plan, "budget_tokens": 10}, 10)["stop"] == "budget"


def test_record_streams_the_event_and_returns_its_trace_entry(monkeypatch) -> None:
    streamed = []
    monkeypatch.setattr("reasoning_graph.events.get_stream_writer", lambda: streamed.append)
    entry = record(
        "select",
        {"type": "selected", "answer": "4", "candidate_id": "c0", "selection": "majority"},
        tally={"4": 2.0},
    )
    assert streamed == [
        {"type": "selected", "answer": "4", "candidate_id": "c0", "selection": "majority"}
    ]
    assert entry == {
        "node": "select",
        "kind": "selected",
        "data": {"answer": "4", "candidate_id": "c0", "selection": "majority", "tally": {"4": 2.0}},
    }


def owners(name: str) -> set[Path]:
    """The modules allowed to spell `name`: the registry and its row's planner and mover."""
    spec = REGISTRY[name]
    modules = (spec.plan.__module__, spec.next_action.__module__, "reasoning_graph.strategies")
    return {Path(str(importlib.import_module(module).__file__)) for module in modules}


def test_no_module_tests_a_strategy_name_but_its_own_and_the_registry() -> None:
    """The acceptance check of issue 10 (`grep '"beam_search"'` finds only the step-search
    module and the registry), for every name, over string literals (docstring examples, which
    are not literals of their own, are fine)."""
    # `lookahead` is also a config field, spelled by whoever sets the field.
    names = [name for name in STRATEGIES if name not in ReasoningConfig.model_fields]
    found: dict[str, set[Path]] = {name: set() for name in names}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in found:
                found[node.value].add(path)
    for name, paths in found.items():
        assert paths <= owners(name), (
            f"{name!r} spelled in {sorted(map(str, paths - owners(name)))}"
        )


def test_online_stop_is_taken_by_the_rows_that_sample_after_a_warmup() -> None:
    for name, spec in REGISTRY.items():
        if spec.online_stop:
            config = ReasoningConfig(strategy=name, online_stop=0.9)
            assert config.wants_logprobs
            plan = make_plan(config, verifier_reserve=0, has_verifier=True)
            assert plan["online_stop"]["keep"] == 0.9
        else:
            with pytest.raises(ValueError, match="online_stop cuts fresh samples"):
                ReasoningConfig(strategy=name, online_stop=0.9)
    assert "online_stop" not in make_plan(ReasoningConfig(), verifier_reserve=0, has_verifier=False)
