"""`lazy_exports`: a package's public names, imported on first use.

`import reasoning_graph` must not pay for LangChain's chat model, the openai SDK or sympy
when a command needs none of them (`reasoning-graph --help` starts in a fraction of a
second). A package lists its names and the module each lives in; the module is imported the
first time the name is read (`reasoning_graph.solve`, `from reasoning_graph import solve`, a
star import), and the value is then bound in the package like an ordinary import.

It works by giving the package module a `ModuleType` subclass, the customisation Python
documents for module attribute access. The subclass also keeps a name from being replaced
by the submodule of the same name: importing `reasoning_graph.solve` (the module) binds it
as the package's `solve` attribute, which would hide the `solve` function; the function is
bound instead, as an eager `from reasoning_graph.solve import solve` in `__init__` would.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

__all__ = ["LazyPackage", "lazy_exports"]


class LazyPackage(ModuleType):
    """A package module whose `_lazy_exports` names are imported on first use."""

    _lazy_exports: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        module = self.__dict__.get("_lazy_exports", {}).get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(self, name, value)  # later reads are plain attribute reads
        return value

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_lazy_exports", {})})

    def __setattr__(self, name: str, value: Any) -> None:
        exports: Mapping[str, str] = self.__dict__.get("_lazy_exports", {})
        if isinstance(value, ModuleType) and exports.get(name) == value.__name__:
            value = getattr(value, name)  # the submodule `solve` must not hide `solve()`
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Make the names `exports` lists load on first use from the package `package`.

    Call it at the top level of the package's `__init__.py`; list the same names under
    `if typing.TYPE_CHECKING:` as ordinary imports, so type checkers see them.

    Args:
        package: The package's `__name__`.
        exports: Each public name and the module that defines it.

    Example:
        ```python
        lazy_exports(__name__, {"solve": "reasoning_graph.solve"})
        ```
    """
    module = sys.modules[package]
    module.__class__ = LazyPackage
    module.__dict__["_lazy_exports"] = dict(exports)
