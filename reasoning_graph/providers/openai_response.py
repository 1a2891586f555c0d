"""Reading an OpenAI chat completion (the `openai` SDK's `ChatCompletion`) into a `Generation`.

`OpenAIProvider` (in `openai.py`) makes the requests and hands each answer here, inside its
retry loop: what raises `MalformedResponseError` is worth another attempt, what raises
`ValueError` is final.
"""

from __future__ import annotations

from openai.types.chat import ChatCompletion

from reasoning_graph.providers.base import Completion, Generation, TokenLogprob
from reasoning_graph.providers.retry import MalformedResponseError
from reasoning_graph.usage import TokenUsage

__all__ = ["read_chat_completion"]


def read_chat_completion(
    response: object, *, max_tokens: int, n: int, seed: int | None
) -> Generation:
    """Check a chat completion's shape and turn it into completions and usage.

    Args:
        response: What `client.chat.completions.create` returned.
        max_tokens: The request's cap, charged per choice when the server reports no usage.
        n: Completions asked for; a server may send more (dropped, but charged).
        seed: The request's seed, recorded on each completion.

    Returns:
        At most `n` completions and the request's usage: one request, and one call per
        completion returned (choices beyond `n` are charged their tokens, not a call).

    Raises:
        ValueError: Not a chat completion at all: a body that is not JSON by its content
            type (a web page) or JSON without a `choices` list (a wrong `base_url`). Final.
        MalformedResponseError: An empty `choices` list, or a choice without a message:
            a hiccup the next attempt may not repeat (retried).
    """
    if isinstance(response, str):  # the SDK hands back the text of a non-JSON content type
        raise ValueError(f"a body that is not JSON: {response[:80]!r}")
    choices = getattr(response, "choices", None)
    if not isinstance(response, ChatCompletion) or not isinstance(choices, list):
        raise ValueError(f"JSON without a 'choices' list: {str(response)[:80]!r}")
    if not choices:
        raise MalformedResponseError(
            "returned no choices for a chat completion request", reason="no_choices"
        )
    usage = getattr(response, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    per_choice: int | None = None
    calls = min(n, len(choices))
    if isinstance(prompt, int) and isinstance(completion, int):
        spent: TokenUsage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "llm_calls": calls,
            "requests": 1,
        }
        per_choice = completion if len(choices) == 1 else None
    else:  # no usage reported: charge the most the request may have spent
        spent = {
            "prompt_tokens": 0,
            "completion_tokens": max_tokens * len(choices),
            "llm_calls": calls,
            "requests": 1,
        }
    try:
        completions = [
            Completion(
                text=choice.message.content or "",
                finish_reason=getattr(choice, "finish_reason", None),
                completion_tokens=per_choice,
                logprobs=_parse_logprobs(getattr(choice, "logprobs", None)),
                seed=seed,
            )
            for choice in choices[:n]  # a server may send more than asked; usage counts all
        ]
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            f"returned a malformed choice ({exc})", reason="malformed_choice"
        ) from exc
    return Generation(completions=completions, usage=spent)


def _parse_logprobs(raw: object) -> list[TokenLogprob] | None:
    """Read `choice.logprobs.content` into `TokenLogprob`s, or `None` when absent."""
    content = getattr(raw, "content", None)
    if content is None:
        return None
    return [
        TokenLogprob(
            token=item.token,
            logprob=item.logprob,
            top_logprobs={alt.token: alt.logprob for alt in item.top_logprobs or []},
        )
        for item in content
    ]
