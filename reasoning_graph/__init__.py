"""reasoning-graph: test-time compute for LangGraph. Think longer instead of being bigger."""

from reasoning_graph.config import ReasoningConfig, Strategy
from reasoning_graph.errors import (
    BudgetError,
    ConfigurationError,
    DeadlineExceededError,
    ModelNotFoundError,
    NoCandidatesError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
    ReasoningGraphError,
)
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.result import Result
from reasoning_graph.solve import asolve, solve

__all__ = [
    "BudgetError",
    "ConfigurationError",
    "DeadlineExceededError",
    "ModelNotFoundError",
    "NoCandidatesError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailableError",
    "ReasoningConfig",
    "ReasoningGraphError",
    "Result",
    "Strategy",
    "asolve",
    "create_reasoning_graph",
    "solve",
]
