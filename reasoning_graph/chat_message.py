"""The `AIMessage` a `ReasoningChatModel` answers with, whole or as stream chunks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk

from reasoning_graph.result import Result

__all__ = ["message_chunks", "result_message"]

_PIECE = re.compile(r"\s*\S+\s*|\s+")  # words with their spacing: the streamed pieces


def result_message(result: Result, *, model_name: str, stop: Sequence[str] | None) -> AIMessage:
    """The reply of a run: reasoning and answer blocks, the run's usage once, its metadata.

    The answer (the selected candidate's text when none was extracted) is cut at the first
    `stop` string.
    """
    selected = result.selected
    answer = result.answer if result.answer is not None else (selected.text if selected else "")
    content: list[str | dict[str, Any]] = []
    if selected is not None:
        content.append({"type": "reasoning", "reasoning": selected.text})
    content.append({"type": "text", "text": _cut(answer, stop)})
    usage = UsageMetadata(
        input_tokens=result.usage.prompt_tokens,
        output_tokens=result.usage.completion_tokens,
        total_tokens=result.usage.prompt_tokens + result.usage.completion_tokens,
    )
    metadata: dict[str, Any] = {
        "model_name": model_name,
        "strategy": result.strategy,
        "difficulty": {"score": result.difficulty.score, "bin": result.difficulty.bin},
        "plan": dict(result.plan),
        "usage_by_node": {node: dict(spent) for node, spent in result.usage.by_node.items()},
        "llm_calls": result.usage.llm_calls,
        "requests": result.usage.requests,
        "candidate_count": len(result.candidates),
        "selected_id": result.selected_id,
        "answer": result.answer,
    }
    return AIMessage(content=content, usage_metadata=usage, response_metadata=metadata)


def _cut(text: str, stop: Sequence[str] | None) -> str:
    """`text` up to the first occurrence of any `stop` string."""
    ends = [i for i in (text.find(s) for s in stop or () if s) if i >= 0]
    return text[: min(ends)] if ends else text


def message_chunks(message: AIMessage) -> Iterator[ChatGenerationChunk]:
    """`message` as stream chunks: reasoning, answer pieces, usage and metadata on the last."""
    blocks = [b for b in message.content if isinstance(b, dict)]
    for index, block in enumerate(blocks[:-1]):
        yield ChatGenerationChunk(message=AIMessageChunk(content=[{**block, "index": index}]))
    last = len(blocks) - 1
    pieces = _PIECE.findall(str(blocks[-1]["text"])) or [""]
    for piece in pieces[:-1]:
        yield ChatGenerationChunk(
            message=AIMessageChunk(content=[{"type": "text", "text": piece, "index": last}])
        )
    yield ChatGenerationChunk(
        message=AIMessageChunk(
            content=[{"type": "text", "text": pieces[-1], "index": last}],
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
    )
