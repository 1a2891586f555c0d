"""Reading a streamed OpenAI chat completion while watching its confidence (DeepConf online).

`OpenAIProvider.generate(online_stop=...)` sends each sample as its own streamed request
(`stream=True`, with logprobs and `stream_options={"include_usage": True}`) and hands the
stream here. Every token's logprobs go to a `TraceMonitor`; once the trace's group
confidence falls below the threshold, the rest of the chunk is kept and the stream is
closed, which tells the server to stop generating.

Usage of a stream read to its end is the server's own final usage chunk (exact); when the
server sends none (llama-cpp-python's server), the tokens received (one per logprob entry),
or, without logprobs either, the upper bound (`max_tokens` completion tokens), as for a plain
request. A closed stream never gets its usage chunk: its completion tokens are the tokens
received, and its prompt tokens are the last a chunk reported (vLLM reports them in every
chunk with `continuous_usage_stats`), else 0. A server may still
generate a few tokens between the last chunk sent and noticing the closed connection; those
are not sent back, so they are not counted.

A server that streams no logprobs leaves the monitor nothing to watch: the trace runs to its
end, and its candidate has no token confidence (the confidence note says so).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from reasoning_graph.online_stop import STOP_REASON, TraceMonitor
from reasoning_graph.providers.base import Completion, Generation, TokenLogprob
from reasoning_graph.providers.retry import MalformedResponseError
from reasoning_graph.usage import TokenUsage

__all__ = ["read_chat_stream"]


async def read_chat_stream(
    stream: AsyncIterator[Any],
    *,
    monitor: TraceMonitor,
    max_tokens: int,
    seed: int | None,
    logprobs: bool,
) -> Generation:
    """Read one streamed completion (one choice), stopping it when `monitor` says so.

    Args:
        stream: The SDK's `AsyncStream` of `ChatCompletionChunk`s (closed here when cut).
        monitor: Watches this trace's tokens.
        max_tokens: The request's cap, charged when the server reports no usage.
        seed: The request's seed, recorded on the completion.
        logprobs: Return the tokens' logprobs on the completion.

    Returns:
        One completion (`finish_reason="low_confidence"` when cut) and its usage (one call).

    Raises:
        MalformedResponseError: The stream ended without a single choice (retried).
    """
    parts: list[str] = []
    tokens: list[TokenLogprob] = []
    finish: str | None = None
    usage: Any = None
    seen_choice = False
    async for chunk in stream:
        usage = getattr(chunk, "usage", None) or usage
        for choice in getattr(chunk, "choices", None) or []:
            seen_choice = True
            content = getattr(choice.delta, "content", None)
            if content:
                parts.append(content)
            finish = getattr(choice, "finish_reason", None) or finish
            for item in getattr(choice.logprobs, "content", None) or []:
                token = TokenLogprob(
                    token=item.token,
                    logprob=item.logprob,
                    top_logprobs={alt.token: alt.logprob for alt in item.top_logprobs or []},
                )
                tokens.append(token)
                monitor.observe(token)
        if monitor.stopped:
            break
    if monitor.stopped:
        await _close(stream)
    elif not seen_choice:
        raise MalformedResponseError(
            "streamed no choices for a chat completion request", reason="no_choices"
        )
    spent = _usage(usage, monitor.stopped, len(tokens), max_tokens)
    completion = Completion(
        text="".join(parts),
        finish_reason=STOP_REASON if monitor.stopped else finish,
        completion_tokens=spent["completion_tokens"],
        logprobs=tokens if logprobs and tokens else None,
        seed=seed,
    )
    return Generation(completions=[completion], usage=spent)


def _usage(reported: Any, stopped: bool, received: int, max_tokens: int) -> TokenUsage:
    prompt = getattr(reported, "prompt_tokens", None)
    completion = getattr(reported, "completion_tokens", None)
    prompt_tokens = prompt if isinstance(prompt, int) else 0
    if stopped or (received and not isinstance(completion, int)):
        # no usage chunk (it never comes to a closed stream): count the tokens received
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": received,
            "llm_calls": 1,
            "requests": 1,
        }
    if isinstance(completion, int):
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "llm_calls": 1,
            "requests": 1,
        }
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": max_tokens,
        "llm_calls": 1,
        "requests": 1,
    }


async def _close(stream: AsyncIterator[Any]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        await close()
