"""Old import paths of names that moved, kept for one release with a `DeprecationWarning`.

The verifiers moved from `reasoning_graph.providers` to `reasoning_graph.verifiers`. An old
module path becomes a module whose `__getattr__` is `moved_to(...)`: every name read through
it warns, naming the new path, and returns the very object the new path holds.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved_to"]


def moved_to(old: str, new: str | Mapping[str, str]) -> Callable[[str], Any]:
    """Build a module `__getattr__` that forwards moved names with a `DeprecationWarning`.

    Args:
        old: The old module's name (its `__name__`).
        new: The module every name moved to, or a mapping from each moved name to the
            module it moved to (names not in it are not forwarded).

    Returns:
        The `__getattr__` to assign in the old module.

    Example:
        ```python
        __getattr__ = moved_to(__name__, "reasoning_graph.verifiers.llm_judge")
        ```
    """

    def __getattr__(name: str) -> Any:
        target = new if isinstance(new, str) else new.get(name)
        if target is None or name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(target), name)  # AttributeError if absent
        warnings.warn(
            f"{old}.{name} moved to {target}.{name}; import it from there "
            f"(the old path goes away in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    return __getattr__
