"""`particle_filtering`: particles grown a step at a time and resampled by their step rewards.

The scripted generator and step verifier of test_search label every step by its place in
the tree, so each test knows which particles exist and what they score.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from test_search import ScriptedGenerator, ScriptedStepVerifier, run_graph, stub_reply

from reasoning_graph import ReasoningConfig, asolve, create_reasoning_graph
from reasoning_graph.cli import main
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.state import Candidate, Plan
from reasoning_graph.strategies import make_plan, next_action
from reasoning_graph.strategies.particle_filtering import particle_weights, population, resample
from reasoning_graph.testing import OpenAIStubServer

STRONG, WEAK = 0.999, 0.001


def particle(number: int, score: float | None, *, round_: int = 0, complete: bool = False):
    candidate: Candidate = {
        "id": f"c{number}",
        "parent_id": None,
        "chain": None,
        "round": round_,
        "node": "think",
        "text": f"Step of particle c{number}.",
        "answer": None,
        "score": score,
        "finish_reason": "stop",
        "completion_tokens": 4,
        "seed": number,
        "mean_logprob": None,
        "complete": complete,
    }
    return candidate


def pf_plan(**options: Any) -> Plan:
    config = ReasoningConfig(strategy="particle_filtering", **options)
    return make_plan(config, verifier_reserve=0, has_verifier=True, step_verify=True)


def test_the_plan_is_a_step_search_growing_one_step_per_draw() -> None:
    plan = pf_plan(n=6, max_steps=5, beam_width=3)
    assert plan["selection"] == "search" and plan["verify"]
    assert plan["search"]["beam_width"] == 1 and plan["search"]["max_steps"] == 5
    assert plan["search"]["lookahead"] == 0 and plan["chains"] == 0


def test_weights_are_the_softmax_of_the_score_logits() -> None:
    weights = particle_weights([particle(0, 0.9), particle(1, 0.1), particle(2, 0.5)])
    assert sum(weights) == pytest.approx(1.0)
    # logit(s) = log(s / (1 - s)): the weights go as the odds 9 : 1/9 : 1
    assert weights[0] / weights[1] == pytest.approx(81.0)
    assert weights[0] / weights[2] == pytest.approx(9.0)
    unscored = particle_weights([particle(0, 0.5), particle(1, None)])
    assert unscored[1] < 1e-6  # an unscored particle counts as score 0
    assert particle_weights([particle(0, 1.0), particle(1, 1.0)]) == [0.5, 0.5]


def test_resampling_is_proportional_and_seeded() -> None:
    plan = pf_plan(n=1000, seed=3)
    particles = [particle(0, 0.9), particle(1, 0.5)]
    drawn = [p["id"] for p in resample(plan, particles, 0)]
    assert drawn == [p["id"] for p in resample(plan, particles, 0)]
    assert Counter(drawn)["c0"] / 1000 == pytest.approx(0.9, abs=0.04)  # odds 9 : 1
    assert drawn != [p["id"] for p in resample(plan, particles, 1)]  # a new draw each step
    other_seed = pf_plan(n=1000, seed=4)
    assert drawn != [p["id"] for p in resample(other_seed, particles, 0)]


def test_the_population_keeps_each_draw_of_a_complete_particle() -> None:
    plan = pf_plan(n=4, seed=1)
    first = [particle(0, 0.6, complete=True), particle(1, 0.5)]
    grown = particle(2, 0.7, round_=1)
    drawn = resample(plan, first, 0)
    kept = [p["id"] for p in drawn if p["id"] == "c0"]
    candidates = {c["id"]: c for c in [*first, grown]}
    assert [p["id"] for p in population(plan, candidates, 1)] == [*kept, "c2"]
    assert [p["id"] for p in population(plan, candidates, 0)] == ["c0", "c1"]


def test_next_action_grows_one_step_per_draw_of_a_growing_particle() -> None:
    plan = pf_plan(n=4, seed=0, max_steps=4)
    candidates = {"c0": particle(0, STRONG), "c1": particle(1, WEAK), "c2": particle(2, WEAK)}
    action = next_action("q", plan, candidates, 3, 0)
    assert action["kind"] == "think" and action["kept"] == ["c0"]
    assert action["pruned"] == ["c1", "c2"]
    (task,) = action["think"]
    assert task["ids"] == ["c3", "c4", "c5", "c6"] and task["parent_id"] == "c0"
    assert task["round"] == 1 and task["partial"] == "Step of particle c0."
    done = next_action("q", plan, {"c0": particle(0, STRONG, complete=True)}, 4, 0)
    assert (done["kind"], done["stop"]) == ("select", "complete")
    last = next_action(
        "q", {**plan, "search": {**plan["search"], "max_steps": 1}}, candidates, 3, 0
    )
    assert last["kind"] == "select" and last["reason"] == "max_steps=1 reached"


def test_the_draws_follow_the_step_rewards_through_the_graph() -> None:
    # b0 is the one good first step; its child b01 answers and is the one good second step.
    generator = ScriptedGenerator({"b01": "7"})
    verifier = ScriptedStepVerifier(
        {"b0": STRONG, "b1": WEAK, "b2": WEAK, "b3": WEAK, "b01": STRONG}, default=WEAK
    )
    state, events, _ = run_graph(generator, verifier, strategy="particle_filtering", n=4)
    steps = [c for c in generator.calls if not c["judge"]]
    assert [c["n"] for c in steps] == [4, 4]  # every draw of step 1 went to b0
    assert all(c["parent_id"] == "c0" for c in state["candidates"].values() if c["round"] == 1)
    pruned = [e for e in events if e["type"] == "pruned"]
    assert pruned == [{"type": "pruned", "round": 0, "pruned": ["c1", "c2", "c3"], "kept": ["c0"]}]
    # Every draw after step 2 is the complete b01: the run ends there.
    decisions = [e["data"] for e in state["events"] if e["kind"] == "decision"]
    assert decisions[-1]["reason"] == "every particle drawn is complete"
    assert state["answer"] == "7"
    assert state["candidates"][state["selected_id"]]["text"].endswith("The answer is 7.")


def test_a_particle_run_resumes_from_its_checkpoint_with_the_same_draws() -> None:
    """Stopped before every think wave and resumed, the draws (replayed from the candidates)
    are those of an uninterrupted run."""
    scores = {"b0": 0.6, "b1": 0.5, "b2": 0.4, "b3": 0.3}
    answers = {label: "5" if label.endswith("1") else "6" for label in ("b000", "b001", "b010")}
    config = {"strategy": "particle_filtering", "n": 4, "max_steps": 3, "seed": 5}
    expected, _, _ = run_graph(ScriptedGenerator(answers), ScriptedStepVerifier(scores), **config)
    graph = create_reasoning_graph(
        ScriptedGenerator(answers),
        verifier=ScriptedStepVerifier(scores),
        config=ReasoningConfig(**config),
    ).compile(checkpointer=InMemorySaver(), interrupt_before=["think"])
    thread = {"configurable": {"thread_id": "r"}, "recursion_limit": 200}

    async def go() -> dict[str, Any]:
        await graph.ainvoke({"question": "What is 3 + 4?"}, thread)
        while (await graph.aget_state(thread)).next:
            snapshot = (await graph.aget_state(thread)).values
            assert json.loads(json.dumps(snapshot)) == snapshot
            await graph.ainvoke(None, thread)
        return dict((await graph.aget_state(thread)).values)

    resumed = asyncio.run(go())
    assert resumed["candidates"] == expected["candidates"]
    assert resumed["answer"] == expected["answer"]
    assert max(c["round"] for c in resumed["candidates"].values()) == 2


def test_it_runs_from_solve_with_the_default_judge_and_holds_the_budget() -> None:
    generator = ScriptedGenerator({"b00": "7", "b10": "7", "b01": "7"})
    result = asyncio.run(
        asolve(
            "What is 3 + 4?",
            generator=generator,
            strategy="particle_filtering",
            n=4,
            max_steps=3,
            max_tokens=8,
            budget_tokens=150,
        )
    )
    assert result.strategy == "particle_filtering"
    assert result.answer is not None
    assert result.usage.completion_tokens <= 150
    assert any(c["judge"] for c in generator.calls)  # no verifier given: the LLM judge


def test_the_cli_runs_it_against_a_stub_server(capsys: pytest.CaptureFixture[str]) -> None:
    with OpenAIStubServer(stub_reply) as server:
        argv = ["solve", "What is 17 + 25?", "--provider", "openai", "--model", "m"]
        argv += ["--base-url", server.base_url, "--strategy", "particle_filtering", "--n", "4"]
        argv += ["--max-steps", "3", "--json"]
        code = main(argv)
        requests = server.requests
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["strategy"] == "particle_filtering"
    assert result["answer"] == "42"
    steps = [r for r in requests if r["messages"][0]["content"] == SOLVE_SYSTEM_PROMPT]
    assert steps and all(r["stop"] == ["\n\n"] for r in steps)


def test_bench_runs_it_with_the_oracle(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "toy.jsonl"
    data.write_text('{"question": "What is 17 + 25?", "answer": "42"}\n')
    with OpenAIStubServer(stub_reply) as server:
        argv = ["bench", "--data", f"jsonl:{data}?question=question&answer=answer"]
        argv += ["--strategies", "particle_filtering", "--n", "2", "--max-steps", "2"]
        argv += ["--out", str(tmp_path / "out"), "--provider", "openai", "--model", "m"]
        argv += ["--base-url", server.base_url, "--verifier", "oracle", "--quiet"]
        code = main(argv)
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[0])
    assert record["strategy"] == "particle_filtering" and record["correct"] is True
