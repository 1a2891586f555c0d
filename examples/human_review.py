"""Human review before `select`: the run pauses, a person approves or overrides, it resumes.

With `ReasoningConfig(review=True)` the `select` node calls LangGraph's `interrupt()` with
the proposed answer and every candidate; the graph needs a checkpointer to pause. The run
goes on with `Command(resume=...)`: `{"approve": True}`, `{"candidate_id": "c1"}` or
`{"answer": "42"}`. Here the "person" is a line of code that overrides the answer.

Runs on the embedded SmolLM2-135M-Instruct (the `local` extra), no key:

    python examples/human_review.py
"""

import asyncio

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reasoning_graph import ReasoningConfig, create_reasoning_graph
from reasoning_graph.providers.llama_cpp import LlamaCppProvider


async def main() -> None:
    config = ReasoningConfig(strategy="self_consistency", n=3, max_tokens=48, review=True)
    graph = create_reasoning_graph(LlamaCppProvider(), config=config).compile(
        checkpointer=InMemorySaver()
    )
    thread: RunnableConfig = {"configurable": {"thread_id": "review-demo"}}

    state = await graph.ainvoke({"question": "What is 17 + 25?"}, thread)
    request = state["__interrupt__"][0].value  # paused before select
    print(f"proposed: {request['proposed_answer']!r} ({request['proposed_id']})")
    for candidate in request["candidates"]:
        print(f"  {candidate['id']}: {candidate['answer']!r}")

    decision = {"answer": "42"}  # a person overrides the vote
    print(f"reviewer: {decision}")
    state = await graph.ainvoke(Command(resume=decision), thread)
    print(f"final answer: {state['answer']} (selected candidate: {state['selected_id']})")


if __name__ == "__main__":
    asyncio.run(main())
