"""Saved threads: what a checkpointed run holds, and the settings it started with.

Every checkpoint of a run made by a `Reasoner` carries the run's settings (as JSON, under
`SETTINGS_KEY` in the run's `configurable`, which LangGraph saves with each checkpoint), so
that a later call on the same thread can continue with them: a resumed run finishes the run
that was begun, whatever options the later call gives. Those that differ are reported as
`IgnoredOption`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from pydantic import ValidationError

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.result import IgnoredOption

__all__ = ["PER_CALL", "SETTINGS_KEY", "SavedThread", "ignored_options", "read_thread"]

SETTINGS_KEY = "reasoning_graph_config"
"""The `configurable` key that carries a run's settings (JSON) into its checkpoints."""
PER_CALL = frozenset({"deadline_s", "max_question_chars"})
"""Settings a resumed run takes from the new call: they are about this call, not the run."""


@dataclass(frozen=True)
class SavedThread:
    """What a thread's checkpoints hold when a call starts."""

    values: Mapping[str, Any] | None
    """The saved state; `None` for a new thread."""
    pending: bool
    """Whether the run has work left (a crash, a deadline)."""
    settings: ReasoningConfig | None
    """The settings the run started with; `None` when its checkpoints do not say."""

    @property
    def finished(self) -> bool:
        """Whether the run ended with a selected answer (its result is stored)."""
        return self.values is not None and not self.pending and "selected_id" in self.values


async def read_thread(
    graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, question: str
) -> SavedThread:
    """Read thread `thread_id` through `graph`, compiled with the run's checkpointer.

    Raises:
        ConfigurationError: The checkpointer has no async methods, or the thread holds a
            run for another question.
    """
    try:
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    except NotImplementedError:
        raise ConfigurationError(
            "the checkpointer has no async methods (the sync SqliteSaver has none); use "
            "AsyncSqliteSaver, InMemorySaver or another async saver"
        ) from None
    values: Mapping[str, Any] = snapshot.values or {}
    if not values:
        return SavedThread(values=None, pending=False, settings=None)
    if values.get("question") != question:
        raise ConfigurationError(
            f"thread {thread_id!r} holds a run for another question; pass a new thread_id"
        )
    saved = (snapshot.metadata or {}).get(SETTINGS_KEY)
    try:
        settings = ReasoningConfig.model_validate_json(saved) if isinstance(saved, str) else None
    except ValidationError:
        settings = None  # saved by a version with other settings: nothing to compare
    return SavedThread(values=values, pending=bool(snapshot.next), settings=settings)


def ignored_options(given: ReasoningConfig, kept: ReasoningConfig | None) -> list[IgnoredOption]:
    """The settings of a call that differ from those a saved run started with (and keeps).

    `PER_CALL` settings are about the call, so they never count.

    Example:
        ```python
        ignored_options(ReasoningConfig(n=8), ReasoningConfig(n=4))
        # [IgnoredOption(name="n", given=8, kept=4)]
        ```
    """
    if kept is None:
        return []
    return [
        IgnoredOption(name=name, given=getattr(given, name), kept=getattr(kept, name))
        for name in ReasoningConfig.model_fields
        if name not in PER_CALL and getattr(given, name) != getattr(kept, name)
    ]
