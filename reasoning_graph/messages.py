"""`ChatMessage`: one chat message in the OpenAI shape, shared by prompts and providers."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

__all__ = ["ChatMessage"]


class ChatMessage(TypedDict):
    """One chat message in the OpenAI shape."""

    role: Literal["system", "user", "assistant"]
    content: str
