"""reasoning-graph: test-time compute for LangGraph. Think longer instead of being bigger.

The errors are imported here; every other name below is imported on first use
(`reasoning_graph.lazy`), so `import reasoning_graph` stays cheap.
"""

import typing

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
from reasoning_graph.lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from reasoning_graph.chat_model import ReasoningChatModel
    from reasoning_graph.config import ReasoningConfig, Strategy
    from reasoning_graph.events import ReasoningEvent
    from reasoning_graph.graph import create_reasoning_graph
    from reasoning_graph.reasoner import Reasoner
    from reasoning_graph.result import Result
    from reasoning_graph.solve import asolve, solve
    from reasoning_graph.tool import reasoning_tool
else:
    _lazy_exports(
        __name__,
        {
            "ReasoningChatModel": "reasoning_graph.chat_model",
            "ReasoningConfig": "reasoning_graph.config",
            "ReasoningEvent": "reasoning_graph.events",
            "Reasoner": "reasoning_graph.reasoner",
            "Result": "reasoning_graph.result",
            "Strategy": "reasoning_graph.config",
            "asolve": "reasoning_graph.solve",
            "create_reasoning_graph": "reasoning_graph.graph",
            "reasoning_tool": "reasoning_graph.tool",
            "solve": "reasoning_graph.solve",
        },
    )

__all__ = [
    "BudgetError",
    "ConfigurationError",
    "DeadlineExceededError",
    "ModelNotFoundError",
    "NoCandidatesError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailableError",
    "Reasoner",
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
