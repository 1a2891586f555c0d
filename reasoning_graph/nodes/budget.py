"""The budget controller: plans the run, estimates difficulty, and decides the next move.

It runs first and after every `verify`. It never starts work that could exceed the token
budget: every generation reserves its `max_tokens` (plus the verifier's share when the plan
scores candidates), and the controller shrinks the next step, or stops, when the rest of the
budget cannot pay for it.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import Send

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.difficulty import estimate_difficulty
from reasoning_graph.errors import BudgetError, ConfigurationError
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.policy import Policy, load_policy
from reasoning_graph.state import Action, Event, Plan, ReasoningState, ThinkTask
from reasoning_graph.strategies import choose_plan, make_plan, next_action, select_action
from reasoning_graph.usage import total_usage

__all__ = ["fit_to_budget", "make_budget_node", "route_after_budget"]


def fit_to_budget(action: Action, plan: Plan, spent_tokens: int) -> Action:
    """Trim `action` to what the rest of the token budget can pay for.

    Each generation reserves `plan["reserve_per_generation"]` tokens. Later tasks and later
    samples within a task are dropped first; when nothing fits, the action becomes `select`.
    """
    budget = plan["budget_tokens"]
    if budget is None or action["kind"] == "select":
        return action
    affordable = max(0, budget - spent_tokens) // plan["reserve_per_generation"]
    think: list[ThinkTask] = []
    for task in action["think"]:
        take = min(affordable, len(task["ids"]))
        if take:
            think.append(
                {
                    **task,
                    "ids": task["ids"][:take],
                    "seeds": task["seeds"][:take],
                    "chains": task["chains"][:take],
                }
            )
        affordable -= take
    revise = action["revise"][:affordable]
    if not think and not revise:
        return select_action(f"budget spent ({spent_tokens} of {budget} completion tokens)")
    wanted = sum(len(t["ids"]) for t in action["think"]) + len(action["revise"])
    granted = sum(len(t["ids"]) for t in think) + len(revise)
    reason = action["reason"]
    if granted < wanted:
        reason += f" (trimmed from {wanted} to {granted} by the budget)"
    return {"kind": action["kind"], "think": think, "revise": revise, "reason": reason}


def _first_plan(
    config: ReasoningConfig, verifier_reserve: int, has_verifier: bool, policy: Policy | None
) -> Plan:
    plan = make_plan(
        config, verifier_reserve=verifier_reserve, has_verifier=has_verifier, policy=policy
    )
    budget = plan["budget_tokens"]
    if budget is not None and budget < plan["reserve_per_generation"]:
        raise BudgetError(
            f"budget_tokens={budget} cannot pay for one generation, which reserves "
            f"{plan['reserve_per_generation']} completion tokens (max_tokens="
            f"{plan['max_tokens']}{' plus the verifier' if plan['verify'] else ''}); "
            "raise budget_tokens or lower max_tokens"
        )
    return plan


def make_budget_node(
    config: ReasoningConfig, *, verifier_reserve: int, has_verifier: bool
) -> NodeFunction[ReasoningState]:
    """Build the controller node for a graph with this config and verifier."""
    policy = load_policy(config.policy) if config.strategy == "compute_optimal" else None

    async def budget(state: ReasoningState) -> dict[str, Any]:
        question = state.get("question", "")
        if not isinstance(question, str) or not question.strip():
            raise ConfigurationError("the question is empty; pass the text of a question")
        update: dict[str, Any] = {}
        events: list[Event] = []
        plan = state.get("plan")
        if plan is None:
            plan = _first_plan(config, verifier_reserve, has_verifier, policy)
            update["plan"] = plan
            events.append({"node": "budget", "kind": "plan", "data": dict(plan)})
        candidates = state.get("candidates", {})
        if "difficulty" not in state and candidates:
            first_wave = [c for c in candidates.values() if c["round"] == 0]
            difficulty = estimate_difficulty(first_wave, AnswerMatcher())
            if policy is not None and plan["phase"] == "probe":
                policy_bin = policy.bin_of(difficulty["score"])
                difficulty["bin"] = policy_bin
                plan = choose_plan(plan, policy, policy_bin, has_verifier=has_verifier)
                update["plan"] = plan
                events.append({"node": "budget", "kind": "plan", "data": dict(plan)})
            update["difficulty"] = difficulty
            events.append({"node": "budget", "kind": "difficulty", "data": dict(difficulty)})
        launched = state.get("launched", 0)
        spent = total_usage(state.get("usage", {}))["completion_tokens"]
        last_round = state.get("round", 0)
        action = fit_to_budget(
            next_action(question, plan, candidates, launched, last_round), plan, spent
        )
        started = sum(len(t["ids"]) for t in action["think"]) + len(action["revise"])
        if action["revise"]:
            update["round"] = action["revise"][0]["round"]
        events.append(
            {
                "node": "budget",
                "kind": "decision",
                "data": {
                    "next": action["kind"],
                    "generations": started,
                    "reason": action["reason"],
                    "spent_tokens": spent,
                },
            }
        )
        return {**update, "action": action, "launched": launched + started, "events": events}

    return budget


def route_after_budget(state: ReasoningState) -> list[Send] | Literal["select"]:
    """Fan the controller's action out as `Send`s to `think` or `revise`, or go to `select`."""
    action = state["action"]
    if action["kind"] == "think":
        return [Send("think", task) for task in action["think"]]
    if action["kind"] == "revise":
        return [Send("revise", task) for task in action["revise"]]
    return "select"
