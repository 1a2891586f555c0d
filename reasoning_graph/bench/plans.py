"""Which `compute_optimal` plan a bench record measured, and what that plan costs.

A plan is keyed by `(strategy, n, shape)`: `n` is the most generations a `compute_optimal`
run of it spends, the probe included, which is what a budget is compared with.

- A sampling record (`self_consistency`, `best_of_n`, `weighted_vote`): its `n`; the probe's
  samples are its first.
- A `parallel_revision` record: its `n`, when it ran `probe_n` chains (the probe's samples
  start them); otherwise it is not a plan.
- A step search record (`beam_search`, `lookahead`, `dvts`, `particle_filtering`): the
  probe's `probe_n` plus the search's worst case, `search_generations` of the record's first
  steps (`n`), `max_steps` and `lookahead` (read from `record.plan["search"]`), since at run
  time the search runs after the probe and every step and rollout step is a generation;
  `shape` keeps what the policy needs to run it again. Its tokens are counted as the
  record's plus the probe's samples' (`fit_policy` adds them).
"""

from __future__ import annotations

from typing import Any

from reasoning_graph.bench.records import BenchRecord
from reasoning_graph.policy import PlanChoice
from reasoning_graph.strategies import REGISTRY
from reasoning_graph.strategies.step_search import search_generations

__all__ = ["PlanKey", "SearchShape", "plan_choice", "plan_key"]

SearchShape = tuple[int, int, int, int]
"""A benched step search: (first steps, max_steps, beam_width, lookahead)."""
PlanKey = tuple[str, int, SearchShape | None]
"""(strategy, most generations in all with the probe, step-search shape or `None`)."""


def plan_key(record: BenchRecord, probe_n: int) -> PlanKey | None:
    """The policy plan `record` measured, or `None` if a policy cannot choose it (a plan
    whose chains start from the probe must have run `probe_n` chains; a step search's
    record must say its shape, `plan["search"]`)."""
    spec = REGISTRY.get(record.strategy)
    if spec is None or spec.policy_choice is None:
        return None
    if spec.policy_choice == "chains" and (record.plan or {}).get("chains") != probe_n:
        return None
    if spec.policy_choice == "search":
        search = (record.plan or {}).get("search")
        if not isinstance(search, dict):
            return None
        shape = (record.n, search["max_steps"], search["beam_width"], search["lookahead"])
        generations = search_generations(record.n, shape[1], shape[3])
        return record.strategy, probe_n + generations, shape
    return record.strategy, record.n, None


def plan_choice(key: PlanKey, *, accuracy: float, tokens: float) -> PlanChoice:
    """The policy entry of plan `key`, with the accuracy and mean tokens it measured."""
    strategy, n, search = key
    shape: dict[str, Any] = {}
    if search is not None:
        beams, max_steps, beam_width, lookahead = search
        shape = {"beams": beams, "max_steps": max_steps, "beam_width": beam_width}
        if lookahead:
            shape["lookahead"] = lookahead
    return PlanChoice(
        strategy=strategy,
        n=n,
        **shape,
        accuracy=round(accuracy, 4),
        mean_completion_tokens=round(tokens, 1),
    )
