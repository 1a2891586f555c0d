"""An agent that gains test-time scaling from one argument: `ReasoningMiddleware`.

`create_agent(model, tools, middleware=[ReasoningMiddleware(...)])`: the agent's turns that
call tools run as before; its final answer is replaced by the reasoning graph's majority
vote over fresh samples on the same conversation (tool results included), with one
`usage_metadata` for everything and the winning solution as a `reasoning` content block.

LangChain has no chat model over llama.cpp installed here, so the agent's own model is a
scripted fake (`GenericFakeChatModel` taught `bind_tools`) that calls the tool and then
answers; the middleware samples the embedded SmolLM2-135M-Instruct instead of the agent's
model (`generator=LlamaCppProvider()`). With a real chat model, leave `generator` out and
the middleware samples the agent's own model. Runs without a key (the `local` extra):

    python examples/agent_middleware.py
"""

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from reasoning_graph.middleware import ReasoningMiddleware
from reasoning_graph.providers.llama_cpp import LlamaCppProvider


class ScriptedAgentModel(GenericFakeChatModel):
    """Replays its messages; accepts tools as a tool-calling model would."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedAgentModel":
        return self


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def main() -> None:
    model = ScriptedAgentModel(
        messages=iter(
            [
                AIMessage("", tool_calls=[{"name": "add", "args": {"a": 17, "b": 25}, "id": "1"}]),
                AIMessage("I think it is 41."),  # the plain final answer, replaced
            ]
        )
    )
    middleware = ReasoningMiddleware(
        "self_consistency", n=3, when="final", max_tokens=48, generator=LlamaCppProvider()
    )
    agent = create_agent(model, [add], middleware=[middleware])

    state = agent.invoke({"messages": [HumanMessage("What is 17 + 25? Use the add tool.")]})
    for message in state["messages"]:
        calls = getattr(message, "tool_calls", None)
        print(f"{message.type:>5}: {message.text or calls}")
    final = state["messages"][-1]
    print(f"strategy: {final.response_metadata['strategy']}, usage: {final.usage_metadata}")
    print(f"reasoning: {final.content_blocks[0].get('reasoning', '')[:80]!r}...")


if __name__ == "__main__":
    main()
