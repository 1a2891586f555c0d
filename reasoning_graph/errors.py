"""The errors reasoning-graph raises, one tree rooted at `ReasoningGraphError`.

```
ReasoningGraphError            anything this library raises on purpose
├── ConfigurationError         bad options: fix the call or the config (also a ValueError)
├── BudgetError                the budget cannot pay for the work: raise it or ask for less
├── DeadlineExceededError      the deadline passed before any candidate was ready
├── ProviderError              a model backend failed
│   ├── ProviderUnavailableError   unreachable, or still failing after every retry
│   ├── ProviderResponseError      the backend answered with something unusable
│   └── ModelNotFoundError         the model or its weights are missing locally
└── NoCandidatesError          every branch failed; nothing to select from
```

Every message names the bad value or the cause and says what to do about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reasoning_graph.usage import TokenUsage

__all__ = [
    "BudgetError",
    "ConfigurationError",
    "DeadlineExceededError",
    "ModelNotFoundError",
    "NoCandidatesError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailableError",
    "ReasoningGraphError",
]


class ReasoningGraphError(Exception):
    """Base class of every error reasoning-graph raises on purpose."""


class ConfigurationError(ReasoningGraphError, ValueError):
    """An option or input is invalid; the message names it and the accepted values."""


class BudgetError(ReasoningGraphError):
    """The token or call budget cannot pay for even the smallest step of the plan.

    Raise `budget_tokens` or `max_calls`, or lower `max_tokens` so that one call fits.
    """


class DeadlineExceededError(ReasoningGraphError):
    """The run's `deadline_s` passed before any candidate was ready, so there is no answer.

    A run that has candidates when its deadline passes returns the best answer so far
    instead. Raise `deadline_s`, or use a faster model or a smaller `max_tokens`.
    """


class ProviderError(ReasoningGraphError):
    """A generator or verifier backend failed.

    Attributes:
        spent: The usage of the calls that succeeded within the failed operation before it
            failed (the other steps a step verifier graded, say): spent all the same, so the
            graph charges it. `None` when nothing was spent.
    """

    spent: TokenUsage | None = None


class ProviderUnavailableError(ProviderError):
    """The backend could not be reached, or kept failing after every retry."""


class ProviderResponseError(ProviderError):
    """The backend answered, but with something that cannot be used (a 4xx, a malformed body)."""


class ModelNotFoundError(ProviderError):
    """A local model file or package is missing; the message says how to install it."""


class NoCandidatesError(ReasoningGraphError):
    """No branch produced a candidate, so there is nothing to select; the cause is attached."""
