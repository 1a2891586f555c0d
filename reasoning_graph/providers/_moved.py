"""Old import paths of names that moved, kept for one release with a `DeprecationWarning`.

The verifiers moved from `reasoning_graph.providers` to `reasoning_graph.verifiers`. An old
path's module gets `__getattr__ = moved_to(__name__, NEW_MODULE)`: every public name of the
new module (its `__all__`) read through the old one warns, naming the new path, and is the
very object the new path holds.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["moved_to"]


def moved_to(old: str, new: str) -> Callable[[str], Any]:
    """Build a module `__getattr__` that forwards the names of `new` with a deprecation warning.

    Args:
        old: The old module's name (its `__name__`).
        new: The module the names moved to; the names of its `__all__` are forwarded, on
            first use (so the old module does not import the new one until asked).

    Returns:
        The `__getattr__` to assign in the old module; it raises `AttributeError` for any
        other name.

    Example:
        ```python
        __getattr__ = moved_to(__name__, "reasoning_graph.verifiers.llm_judge")
        ```
    """

    def __getattr__(name: str) -> Any:
        if not name.startswith("_"):
            target = importlib.import_module(new)
            if name in getattr(target, "__all__", ()):
                warnings.warn(
                    f"{old}.{name} moved to {new}.{name}; import it from there "
                    "(the old path goes away in the next release)",
                    DeprecationWarning,
                    stacklevel=2,
                )
                return getattr(target, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    return __getattr__
