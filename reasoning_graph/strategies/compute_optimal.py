"""`compute_optimal`: a probe estimates the difficulty, a calibrated policy picks the plan.

The run starts with a probe plan (`phase="probe"`): the policy's `probe_n` samples, voted by
majority. Once they are back the controller estimates the question's difficulty, maps it to
the policy's bin and calls `choose_plan`, which swaps in the policy's plan for that bin and
budget (`phase="chosen"`; the strategy it runs is `plan["base"]`). The probe's samples count
towards the chosen plan: they are its first samples, or the starts of its chains. See
docs/compute-optimal.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoning_graph.policy import Policy, load_policy
from reasoning_graph.state import Plan
from reasoning_graph.strategies.base import (
    PlanInputs,
    Planner,
    StrategySpec,
    base_plan,
    with_online_stop,
)

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = ["choose_plan", "probe_planner"]


def probe_planner(probe: str) -> Planner:
    """The planner of a `compute_optimal` run whose probe is strategy `probe`'s samples."""

    def plan_probe(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
        policy = inputs.policy or load_policy(config.policy)
        n = min(policy.probe_n, config.n)
        plan = base_plan(
            config,
            probe,
            n,
            inputs.selection,
            0,
            inputs.verifier_reserve,
            verify=inputs.has_verifier,
            verifier_calls=inputs.verifier_calls,
        )
        probe_plan: Plan = {
            **plan,
            "phase": "probe",
            "early_stop": "none",
            "wave_size": 0,
            "stop_confidence": policy.stop_confidence,
        }
        return with_online_stop(probe_plan, config, n)  # the probe is the warm-up

    return plan_probe


def choose_plan(
    plan: Plan,
    policy: Policy,
    difficulty_bin: int,
    *,
    has_verifier: bool,
    strategies: Mapping[str, StrategySpec],
) -> Plan:
    """Replace a probe plan by the policy's plan for `difficulty_bin`.

    A plan that needs a verifier falls back to the probe's strategy when there is none.
    `strategies` is the registry, where the chosen strategy's selection and how a policy
    runs it are looked up.
    """
    choice = policy.plan_for(difficulty_bin, plan["budget_n"])
    base = choice.strategy
    spec = strategies[base]
    if spec.needs_verifier and not has_verifier:
        base = plan["base"]
        spec = strategies[base]
    selection = spec.selection_for(has_verifier)
    early_stop = policy.early_stop if selection == "majority" else "none"
    return {
        **plan,
        "base": base,
        "phase": "chosen",
        "n": max(choice.n, plan["n"]),
        "chains": plan["n"] if spec.policy_choice == "chains" else 0,
        "selection": selection,
        "verify": selection in ("best_score", "weighted"),
        "early_stop": early_stop,
        "wave_size": policy.wave_size if early_stop != "none" else 0,
    }
