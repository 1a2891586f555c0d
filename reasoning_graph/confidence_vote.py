"""Selecting by token confidence: DeepConf's filtered and confidence-weighted voting.

Pure functions over candidates and a plan's `ConfidencePlan` (`Plan["confidence"]`, from
`ReasoningConfig.confidence_vote`, `confidence_filter` and `confidence_measure`):

- **top-eta filtering** (`keep_most_confident`): keep the candidates whose confidence is at
  least the `(1 - eta)` quantile of all of them (linear interpolation, numpy's default), as
  DeepConf's `filter_top_confidence` does: eta = 0.1 keeps the top 10%, at least one. Like
  DeepConf, it ranks only the candidates that state an answer (when any does): a trace
  without one cannot vote, so it takes no place among those kept.
- **confidence-weighted voting**: each vote weighs its candidate's confidence; a
  verifier-weighted vote weighs score times confidence.
- **consensus** (`consensus_weights`): the weights the `consensus` early stop compares.

They apply to the selections that vote over (or pick among) sampled solutions: `majority`,
`weighted` and `best_score`. When a candidate lacks a confidence (the provider returned no
logprobs, or none with alternatives), the selection runs as it would without the confidence
options, and `confidence_note` says so in one line, which `Result.notes` carries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from reasoning_graph.confidence import confidence_value
from reasoning_graph.state import Candidate, ConfidencePlan, Selection

__all__ = [
    "CONFIDENCE_SELECTIONS",
    "ConfidentVoters",
    "applies_to",
    "confidence_cut",
    "confidence_note",
    "confident_voters",
    "keep_most_confident",
    "vote_confidences",
]

CONFIDENCE_SELECTIONS: tuple[Selection, ...] = ("majority", "weighted", "best_score")
"""The selections the confidence options filter and weight."""


class ConfidentVoters(NamedTuple):
    """The candidates left to select from and the confidence each vote weighs."""

    voters: list[Candidate]
    confidences: list[float] | None
    """Per voter, the factor its vote weighs; `None`: votes are not confidence-weighted."""


def keep_most_confident(values: Sequence[float], keep: float) -> list[int]:
    """The indices of the most confident `keep` share of `values`, in their order.

    The cut is the `(1 - keep)` quantile with linear interpolation; every value at or above
    it is kept (ties at the cut included), so at least one is.

    Example:
        ```python
        keep_most_confident([3.0, 1.0, 4.0, 2.0], keep=0.5)  # [0, 2]: the cut is 2.5
        ```
    """
    if not values:
        return []
    cut = confidence_cut(values, keep)
    return [index for index, value in enumerate(values) if value >= cut]


def confidence_cut(values: Sequence[float], keep: float) -> float:
    """The `(1 - keep)` quantile of `values` (linear interpolation, numpy's default): the
    least confidence the most confident `keep` share clears. DeepConf's filter keeps the
    traces at or above it; its online mode stops a trace that falls below it.

    Raises:
        ValueError: `values` is empty.

    Example:
        ```python
        confidence_cut([3.0, 1.0, 4.0, 2.0], keep=0.5)  # 2.5
        ```
    """
    if not values:
        raise ValueError("no confidences to take a quantile of")
    ordered = sorted(values)
    position = (1.0 - keep) * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    cut = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return min(cut, ordered[-1])  # rounding must never lift the cut above the best


def vote_confidences(
    candidates: Sequence[Candidate], plan: ConfidencePlan | None
) -> list[float] | None:
    """Each candidate's confidence by the plan's measure; `None` unless all have one."""
    if plan is None or not candidates:
        return None
    values = []
    for candidate in candidates:
        record = candidate.get("confidence")
        if record is None:
            return None
        values.append(confidence_value(record, plan["measure"]))
    return values


def applies_to(plan: Mapping[str, Any]) -> bool:
    """Whether the confidence options can select in `plan`: a vote over (or a pick among)
    sampled solutions, not revision chains or a step search."""
    return (
        plan.get("selection") in CONFIDENCE_SELECTIONS
        and not plan.get("chains")
        and "search" not in plan
    )


def _selects(plan: Mapping[str, Any]) -> bool:
    settings = plan.get("confidence")
    return settings is not None and (settings["weighted"] or settings["keep"] is not None)


def confident_voters(candidates: Sequence[Candidate], plan: Mapping[str, Any]) -> ConfidentVoters:
    """Filter and weigh `candidates` as the plan's confidence options ask.

    Unchanged (no weights) when the plan asks for neither, when they do not apply to its
    selection (`applies_to`), or when some candidate has no confidence.
    """
    voters = list(candidates)
    settings: ConfidencePlan | None = plan.get("confidence")
    if settings is None or not _selects(plan) or not applies_to(plan):
        return ConfidentVoters(voters, None)
    values = vote_confidences(voters, settings)
    if values is None:
        return ConfidentVoters(voters, None)
    if settings["keep"] is not None:
        answered = [i for i, voter in enumerate(voters) if voter["answer"] is not None]
        if answered:  # as DeepConf does, the filter ranks the traces that can vote
            voters, values = [voters[i] for i in answered], [values[i] for i in answered]
        kept = keep_most_confident(values, settings["keep"])
        voters, values = [voters[i] for i in kept], [values[i] for i in kept]
    return ConfidentVoters(voters, values if settings["weighted"] else None)


def confidence_note(plan: Mapping[str, Any], candidates: Sequence[Candidate]) -> str | None:
    """One line on confidence that did not apply, or `None` when all went as asked.

    Said when logprobs were asked and some sampled candidates carry no confidence (the
    provider returned none), and when the confidence options were set but the plan does not
    select by a vote over samples (a `compute_optimal` policy chose revision chains).
    """
    if not plan.get("logprobs") or not candidates:
        return None
    selects = _selects(plan)
    if selects and not applies_to(plan):
        return (
            "confidence selection not applied: the plan selects among revision chains or "
            "search beams, not among samples"
        )
    sampled = [c for c in candidates if c["node"] == "think"]
    missing = sum(1 for c in sampled if c.get("confidence") is None)
    if not missing:
        return None
    consequence = ""
    if selects:
        consequence = "; the vote ignored confidence"
    elif plan.get("early_stop") == "consensus":
        consequence = "; the consensus early stop counted plain votes"
    if missing == len(sampled):
        return (
            f"no token confidence: the provider returned no logprobs with alternatives{consequence}"
        )
    return (
        f"{missing} of {len(sampled)} samples carry no token confidence (the provider "
        f"returned no logprobs with alternatives for them){consequence}"
    )
