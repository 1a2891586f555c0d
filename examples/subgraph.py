"""The reasoning graph as one node of a larger LangGraph workflow.

`create_reasoning_graph` returns an uncompiled `StateGraph`; compiled without a checkpointer,
it is added as a node of the parent graph and inherits the parent's checkpointer. The parent
shares the `question` and `answer` keys with it; the graph's internal keys (plan,
controller state) stay inside, hidden by its input and output schemas.

Runs on the embedded SmolLM2-135M-Instruct (the `local` extra), no key:

    python examples/subgraph.py
"""

import asyncio

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from reasoning_graph import ReasoningConfig, create_reasoning_graph
from reasoning_graph.providers.llama_cpp import LlamaCppProvider


class Workflow(TypedDict, total=False):
    topic: str
    question: str
    answer: str | None
    report: str


def ask(state: Workflow) -> Workflow:
    """Turn the topic into a question for the reasoning graph."""
    return {"question": f"What is {state['topic']}?"}


def report(state: Workflow) -> Workflow:
    """Write up what the reasoning graph answered."""
    return {"report": f"Q: {state['question']}\nA: {state['answer']}"}


def build() -> StateGraph[Workflow]:
    config = ReasoningConfig(strategy="self_consistency", n=3, max_tokens=48)
    reasoning = create_reasoning_graph(LlamaCppProvider(), config=config).compile()
    workflow = StateGraph(Workflow)
    workflow.add_node("ask", ask)
    workflow.add_node("reason", reasoning)  # the compiled graph is the node
    workflow.add_node("report", report)
    workflow.add_edge(START, "ask")
    workflow.add_edge("ask", "reason")
    workflow.add_edge("reason", "report")
    workflow.add_edge("report", END)
    return workflow


async def main() -> None:
    app = build().compile(checkpointer=InMemorySaver())  # the subgraph checkpoints here too
    config: RunnableConfig = {"configurable": {"thread_id": "subgraph-demo"}}
    state = await app.ainvoke({"topic": "17 + 25"}, config)
    print(state["report"])
    print(f"parent keys: {sorted(state)}")  # no plan, candidates or controller state


if __name__ == "__main__":
    asyncio.run(main())
