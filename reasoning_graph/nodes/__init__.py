"""The graph's nodes: `budget` (the controller), `think`, `verify`, `revise`, `select`."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

__all__ = ["NodeFunction"]

StateT_contra = TypeVar("StateT_contra", contravariant=True)


class NodeFunction(Protocol[StateT_contra]):
    """An async node: takes its input state, returns a state update."""

    def __call__(self, state: StateT_contra) -> Awaitable[dict[str, Any]]: ...
