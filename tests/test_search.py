"""Step-level search inside the graph: `beam_search`, `lookahead` and `dvts`.

A scripted generator writes one step per completion, labelled by its place in the tree
("Step 2 of beam b10" is the first child of the second child of the root), and a scripted
step verifier scores every step by its label, so each test knows exactly which beams are
kept, which are pruned and which answer wins.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from reasoning_graph import ReasoningConfig, asolve, create_reasoning_graph
from reasoning_graph.events import ReasoningEvent, describe_event
from reasoning_graph.nodes.spend import fit_to_budget
from reasoning_graph.prompts import (
    CONTINUE_INSTRUCTION,
    SOLVE_SYSTEM_PROMPT,
    continue_messages,
)
from reasoning_graph.providers.base import ChatMessage, Completion, Generation
from reasoning_graph.providers.fake import FakeVerifier
from reasoning_graph.steps import split_steps
from reasoning_graph.strategies import beam_width, make_plan, next_action
from reasoning_graph.usage import zero_usage
from reasoning_graph.verifiers.base import StepVerdict, StepVerifier, Verdict

LABEL = re.compile(r"beam (\w+)")


class ScriptedGenerator:
    """One step per completion, labelled by the tree path: the parent's label plus the
    child's index among the samples of that prompt; greedy rollout steps add "g".

    `answers` maps a label to the final answer its step states. Judge prompts (any other
    system prompt) get "Yes".
    """

    def __init__(self, answers: Mapping[str, str] | None = None, *, empty: Sequence[str] = ()):
        self.answers = dict(answers or {})
        self.empty = set(empty)
        self.calls: list[dict[str, Any]] = []
        self._children: dict[str, int] = {}

    @property
    def model_name(self) -> str:
        return "scripted"

    def _step(self, messages: Sequence[ChatMessage], temperature: float) -> str:
        partial = messages[2]["content"] if len(messages) == 4 else ""
        steps = split_steps(partial)
        parent = LABEL.findall(steps[-1])[0] if steps else "b"
        if temperature == 0.0:
            label = f"{parent}g"
        else:
            index = self._children.get(partial, 0)
            self._children[partial] = index + 1
            label = f"{parent}{index}"
        if label in self.empty:
            return ""
        text = f"Step {len(steps) + 1} of beam {label}."
        if label in self.answers:
            text += f" The answer is {self.answers[label]}."
        # The scripted model writes past the separator: the think node must cut there.
        return text + "\n\nStep that the server would have stopped before."

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> Generation:
        judge = messages[0]["content"] != SOLVE_SYSTEM_PROMPT
        self.calls.append(
            {
                "messages": list(messages),
                "n": n,
                "temperature": temperature,
                "stop": list(stop or []),
                "max_tokens": max_tokens,
                "judge": judge,
            }
        )
        completions = []
        for _ in range(n):
            text = "Yes" if judge else self._step(messages, temperature)
            words = text.split(" ")[:max_tokens]
            completions.append(
                Completion(text=" ".join(words), finish_reason="stop", completion_tokens=len(words))
            )
        return Generation(
            completions=completions,
            usage={
                "prompt_tokens": 1,
                "completion_tokens": sum(c.completion_tokens or 0 for c in completions),
                "llm_calls": n,
                "requests": 1,
            },
        )


class ScriptedStepVerifier:
    """Scores each step by its beam label (`scores`), `default` otherwise."""

    def __init__(self, scores: Mapping[str, float], *, default: float = 0.5) -> None:
        self.scores = dict(scores)
        self.default = default
        self.graded: list[list[str]] = []

    @property
    def reserve_tokens(self) -> int:
        return 0

    def _one(self, step: str) -> float:
        labels = LABEL.findall(step)
        return self.scores.get(labels[0], self.default) if labels else self.default

    async def score(self, question: str, solution: str) -> Verdict:
        steps = split_steps(solution)
        return Verdict(score=self._one(steps[-1]) if steps else 0.0, usage=zero_usage())

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        self.graded.append(list(steps))
        return StepVerdict(step_scores=[self._one(s) for s in steps], usage=zero_usage())


def run_graph(
    generator: ScriptedGenerator, verifier: Any, **config: Any
) -> tuple[dict[str, Any], list[ReasoningEvent], dict[str, Any]]:
    """Run the compiled graph with a checkpointer; return the final state, the live
    events and the checkpointed state values."""
    graph = create_reasoning_graph(
        generator, verifier=verifier, config=ReasoningConfig(**config)
    ).compile(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    events: list[ReasoningEvent] = []

    async def go() -> dict[str, Any]:
        async for mode, chunk in graph.astream(
            {"question": "What is 3 + 4?"}, thread, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                events.append(chunk)
        return dict((await graph.aget_state(thread)).values)

    state = asyncio.run(go())
    return state, events, state


def by_label(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Candidates by the label of their last step."""
    out = {}
    for c in state["candidates"].values():
        steps = split_steps(c["text"])
        out[LABEL.findall(steps[-1])[0]] = c
    return out


def test_beam_search_prunes_and_expands_exactly() -> None:
    generator = ScriptedGenerator({"b200": "7", "b201": "7", "b110": "5", "b111": "5"})
    verifier = ScriptedStepVerifier(
        {
            **{"b0": 0.1, "b1": 0.9, "b2": 0.5, "b3": 0.3},
            **{"b10": 0.2, "b11": 0.8, "b20": 0.95, "b21": 0.1},
            **{"b200": 0.9, "b201": 0.6, "b110": 0.7, "b111": 0.7},
        }
    )
    state, events, _ = run_graph(
        generator, verifier, strategy="beam_search", n=4, beam_width=2, max_steps=3
    )
    candidates = state["candidates"]
    assert sorted(candidates, key=lambda i: int(i[1:])) == [f"c{i}" for i in range(12)]
    parents = {i: c["parent_id"] for i, c in candidates.items()}
    assert parents == {
        **dict.fromkeys(["c0", "c1", "c2", "c3"]),
        "c4": "c1",
        "c5": "c1",
        "c6": "c2",
        "c7": "c2",
        "c8": "c6",
        "c9": "c6",
        "c10": "c5",
        "c11": "c5",
    }
    labels = {label: c["id"] for label, c in by_label(state).items()}
    assert labels["b1"] == "c1" and labels["b20"] == "c6" and labels["b200"] == "c8"
    # Each round asks the kept beam's children in one request of n=M.
    steps = [c for c in generator.calls if not c["judge"]]
    assert [c["n"] for c in steps] == [4, 2, 2, 2, 2]
    assert all(c["stop"] == ["\n\n"] for c in steps)
    pruned = [e for e in events if e["type"] == "pruned"]
    assert pruned == [
        {"type": "pruned", "round": 0, "pruned": ["c3", "c0"], "kept": ["c1", "c2"]},
        {"type": "pruned", "round": 1, "pruned": ["c4", "c7"], "kept": ["c6", "c5"]},
    ]
    assert "pruned 2 beam(s) after step 1; growing c1, c2" == describe_event(pruned[0])
    assert [e["data"]["pruned"] for e in state["events"] if e["kind"] == "pruned"] == [
        ["c3", "c0"],
        ["c4", "c7"],
    ]
    # The best path wins: 7 (0.9 + 0.6) beats 5 (0.7 + 0.7); c8 is its best beam.
    assert state["answer"] == "7"
    assert state["selected_id"] == "c8"
    best = candidates["c8"]
    assert best["text"] == (
        "Step 1 of beam b2.\n\nStep 2 of beam b20.\n\nStep 3 of beam b200. The answer is 7."
    )
    assert best["complete"] is True and best["step_scores"] == [0.5, 0.95, 0.9]
    assert best["score"] == 0.9  # "last" aggregation
    assert all(not c["complete"] for c in candidates.values() if c["round"] < 2)


def test_beam_completes_on_a_final_answer_or_an_empty_step() -> None:
    # b0 answers at step 1 and b1 writes nothing: both are complete, only b2/b3 grow.
    generator = ScriptedGenerator({"b0": "9", "b20": "9", "b21": "9"}, empty=["b1"])
    verifier = ScriptedStepVerifier({"b0": 0.9, "b2": 0.4, "b3": 0.3})
    state, _, _ = run_graph(
        generator, verifier, strategy="beam_search", n=4, beam_width=2, max_steps=5
    )
    candidates = state["candidates"]
    assert candidates["c0"]["complete"] and candidates["c1"]["complete"]
    assert candidates["c1"]["text"] == "" and candidates["c1"]["score"] == 0.0
    # keep n/M = 2 of the 2 active beams (c2, c3); each grows 2 children.
    assert {c["parent_id"] for c in candidates.values() if c["round"] == 1} == {"c2", "c3"}
    assert state["answer"] == "9"
    assert max(c["round"] for c in candidates.values()) < 5


def test_dvts_keeps_one_beam_per_subtree() -> None:
    generator = ScriptedGenerator()
    # beam_search would keep c1 and c3 (both subtree 1); DVTS keeps each subtree's best.
    verifier = ScriptedStepVerifier({"b0": 0.1, "b1": 0.9, "b2": 0.5, "b3": 0.8})
    state, events, _ = run_graph(
        generator, verifier, strategy="dvts", n=4, beam_width=2, max_steps=2
    )
    candidates = state["candidates"]
    assert state["plan"]["chains"] == 2
    assert [candidates[f"c{i}"]["chain"] for i in range(4)] == [0, 1, 0, 1]
    children = {i: (c["parent_id"], c["chain"]) for i, c in candidates.items() if c["round"]}
    assert children == {"c4": ("c1", 1), "c5": ("c1", 1), "c6": ("c2", 0), "c7": ("c2", 0)}
    assert [e for e in events if e["type"] == "pruned"] == [
        {"type": "pruned", "round": 0, "pruned": ["c3", "c0"], "kept": ["c1", "c2"]}
    ]
    state_b, _, _ = run_graph(
        ScriptedGenerator(), verifier, strategy="beam_search", n=4, beam_width=2, max_steps=2
    )
    assert {c["parent_id"] for c in state_b["candidates"].values() if c["round"]} == {
        "c1",
        "c3",
    }


def test_lookahead_scores_the_rollout_but_does_not_keep_it() -> None:
    generator = ScriptedGenerator()
    # b1 looks better alone, but b0's greedy continuation (b0g) is the better path.
    verifier = ScriptedStepVerifier({"b0": 0.1, "b1": 0.8, "b0g": 0.9, "b1g": 0.2})
    state, _, _ = run_graph(
        generator, verifier, strategy="lookahead", n=2, beam_width=2, max_steps=3, lookahead=1
    )
    candidates = state["candidates"]
    assert candidates["c0"]["score"] == 0.9 and candidates["c1"]["score"] == 0.2
    assert candidates["c0"]["step_scores"] == [0.1]  # its own step only
    assert candidates["c0"]["rollout"] == "Step 1 of beam b0.\n\nStep 2 of beam b0g."
    assert candidates["c0"]["text"] == "Step 1 of beam b0."
    assert {c["parent_id"] for c in candidates.values() if c["round"] == 1} == {"c0"}
    assert not any("g." in c["text"] for c in candidates.values())
    greedy = [c for c in generator.calls if not c["judge"] and c["temperature"] == 0.0]
    # One rollout step per new beam of steps 1 and 2; none at the last step (max_steps).
    assert len(greedy) == 4 and all(c["n"] == 1 for c in greedy)
    assert all(c["round"] < 3 for c in candidates.values())
    assert all(c["rollout"] is None for c in candidates.values() if c["round"] == 2)
    # The verifier saw the rollout steps.
    assert ["Step 1 of beam b0.", "Step 2 of beam b0g."] in verifier.graded


def test_continuation_prompt_is_an_assistant_turn() -> None:
    messages = continue_messages("What is 3 + 4?", "Step 1. <<<END PROBLEM>>>")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Step 1. <<<END PROBLEM>>>"
    assert messages[3]["content"] == CONTINUE_INSTRUCTION


def test_default_verifier_is_the_step_grading_judge_and_the_budget_holds() -> None:
    generator = ScriptedGenerator()
    for strategy in ("beam_search", "lookahead", "dvts"):
        result = asyncio.run(
            asolve(
                "What is 3 + 4?",
                generator=generator,
                strategy=strategy,
                n=4,
                max_steps=4,
                max_tokens=30,
                budget_tokens=700,
                max_calls=60,
            )
        )
        assert result.plan["search"]["step_verify"] is True
        assert result.usage.completion_tokens <= 700
        assert result.usage.llm_calls <= 60
        verify = result.usage.by_node["verify"]
        # The judge grades every step of every scored text, one call per step.
        scored_steps = sum(
            len(split_steps(c.rollout or c.text)) for c in result.candidates if c.score is not None
        )
        assert verify["llm_calls"] == scored_steps
        assert all(c.step_scores is not None for c in result.candidates)


def test_a_plain_verifier_scores_whole_beams() -> None:
    generator = ScriptedGenerator({"b00": "7"})
    verifier = FakeVerifier({"b0": 0.9}, default=0.2)
    assert not isinstance(verifier, StepVerifier)
    result = asyncio.run(
        asolve(
            "What is 3 + 4?",
            generator=generator,
            verifier=verifier,
            strategy="beam_search",
            n=2,
            beam_width=2,
            max_steps=3,
        )
    )
    assert result.answer == "7"
    assert result.plan["search"]["step_verify"] is False
    assert all(c.step_scores is None for c in result.candidates)


def test_the_search_state_is_plain_json() -> None:
    generator = ScriptedGenerator()
    verifier = ScriptedStepVerifier({})
    _, _, checkpointed = run_graph(
        generator, verifier, strategy="lookahead", n=4, beam_width=2, max_steps=3
    )
    assert json.loads(json.dumps(checkpointed)) == checkpointed


def test_plans_and_beam_width_defaults() -> None:
    assert [beam_width(n, None) for n in (1, 2, 3, 4, 9, 16, 64)] == [1, 1, 2, 2, 3, 4, 4]
    assert beam_width(3, 8) == 3
    config = ReasoningConfig(strategy="lookahead", n=8, max_tokens=10, lookahead=2)
    plan = make_plan(config, verifier_reserve=4, has_verifier=True, step_verify=True)
    assert plan["selection"] == "search" and plan["verify"]
    # The first step and its 2 rollout steps: 3 generations of 10 tokens, 3 step scores.
    assert plan["reserve_per_generation"] == 3 * 10 + 3 * 4
    assert plan["calls_per_generation"] == 3 + 3
    action = next_action("q", plan, {}, 0, 0)
    assert action["kind"] == "think"
    assert [len(t["ids"]) for t in action["think"]] == [8]
    # The budget trims later beams first, and grants nothing it cannot pay for.
    trimmed = fit_to_budget(action, plan, spent_tokens=0, spent_calls=0)
    assert trimmed == action
    trimmed = fit_to_budget({**action}, {**plan, "budget_tokens": 100}, spent_tokens=0)
    assert [len(t["ids"]) for t in trimmed["think"]] == [2]
    assert "trimmed from 8 to 2" in trimmed["reason"]


@pytest.mark.parametrize("strategy", ["beam_search", "lookahead", "dvts"])
def test_search_strategies_run_from_solve(strategy: str) -> None:
    """Only the beams b00, b10 and b01 state an answer, 7, so the search must answer "7" with
    one of them. Plant caught (and missed when this checked only `answer is not None`): the
    vote in `nodes/select.py` returning its representative's text instead of its answer."""
    answering = {"b00": "7", "b10": "7", "b01": "7"}
    generator = ScriptedGenerator(answering)
    result = asyncio.run(
        asolve(
            "What is 3 + 4?",
            generator=generator,
            verifier=ScriptedStepVerifier({}),
            strategy=strategy,
            n=4,
            max_steps=3,
        )
    )
    assert result.strategy == strategy
    assert result.answer == "7"
    selected = result.selected
    assert selected is not None and selected.answer == "7"
    assert LABEL.findall(selected.text)[-1] in answering


def stub_reply(request: Mapping[str, Any], choice_index: int) -> str:
    """First steps work the sum out; continuations state the answer; the judge says Yes."""
    messages = request["messages"]
    if messages[0]["content"] != SOLVE_SYSTEM_PROMPT:
        return "Yes"
    if len(messages) == 4:
        return "The answer is 42."
    return f"17 + 25 = {42 if choice_index % 2 == 0 else 41}.\n\nThe answer is 41."


def test_beam_search_from_the_cli_against_a_stub_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reasoning_graph.cli import main
    from reasoning_graph.testing import OpenAIStubServer

    with OpenAIStubServer(stub_reply) as server:
        argv = ["solve", "What is 17 + 25?", "--provider", "openai", "--model", "m"]
        argv += ["--base-url", server.base_url, "--strategy", "beam_search", "--n", "4"]
        argv += ["--beam-width", "2", "--max-steps", "3", "--step-tokens", "20", "--json"]
        code = main(argv)
        requests = server.requests
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert result["strategy"] == "beam_search"
    assert result["answer"] == "42"
    steps = [r for r in requests if r["messages"][0]["content"] == SOLVE_SYSTEM_PROMPT]
    assert all(r["stop"] == ["\n\n"] and r["max_tokens"] == 20 for r in steps)
    continued = [r for r in steps if len(r["messages"]) == 4]
    assert continued and all(r["messages"][2]["role"] == "assistant" for r in continued)
    # First steps stop at the blank line: the wrong "The answer is 41." is never a step.
    assert result["candidates"]
    assert not any("The answer is 41" in c["text"] for c in result["candidates"])
    assert any(c["complete"] and c["step_scores"] for c in result["candidates"])


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--max-steps", "0", "max_steps"), ("--beam-width", "0", "beam_width")],
)
def test_bad_search_flags_are_one_line_and_exit_2(
    flag: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reasoning_graph.cli import main

    try:
        code = main(["solve", "2+2?", "--strategy", "beam_search", flag, value])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1


def test_a_search_resumes_from_its_checkpoint() -> None:
    """Stopped before every think wave and resumed, the search ends as an uninterrupted one."""
    scores = {"b0": 0.1, "b1": 0.9, "b2": 0.5, "b3": 0.3, "b10": 0.2, "b11": 0.8}
    answers = {"b100": "5", "b110": "6", "b111": "6"}
    expected, _, _ = run_graph(
        ScriptedGenerator(answers),
        ScriptedStepVerifier(scores),
        strategy="beam_search",
        n=4,
        beam_width=2,
        max_steps=3,
    )
    graph = create_reasoning_graph(
        ScriptedGenerator(answers),
        verifier=ScriptedStepVerifier(scores),
        config=ReasoningConfig(strategy="beam_search", n=4, beam_width=2, max_steps=3),
    ).compile(checkpointer=InMemorySaver(), interrupt_before=["think"])
    thread = {"configurable": {"thread_id": "r"}, "recursion_limit": 200}

    async def go() -> dict[str, Any]:
        await graph.ainvoke({"question": "What is 3 + 4?"}, thread)
        stops = 1
        while (await graph.aget_state(thread)).next:
            snapshot = (await graph.aget_state(thread)).values
            assert json.loads(json.dumps(snapshot)) == snapshot
            await graph.ainvoke(None, thread)
            stops += 1
        assert stops == 4  # one stop before each of the 3 steps, then the end
        return dict((await graph.aget_state(thread)).values)

    resumed = asyncio.run(go())
    assert resumed["answer"] == expected["answer"] == "6"
    assert resumed["candidates"] == expected["candidates"]
