"""The interface every generator implements: `Generator`, and the completions it returns.

A generator samples chat completions. It is async and tiny, so a new backend is one file.
Results are pydantic models at this edge and plain dicts inside the graph state. The verifier
interfaces (`Verifier`, `StepVerifier`, `Verdict`, `StepVerdict`) live in
`reasoning_graph.verifiers.base`; reading them from here still works for one release, with a
`DeprecationWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.messages import ChatMessage
from reasoning_graph.providers._moved import moved_to as _moved_to
from reasoning_graph.usage import TokenUsage

__all__ = [
    "check_sampling",
    "ChatMessage",
    "Completion",
    "Generation",
    "Generator",
    "TokenLogprob",
]

__getattr__ = _moved_to(__name__, "reasoning_graph.verifiers.base")


class TokenLogprob(BaseModel):
    """A sampled token, its log-probability and the most likely alternatives."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    top_logprobs: dict[str, float] = Field(default_factory=dict)


class Completion(BaseModel):
    """One sampled completion.

    `completion_tokens` is exact when the server reported it for this completion alone
    (one completion per request) and `None` when only the request's total is known.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: str | None = None
    completion_tokens: int | None = None
    logprobs: list[TokenLogprob] | None = None
    seed: int | None = None


class Generation(BaseModel):
    """What one `Generator.generate` call returns: the completions and the exact spend."""

    model_config = ConfigDict(frozen=True)

    completions: list[Completion]
    usage: TokenUsage


@runtime_checkable
class Generator(Protocol):
    """Samples chat completions from a model.

    Implementations must return exactly `n` completions (or raise `ProviderError`), never
    produce more than `max_tokens` completion tokens per completion, and report the token
    usage of every request they made, retries excluded.
    """

    @property
    def model_name(self) -> str:
        """The model's name, for results and cache keys."""
        ...

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        n: int = 1,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
    ) -> Generation:
        """Sample `n` completions of `messages`."""
        ...


def check_sampling(
    n: int, max_tokens: int, top_logprobs: int = 0, *, max_top_logprobs: int | None = None
) -> None:
    """Raise `ConfigurationError` unless `n` and `max_tokens` are at least 1 and, when the
    backend caps it, `top_logprobs` is between 0 and `max_top_logprobs`."""
    top_ok = max_top_logprobs is None or 0 <= top_logprobs <= max_top_logprobs
    if n >= 1 and max_tokens >= 1 and top_ok:
        return
    message = f"n={n!r} and max_tokens={max_tokens!r} must be at least 1"
    if max_top_logprobs is not None:
        message += f", and top_logprobs={top_logprobs!r} between 0 and {max_top_logprobs}"
    raise ConfigurationError(message)
