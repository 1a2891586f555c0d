"""Human review: `select` interrupts with the proposal; `Command(resume=...)` decides."""

from __future__ import annotations

import re
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reasoning_graph import ConfigurationError, ReasoningConfig, asolve, create_reasoning_graph
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

Q = "What is 2 + 2?"
SCRIPT = ["The answer is 4.", "The answer is 5.", "The answer is 4."]
THREAD: Any = {"configurable": {"thread_id": "review"}}


def reviewed_graph() -> Any:
    config = ReasoningConfig(strategy="weighted_vote", n=3, review=True)
    builder = create_reasoning_graph(
        FakeGenerator(SCRIPT), verifier=FakeVerifier({"4": 0.9}, default=0.2), config=config
    )
    return builder.compile(checkpointer=InMemorySaver())


async def paused(graph: Any) -> dict[str, Any]:
    state = await graph.ainvoke({"question": Q}, THREAD)
    (interrupt,) = state["__interrupt__"]
    return interrupt.value


async def test_interrupt_shows_candidates_and_proposal():
    graph = reviewed_graph()
    request = await paused(graph)
    assert request["type"] == "review" and request["question"] == Q
    assert request["proposed_answer"] == "4" and request["proposed_id"] == "c0"
    assert [(c["id"], c["answer"], c["score"]) for c in request["candidates"]] == [
        ("c0", "4", 0.9),
        ("c1", "5", 0.2),
        ("c2", "4", 0.9),
    ]
    assert "candidate_id" in request["resume"]
    snapshot = await graph.aget_state(THREAD)
    assert snapshot.next == ("select",)
    assert "answer" not in snapshot.values


@pytest.mark.parametrize(
    ("resume", "answer", "selected_id", "decision"),
    [
        ({"approve": True}, "4", "c0", "approve"),
        ({"candidate_id": "c1"}, "5", "c1", "candidate"),
        ({"answer": "4.0"}, "4.0", "c0", "answer"),
        ({"answer": "17"}, "17", None, "answer"),
    ],
)
async def test_each_resume_kind(resume, answer, selected_id, decision):
    graph = reviewed_graph()
    await paused(graph)
    custom: list[dict[str, Any]] = []
    async for event in graph.astream(Command(resume=resume), THREAD, stream_mode="custom"):
        custom.append(event)
    state = (await graph.aget_state(THREAD)).values
    assert state["answer"] == answer and state["selected_id"] == selected_id
    review = [e for e in state["events"] if e["kind"] == "review"]
    assert len(review) == 1
    assert review[0]["data"]["decision"] == decision
    assert review[0]["data"]["proposed_answer"] == "4"
    assert review[0]["data"]["answer"] == answer
    assert [e["type"] for e in custom] == ["review", "selected"]
    assert custom[-1]["answer"] == answer


async def test_resume_does_not_generate_again():
    generator = FakeGenerator(SCRIPT)
    config = ReasoningConfig(n=3, review=True)
    graph = create_reasoning_graph(generator, config=config).compile(checkpointer=InMemorySaver())
    await graph.ainvoke({"question": Q}, THREAD)
    calls = len(generator.calls)
    await graph.ainvoke(Command(resume={"approve": True}), THREAD)
    assert len(generator.calls) == calls


@pytest.mark.parametrize(
    "resume",
    [
        {"candidate_id": "c9"},
        {"approve": False},
        "yes",
        {"answer": " "},
        {"approve": True, "answer": "5"},
        {"bogus": 1},
    ],
)
async def test_bad_resume_value_interrupts_again_and_a_good_one_still_lands(resume):
    """A refused value re-asks instead of raising: LangGraph replays every resume value of a
    node on each later resume, so a raise would fail the thread for good. Planted bug:
    `apply_review` called straight after one `interrupt()` (the old code) makes the first
    resume raise `ConfigurationError` and the second raise it again."""
    graph = reviewed_graph()
    await paused(graph)
    state = await graph.ainvoke(Command(resume=resume), THREAD)
    (again,) = state["__interrupt__"]
    assert again.value["error"] and re.search("resume|choose one of", again.value["error"])
    assert again.value["proposed_answer"] == "4" and len(again.value["candidates"]) == 3
    state = await graph.ainvoke(Command(resume={"candidate_id": "c1"}), THREAD)
    assert "__interrupt__" not in state
    assert state["answer"] == "5" and state["selected_id"] == "c1"
    assert [e["data"]["decision"] for e in state["events"] if e["kind"] == "review"] == [
        "candidate"
    ]


async def test_first_review_request_has_no_error():
    graph = reviewed_graph()
    assert (await paused(graph))["error"] is None


async def test_asolve_refuses_review():
    with pytest.raises(ConfigurationError, match="Command"):
        await asolve(Q, generator=FakeGenerator(SCRIPT), review=True)
