"""The types every data set source shares: `Example`, `Dataset`, `Source`, and spec queries.

`reasoning_graph.bench.datasets` turns a spec into a `Dataset` through a small registry of
sources (file formats there, reasoning-gym in `reasoning_graph.bench.gym`); each source
builds on this module only, so the sources and the loader do not import each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field

from reasoning_graph.errors import ConfigurationError

__all__ = ["Dataset", "Example", "Source", "parse_query"]


class Example(BaseModel):
    """One question of a data set, with its gold answer."""

    model_config = ConfigDict(frozen=True)

    id: str
    question: str
    gold: str
    human_difficulty: str | None = None
    """The data set's own difficulty label (a MATH level, a reasoning-gym setting)."""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Dataset(ABC):
    """A named list of examples that knows how to grade an answer to each of them.

    Args:
        name: Short name, used in records and example ids.
        examples: The selected examples, in run order.
        spec: The spec the data set was loaded from; defaults to `name`.
    """

    def __init__(self, name: str, examples: Sequence[Example], *, spec: str | None = None):
        self.name = name
        self.examples = list(examples)
        self.spec = spec if spec is not None else name

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, examples={len(self.examples)})"

    @abstractmethod
    def grade(self, example: Example, predicted: str | None) -> bool:
        """Return whether `predicted` (a final answer, not a whole solution) is correct."""


@dataclass(frozen=True)
class Source:
    """A data set before selection: how many examples, and how to build a chosen few."""

    count: int
    build: Callable[[list[int]], Dataset]


def parse_query(query: str, spec: str) -> dict[str, str]:
    """Parse `a=1&b=x` keeping `+` literal (unlike `parse_qsl`); values stay text."""
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise ConfigurationError(f"{spec!r}: expected KEY=VALUE in the query, got {pair!r}")
        params[unquote(key)] = unquote(value)
    return params
