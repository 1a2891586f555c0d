"""Reasoning steps: split a solution into steps and fold per-step scores into one.

A step is a blank-line separated paragraph by default, as in the PRM papers and
search-and-learn. A process reward model scores every step; the search and the final
selection need one number per solution, which `aggregate_step_scores` makes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

from reasoning_graph.errors import ConfigurationError

__all__ = [
    "DEFAULT_STEP_SEPARATOR",
    "StepAggregation",
    "aggregate_step_scores",
    "split_steps",
]

DEFAULT_STEP_SEPARATOR = "\n\n"
"""Steps are separated by a blank line unless told otherwise."""

StepAggregation = Literal["last", "min", "product", "mean"]
"""How per-step scores become one solution score.

- `"last"`: the last step's score, which a PRM gives with the whole solution in view (the
  compute-optimal scaling paper's choice, and the default).
- `"min"`: the weakest step; a solution is as good as its worst step.
- `"product"`: the product of the step scores, the chance that every step is right if the
  scores were independent probabilities.
- `"mean"`: the average step score.
"""

_AGGREGATIONS: tuple[str, ...] = get_args(StepAggregation)


def split_steps(text: str, *, separator: str = DEFAULT_STEP_SEPARATOR) -> list[str]:
    """Split a solution into its reasoning steps.

    Args:
        text: The solution.
        separator: What separates two steps. Defaults to a blank line (`"\\n\\n"`); runs of
            more blank lines do not make empty steps.

    Returns:
        The steps in order, each stripped of surrounding whitespace; whitespace-only steps
        are dropped, so an empty text has no steps.

    Raises:
        ConfigurationError: `separator` is empty.

    Example:
        >>> split_steps("Add 2 and 2.\\n\\n\\n\\nThe answer is 4.\\n")
        ['Add 2 and 2.', 'The answer is 4.']
        >>> split_steps("a ; b", separator=";")
        ['a', 'b']
    """
    if not separator:
        raise ConfigurationError("separator is empty; pass the text between steps, e.g. '\\n\\n'.")
    return [step.strip() for step in text.split(separator) if step.strip()]


def check_aggregation(how: str) -> StepAggregation:
    """Return `how` when it names a `StepAggregation`, else raise `ConfigurationError`."""
    if how not in _AGGREGATIONS:
        raise ConfigurationError(
            f"aggregation={how!r} is not one of {', '.join(map(repr, _AGGREGATIONS))}."
        )
    return how  # type: ignore[return-value]  # checked just above


def aggregate_step_scores(scores: Sequence[float], how: StepAggregation = "last") -> float:
    """Fold per-step scores in [0, 1] into one solution score in [0, 1].

    Args:
        scores: One score per step, in step order.
        how: The aggregation; see `StepAggregation`. Defaults to `"last"`.

    Returns:
        The aggregated score.

    Raises:
        ConfigurationError: `how` is not a `StepAggregation`, or `scores` is empty (a
            solution with no step has nothing to score).

    Example:
        >>> aggregate_step_scores([0.9, 0.5, 0.8], "min")
        0.5
        >>> aggregate_step_scores([0.5, 0.5], "product")
        0.25
    """
    check_aggregation(how)
    if not scores:
        raise ConfigurationError("scores is empty; a solution needs at least one step to score.")
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "product":
        return float(math.prod(scores))
    return float(math.fsum(scores) / len(scores))
