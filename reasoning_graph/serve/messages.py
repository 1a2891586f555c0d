"""The messages of an OpenAI chat request, as the question the graph answers.

A user message alone is the question; a conversation becomes `conversation.py`'s
transcript (system, user and assistant turns, tool calls with their arguments, tool results
fenced as quoted data) followed by the last user message. Only text is read: a content
part of another type (an image, audio) is refused rather than silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages import ToolMessage as LangChainToolMessage
from langchain_core.messages.tool import ToolCall as LangChainToolCall
from pydantic import BaseModel, ConfigDict

from reasoning_graph.config import clean_question
from reasoning_graph.conversation import conversation_question
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.serve.errors import APIError

__all__ = ["Message", "question_of"]


class _Function(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    name: str
    arguments: str = ""


class _ToolCall(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: str | None = None
    function: _Function


class Message(BaseModel):
    """One message of an OpenAI chat request (the fields read; others are ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


def question_of(messages: Sequence[Message], *, max_chars: int) -> str:
    """The conversation as the graph's question, cleaned and within `max_chars`.

    Raises:
        APIError: 400 with no user message, a non-text content part, or a question too long.

    Example:
        ```python
        question_of([Message(role="user", content="What is 2 + 2?")], max_chars=1000)
        ```
    """
    converted = [_to_langchain(message, index) for index, message in enumerate(messages)]
    try:
        question = conversation_question(converted)
        return clean_question(question, max_chars=max_chars)
    except ConfigurationError as error:
        raise APIError(400, " ".join(str(error).split()), param="messages") from None


def _to_langchain(message: Message, index: int) -> BaseMessage:
    text = _text(message.content, index)
    if message.role in ("system", "developer"):
        return SystemMessage(text)
    if message.role == "user":
        return HumanMessage(text)
    if message.role == "tool":
        return LangChainToolMessage(
            text, tool_call_id=message.tool_call_id or "", name=message.name
        )
    calls = [
        LangChainToolCall(name=call.function.name, args=_arguments(call), id=call.id)
        for call in message.tool_calls or []
    ]
    return AIMessage(text, tool_calls=calls)


def _arguments(call: _ToolCall) -> dict[str, Any]:
    try:
        parsed = json.loads(call.function.arguments or "{}")
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": call.function.arguments}


def _text(content: str | list[dict[str, Any]] | None, index: int) -> str:
    """The text of a message's content: a string, or its text parts joined."""
    if content is None or isinstance(content, str):
        return content or ""
    texts: list[str] = []
    for part in content:
        kind, text = part.get("type"), part.get("text")
        if kind not in ("text", "input_text") or not isinstance(text, str):
            raise APIError(
                400,
                f"messages[{index}]: content parts of type {kind!r} are not supported; this "
                "server reasons over text, so send text parts only",
                param=f"messages.{index}.content",
            )
        texts.append(text)
    return "\n".join(texts)
