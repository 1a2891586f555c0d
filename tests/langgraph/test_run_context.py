"""A run's LangGraph `context` overrides the graph's `ReasoningConfig` (`nodes/per_run.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from pydantic import ValidationError
from typing_extensions import TypedDict

from reasoning_graph import ConfigurationError, ReasoningConfig, create_reasoning_graph
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

Q = "What is 2 + 2?"
SCRIPT = ["The answer is 4.", "The answer is 5.", "The answer is 4."]


def graph(config: ReasoningConfig | None = None, **compile_options: Any) -> Any:
    generator = FakeGenerator(SCRIPT)
    return create_reasoning_graph(generator, config=config).compile(**compile_options)


async def test_context_sets_n_and_the_rest_keeps_the_graph_config():
    served = graph(ReasoningConfig(n=3, max_tokens=7))
    assert len((await served.ainvoke({"question": Q}))["candidates"]) == 3
    state = await served.ainvoke({"question": Q}, context={"n": 2})
    assert len(state["candidates"]) == 2
    assert state["plan"]["n"] == 2 and state["plan"]["max_tokens"] == 7


async def test_context_changes_the_strategy_and_its_default_verifier():
    verifier = FakeVerifier({"4": 0.9}, default=0.1)
    builder = create_reasoning_graph(FakeGenerator(SCRIPT), verifier=verifier)
    state = await builder.compile().ainvoke(
        {"question": Q}, context={"strategy": "best_of_n", "n": 3}
    )
    assert state["plan"]["strategy"] == "best_of_n" and state["plan"]["selection"] == "best_score"
    assert verifier.calls == 3
    assert state["candidates"][state["selected_id"]]["score"] == 0.9


@pytest.mark.parametrize(
    ("context", "field"),
    [({"n": 0}, "n"), ({"strategy": "best_of_42"}, "strategy"), ({"bogus": 1}, "bogus")],
)
async def test_an_invalid_context_fails_the_run_naming_the_field(context, field):
    with pytest.raises(ValidationError, match=field):
        await graph().ainvoke({"question": Q}, context=context)


async def test_a_config_that_cannot_run_fails_the_run():
    with pytest.raises(ConfigurationError, match="policy"):
        await graph().ainvoke(
            {"question": Q}, context={"strategy": "compute_optimal", "policy": "/nonexistent.json"}
        )


async def test_the_thread_keeps_the_config_it_started_with():
    """Review asked by the first run's context stays on when the resume brings none."""
    served = graph(checkpointer=InMemorySaver())
    thread: Any = {"configurable": {"thread_id": "t"}}
    paused = await served.ainvoke({"question": Q}, thread, context={"review": True, "n": 3})
    assert paused["__interrupt__"][0].value["type"] == "review"
    state = await served.ainvoke(Command(resume={"candidate_id": "c1"}), thread)
    assert state["answer"] == "5" and len(state["candidates"]) == 3


async def test_a_parent_graphs_own_context_is_left_alone():
    class Workflow(TypedDict, total=False):
        question: str
        answer: str | None

    class ParentContext(TypedDict):
        user: str

    builder = StateGraph(Workflow, context_schema=ParentContext)
    builder.add_node("reason", graph(ReasoningConfig(n=3)))
    builder.add_edge(START, "reason")
    state = await builder.compile().ainvoke({"question": Q}, context={"user": "ada"})
    assert state["answer"] == "4"


def test_the_context_schema_lists_every_config_field():
    schema = graph().get_context_jsonschema()
    assert set(schema["properties"]) == set(ReasoningConfig.model_fields)
    assert schema["properties"]["n"]["minimum"] == 1
    # Studio shows each field's docstring as its description.
    assert "Generations to spend" in schema["properties"]["n"]["description"]
