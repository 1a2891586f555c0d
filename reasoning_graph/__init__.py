"""reasoning-graph: test-time compute for LangGraph. Think longer instead of being bigger."""

from reasoning_graph.chat_model import ReasoningChatModel
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
from reasoning_graph.events import ReasoningEvent
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.result import Result
from reasoning_graph.solve import asolve, solve
from reasoning_graph.tool import reasoning_tool

__all__ = [
    "BudgetError",
    "ConfigurationError",
    "DeadlineExceededError",
    "ModelNotFoundError",
    "NoCandidatesError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailableError",
    "ReasoningChatModel",
    "ReasoningConfig",
    "ReasoningEvent",
    "ReasoningGraphError",
    "Result",
    "Strategy",
    "asolve",
    "create_reasoning_graph",
    "reasoning_tool",
    "solve",
]
