"""Live events on `stream_mode="custom"`: their order and content, from scripted fakes."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableLambda
from langgraph.graph import START, StateGraph

from reasoning_graph import ReasoningConfig, asolve, create_reasoning_graph
from reasoning_graph.events import SelectedEvent, describe_event, emit
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

Q = "What is 2 + 2?"
SCRIPT = ["The answer is 4.", "The answer is 5.", "The answer is 4."]


async def stream_events(graph_builder: Any) -> list[dict[str, Any]]:
    graph = graph_builder.compile()
    return [event async for event in graph.astream({"question": Q}, stream_mode="custom")]


async def test_self_consistency_events_in_order():
    events = await stream_events(
        create_reasoning_graph(FakeGenerator(SCRIPT), config=ReasoningConfig(n=3))
    )
    assert [e["type"] for e in events] == [
        "plan",
        "budget",
        "candidate",
        "candidate",
        "candidate",
        "difficulty",
        "budget",
        "selected",
    ]
    plan = events[0]
    assert plan["strategy"] == "self_consistency" and plan["n"] == 3
    assert plan["selection"] == "majority"
    assert events[1] == {
        "type": "budget",
        "spent_tokens": 0,
        "llm_calls": 0,
        "requests": 0,
        "spent_calls": 0,
        "budget_tokens": None,
        "max_calls": None,
        "launched": 3,
        "next": "think",
        "generations": 3,
    }
    candidates = events[2:5]
    assert [(c["id"], c["answer"], c["score"], c["node"]) for c in candidates] == [
        ("c0", "4", None, "think"),
        ("c1", "5", None, "think"),
        ("c2", "4", None, "think"),
    ]
    assert events[5]["samples"] == 3 and events[5]["bin"] is not None
    assert events[6]["next"] == "select" and events[6]["spent_tokens"] == 12
    assert events[6]["spent_calls"] == 3
    assert (events[6]["llm_calls"], events[6]["requests"]) == (3, 1)  # one request of n=3
    assert events[7] == {
        "type": "selected",
        "answer": "4",
        "candidate_id": "c0",
        "selection": "majority",
    }
    assert all(describe_event(e) for e in events)  # every event has a line for the CLI


async def test_weighted_vote_streams_scores():
    verifier = FakeVerifier({"4": 0.9}, default=0.2)
    events = await stream_events(
        create_reasoning_graph(
            FakeGenerator(SCRIPT),
            verifier=verifier,
            config=ReasoningConfig(strategy="weighted_vote", n=3),
        )
    )
    types = [e["type"] for e in events]
    assert types == [
        "plan",
        "budget",
        *["candidate"] * 3,
        *["scored"] * 3,
        "difficulty",
        "budget",
        "selected",
    ]
    scored = [(e["id"], e["answer"], e["score"]) for e in events if e["type"] == "scored"]
    assert scored == [("c0", "4", 0.9), ("c1", "5", 0.2), ("c2", "4", 0.9)]
    assert events[0]["verify"] is True and events[0]["selection"] == "weighted"
    assert events[-1]["answer"] == "4"


async def test_early_stop_when_the_vote_is_settled():
    config = ReasoningConfig(n=8, early_stop="settled", wave_size=2)
    events = await stream_events(create_reasoning_graph(FakeGenerator(["It is 4."]), config=config))
    types = [e["type"] for e in events]
    stop = next(e for e in events if e["type"] == "early_stop")
    assert stop["reason"] == "settled"
    assert stop["unspent"] > 0
    assert "settled" in stop["detail"]
    # The stop comes after the last candidate, and is followed by the spend and the answer.
    assert types.index("early_stop") > max(i for i, t in enumerate(types) if t == "candidate")
    assert types[-3:] == ["early_stop", "budget", "selected"]
    assert events[-2]["launched"] == 8 - stop["unspent"]
    assert types.count("candidate") == 8 - stop["unspent"]


async def test_budget_stop_is_an_early_stop():
    config = ReasoningConfig(n=8, budget_tokens=6, max_tokens=3)
    events = await stream_events(create_reasoning_graph(FakeGenerator(["It is 4."]), config=config))
    stop = next(e for e in events if e["type"] == "early_stop")
    assert stop["reason"] == "budget" and stop["unspent"] == 6


async def test_compute_optimal_streams_the_swapped_plan():
    config = ReasoningConfig(strategy="compute_optimal", n=8)
    events = await stream_events(create_reasoning_graph(FakeGenerator(SCRIPT), config=config))
    plans = [e for e in events if e["type"] == "plan"]
    assert [p["phase"] for p in plans] == ["probe", "chosen"]
    types = [e["type"] for e in events]
    swapped = types.index("plan", 1)
    assert types[swapped + 1] == "difficulty"  # the probe's estimate picked the plan
    assert types.index("candidate") < swapped


async def test_asolve_on_event_gets_the_same_events():
    seen: list[dict[str, Any]] = []
    result = await asolve(Q, generator=FakeGenerator(SCRIPT), n=3, on_event=seen.append)
    assert result.answer == "4"
    assert [e["type"] for e in seen][0] == "plan" and seen[-1]["type"] == "selected"


def test_emit_outside_a_graph_is_a_no_op():
    """`emit` returns quietly outside a graph, both with no runnable context at all (a node
    called directly, LangGraph raises `RuntimeError`) and inside a LangChain runnable that is
    not a graph (a config without LangGraph's runtime, `KeyError`); inside a graph streaming
    `custom`, the very same call is delivered. Plant caught: `emit` catching only
    `RuntimeError` (the runnable case raises `KeyError`)."""
    event: SelectedEvent = {
        "type": "selected",
        "answer": "4",
        "candidate_id": "c0",
        "selection": "majority",
    }
    assert emit(event) is None
    assert RunnableLambda(lambda _: emit(event)).invoke(None) is None

    class State(TypedDict):
        question: str

    def node(state: State) -> dict[str, Any]:
        emit(event)
        return {}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile()
    assert list(graph.stream({"question": Q}, stream_mode="custom")) == [event]
    assert list(graph.stream({"question": Q}, stream_mode="updates")) == [{"node": None}]


async def test_failure_event():
    from reasoning_graph import ProviderUnavailableError

    class Down(FakeGenerator):
        async def generate(self, messages, **kwargs):
            if kwargs.get("seed") == 1:
                raise ProviderUnavailableError("down (503)")
            return await super().generate(messages, **kwargs)

    config = ReasoningConfig(n=3, share_prompt=False)
    events = await stream_events(create_reasoning_graph(Down(SCRIPT), config=config))
    failures = [e for e in events if e["type"] == "failure"]
    assert len(failures) == 1
    assert failures[0]["candidate_ids"] == ["c1"] and failures[0]["node"] == "think"
    assert failures[0]["error"] == "ProviderUnavailableError"
