"""The compiled graph as a node of a user's `StateGraph`, and as a LangChain tool."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from typing_extensions import TypedDict

from reasoning_graph import ConfigurationError, ReasoningConfig, Result, create_reasoning_graph
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.tool import reasoning_tool

Q = "What is 2 + 2?"
SCRIPT = ["The answer is 4.", "The answer is 5.", "The answer is 4."]


class Workflow(TypedDict, total=False):
    question: str
    answer: str | None
    report: str


def workflow(config: ReasoningConfig, generator: FakeGenerator | None = None) -> Any:
    reasoning = create_reasoning_graph(generator or FakeGenerator(SCRIPT), config=config)

    async def write_report(state: Workflow) -> dict[str, Any]:
        return {"report": f"{state['question']} -> {state['answer']}"}

    builder = StateGraph(Workflow)
    builder.add_node("reason", reasoning.compile())  # no checkpointer: inherits the parent's
    builder.add_node("report", write_report)
    builder.add_edge(START, "reason")
    builder.add_edge("reason", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=InMemorySaver())


async def test_subgraph_node_keeps_internal_keys_private():
    graph = workflow(ReasoningConfig(n=3))
    thread: Any = {"configurable": {"thread_id": "w1"}}
    state = await graph.ainvoke({"question": Q}, thread)
    assert state == {"question": Q, "answer": "4", "report": f"{Q} -> 4"}
    # The child's state was checkpointed under the parent's checkpointer.
    snapshot = await graph.aget_state(thread, subgraphs=True)
    assert set(snapshot.values) == {"question", "answer", "report"}


async def test_child_events_reach_the_parent_stream():
    graph = workflow(ReasoningConfig(n=3))
    thread: Any = {"configurable": {"thread_id": "w2"}}
    types = [
        event["type"]
        async for _, event in graph.astream(
            {"question": Q}, thread, stream_mode="custom", subgraphs=True
        )
    ]
    assert types[0] == "plan" and types[-1] == "selected"


async def test_review_interrupt_surfaces_through_the_parent():
    generator = FakeGenerator(SCRIPT)
    graph = workflow(ReasoningConfig(n=3, review=True), generator)
    thread: Any = {"configurable": {"thread_id": "w3"}}
    state = await graph.ainvoke({"question": Q}, thread)
    (interrupt,) = state["__interrupt__"]
    assert interrupt.value["proposed_answer"] == "4"
    assert "report" not in state
    calls = len(generator.calls)
    state = await graph.ainvoke(Command(resume={"candidate_id": "c1"}), thread)
    assert state["answer"] == "5" and state["report"] == f"{Q} -> 5"
    assert len(generator.calls) == calls  # resumed from the parent's checkpoint


async def test_tool_returns_answer_and_result_artifact():
    tool = reasoning_tool(FakeGenerator(SCRIPT), config=ReasoningConfig(n=3))
    assert tool.name == "reason"
    assert set(tool.args) == {"question"}
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "call-1", "name": "reason", "args": {"question": Q}}
    )
    assert isinstance(message, ToolMessage)
    assert message.content.startswith("Answer: 4\nEvidence: 2 of 3 candidates agree")
    assert "12 completion tokens in 3 calls." in message.content  # 3 samples, 1 request
    assert isinstance(message.artifact, Result) and message.artifact.answer == "4"
    # Invoked with plain args, a content_and_artifact tool returns the content only.
    assert (await tool.ainvoke({"question": Q})).startswith("Answer: 4")


def test_tool_runs_sync_outside_an_event_loop():
    tool = reasoning_tool(FakeGenerator(SCRIPT), config=ReasoningConfig(n=3), name="think_hard")
    assert tool.name == "think_hard"
    assert tool.invoke({"question": Q}).startswith("Answer: 4")


def test_tool_refuses_review():
    with pytest.raises(ConfigurationError, match="review"):
        reasoning_tool(FakeGenerator(SCRIPT), config=ReasoningConfig(review=True))


async def test_tool_compiles_its_graph_once(graph_builds):
    tool = reasoning_tool(FakeGenerator(SCRIPT), config=ReasoningConfig(n=3))
    for _ in range(3):
        assert (await tool.ainvoke({"question": Q})).startswith("Answer: 4")
    assert len(graph_builds) == 1
