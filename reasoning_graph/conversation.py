"""A LangChain conversation as one question for the graph, shared by the chat model and the
agent middleware.

The transcript keeps the conversation in order: user, assistant and system turns, the tools
the assistant called with their arguments, and each tool result fenced as quoted data (a tool
result that says "ignore previous instructions" is quoted, not obeyed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.prompts import fence

__all__ = ["conversation_question", "render_transcript"]

_ROLES = {"human": "User", "ai": "Assistant", "system": "System", "tool": "Tool"}


def _render(message: BaseMessage) -> str:
    if isinstance(message, ToolMessage):
        return fence(f"result of tool {message.name or message.tool_call_id}", message.text)
    if isinstance(message, AIMessage):
        parts = [f"Assistant: {message.text}"] if message.text else []
        parts += [
            f"Assistant called tool {call['name']} with {json.dumps(call['args'])}"
            for call in message.tool_calls
        ]
        return "\n".join(parts)
    role = _ROLES.get(message.type, message.type.capitalize())
    return f"{role}: {message.text}" if message.text else ""


def render_transcript(messages: Sequence[BaseMessage]) -> str:
    """The messages as a readable transcript, one block per message, empty ones dropped."""
    return "\n\n".join(block for block in map(_render, messages) if block)


def conversation_question(messages: Sequence[BaseMessage]) -> str:
    """The question the graph answers: the user's last message, in the context of the rest.

    A conversation of one user message is that message's text.

    Raises:
        ConfigurationError: There is no user (human) message.

    Example:
        ```python
        conversation_question([HumanMessage("What is 2 + 2?")])  # "What is 2 + 2?"
        ```
    """
    humans = [m for m in messages if m.type == "human"]
    if not humans:
        kinds = ", ".join(m.type for m in messages) or "none"
        raise ConfigurationError(
            f"the reasoning graph answers the user's last message, and there is none "
            f"(messages: {kinds}); add the question as a HumanMessage"
        )
    if len(messages) == 1:
        return humans[0].text
    return (
        f"{render_transcript(messages)}\n\n"
        f"Using the conversation above, answer the user's last message: {humans[-1].text}"
    )
