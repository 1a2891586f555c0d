"""A `Result` in OpenAI's shapes: a `chat.completion`, or `chat.completion.chunk` SSE events.

- `message.content`: the selected answer (the selected candidate's text when no answer was
  extracted), cut at the first `stop` string;
- `message.reasoning_content`: the selected candidate's whole solution (the field DeepSeek,
  vLLM and OpenRouter clients read);
- `finish_reason`: `length` when that solution was cut by its token cap, else `stop`;
- `usage`: the run's exact total over every internal call (generations, verifier scores,
  revisions). Every completion token was spent reasoning (the answer is read out of the
  winning solution, not generated again), so `completion_tokens_details.reasoning_tokens`
  equals `completion_tokens`;
- `reasoning_graph`: the whole `Result` as JSON (candidates, scores, plan, difficulty,
  failures, and usage with `llm_calls` (generations and verifier scores) and `requests`
  (upstream requests), in total and per node).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from reasoning_graph.result import Result

__all__ = ["DONE", "ChunkWriter", "answer_text", "completion_body", "sse", "usage_body"]

_PIECE = re.compile(r"\s*\S+\s*")
DONE = b"data: [DONE]\n\n"
"""The event that ends a stream."""


def answer_text(result: Result, stop: Sequence[str] = ()) -> str:
    """The reply's `content`: the answer, or the selected solution when none was extracted."""
    selected = result.selected
    text = result.answer if result.answer is not None else (selected.text if selected else "")
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(ends)] if ends else text


def _finish_reason(result: Result) -> str:
    """`length` when the selected solution was cut by its token cap, else `stop`."""
    selected = result.selected
    return "length" if selected is not None and selected.finish_reason == "length" else "stop"


def usage_body(result: Result) -> dict[str, Any]:
    """OpenAI's `usage` object for the whole run."""
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.completion_tokens},
    }


def completion_body(model: str, result: Result, stop: Sequence[str] = ()) -> dict[str, Any]:
    """The `chat.completion` object answering a request for `model` with `result`.

    Example:
        ```python
        body = completion_body("self_consistency@8", result)
        body["choices"][0]["message"]["content"], body["usage"]["total_tokens"]
        ```
    """
    selected = result.selected
    return {
        "id": _new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer_text(result, stop),
                    "reasoning_content": selected.text if selected is not None else None,
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": _finish_reason(result),
            }
        ],
        "usage": usage_body(result),
        "reasoning_graph": result.model_dump(mode="json"),
    }


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying `data` as JSON."""
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


class ChunkWriter:
    """Writes the `chat.completion.chunk` events of one streamed reply, all with one id.

    With `include_usage`, every chunk carries `"usage": null` and `usage()` writes the last
    one, with empty `choices`, as OpenAI does.

    Example:
        ```python
        chunks = ChunkWriter("self_consistency@8", include_usage=True)
        chunks.role() + chunks.reasoning("plan: ...\\n") + b"".join(chunks.answer(result))
        ```
    """

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self._id = _new_id()
        self._created = int(time.time())
        self._model = model
        self._include_usage = include_usage

    def role(self) -> bytes:
        """The first chunk: the assistant role, no text yet."""
        return self._chunk({"role": "assistant", "content": ""})

    def reasoning(self, text: str) -> bytes:
        """A `reasoning_content` delta."""
        return self._chunk({"reasoning_content": text})

    def answer(self, result: Result, stop: Sequence[str] = ()) -> Iterator[bytes]:
        """The answer as `content` deltas, word by word, then the finishing chunk.

        The finishing chunk also carries the whole `Result` under `reasoning_graph`.
        """
        for piece in _PIECE.findall(answer_text(result, stop)):
            yield self._chunk({"content": piece})
        yield self._chunk(
            {},
            finish_reason=_finish_reason(result),
            extra={"reasoning_graph": result.model_dump(mode="json")},
        )

    def usage(self, result: Result) -> bytes:
        """The usage chunk, sent last when the client asked for it."""
        body = self._base()
        body.update(choices=[], usage=usage_body(result))
        return sse(body)

    def _base(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "system_fingerprint": None,
        }

    def _chunk(
        self,
        delta: dict[str, Any],
        *,
        finish_reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        body = self._base()
        body["choices"] = [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ]
        if self._include_usage:
            body["usage"] = None
        body.update(extra or {})
        return sse(body)


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"
