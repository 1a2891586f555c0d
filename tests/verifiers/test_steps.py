"""Tests of `split_steps` and `aggregate_step_scores`."""

from __future__ import annotations

import pytest

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.steps import aggregate_step_scores, split_steps


def test_split_on_blank_lines_drops_empty_steps_and_strips() -> None:
    text = "\n\n  Step one.  \n\n\n\nStep two\nstill two.\n\n   \n\nStep three.\n"
    assert split_steps(text) == ["Step one.", "Step two\nstill two.", "Step three."]


def test_split_with_a_custom_separator() -> None:
    assert split_steps("a ки b ки c ки", separator="ки") == ["a", "b", "c"]


def test_split_empty_text_has_no_steps() -> None:
    assert split_steps("") == []
    assert split_steps("\n\n \n\n") == []


def test_split_rejects_an_empty_separator() -> None:
    with pytest.raises(ConfigurationError, match="separator"):
        split_steps("a", separator="")


@pytest.mark.parametrize(
    ("how", "expected"),
    [("last", 0.8), ("min", 0.5), ("product", 0.9 * 0.5 * 0.8), ("mean", (0.9 + 0.5 + 0.8) / 3)],
)
def test_aggregations(how, expected) -> None:
    assert aggregate_step_scores([0.9, 0.5, 0.8], how) == pytest.approx(expected)


def test_default_aggregation_is_last() -> None:
    assert aggregate_step_scores([0.1, 0.7]) == 0.7


def test_aggregate_rejects_unknown_names_and_empty_scores() -> None:
    with pytest.raises(ConfigurationError, match="'last', 'min', 'product', 'mean'"):
        aggregate_step_scores([0.5], "median")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="empty"):
        aggregate_step_scores([], "last")
