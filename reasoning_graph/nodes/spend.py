"""What the budgets can still pay for: pure arithmetic over the plan and the spend so far.

Every generation reserves `plan["reserve_per_generation"]` completion tokens and
`plan["calls_per_generation"]` calls (a step-search think task says its own), so the
controller never starts work the rest of `budget_tokens` or `max_calls` could not pay for.
"""

from __future__ import annotations

from reasoning_graph.errors import BudgetError
from reasoning_graph.state import Action, Plan, ReasoningState, ThinkTask
from reasoning_graph.strategies import select_action

__all__ = ["calls_started", "check_affordable", "fit_to_budget"]


def calls_started(state: ReasoningState, *, verifier_calls: int) -> int:
    """Model calls the run has started: every generation launched (failed ones included)
    and `verifier_calls` per score made or attempted (0 when the verifier calls no model)."""
    launched = state.get("launched", 0)
    if not verifier_calls:
        return launched
    scored = sum(1 for c in state.get("candidates", {}).values() if c["score"] is not None)
    failed = sum(
        len(f["candidate_ids"]) for f in state.get("failures", []) if f["node"] == "verify"
    )
    return launched + verifier_calls * (scored + failed)


def fit_to_budget(action: Action, plan: Plan, spent_tokens: int, *, spent_calls: int = 0) -> Action:
    """Trim `action` to what the rest of the token and call budgets can pay for.

    Each generation reserves `plan["reserve_per_generation"]` tokens and
    `plan["calls_per_generation"]` calls (a think task may say its own). Later tasks and
    later samples within a task are dropped first; when nothing fits, the action becomes
    `select` with stop reason `budget`.
    """
    budget = plan["budget_tokens"]
    max_calls = plan.get("max_calls")
    if (budget is None and max_calls is None) or action["kind"] == "select":
        return action
    tokens_left = max(0, budget - spent_tokens) if budget is not None else None
    calls_left = max(0, max_calls - spent_calls) if max_calls is not None else None

    def affordable(tokens_each: int, calls_each: int) -> int:
        count = 1 << 62
        if tokens_left is not None:
            count = tokens_left // max(1, tokens_each)
        if calls_left is not None:
            count = min(count, calls_left // max(1, calls_each))
        return count

    think: list[ThinkTask] = []
    for task in action["think"]:
        tokens_each = task.get("reserve_tokens", plan["reserve_per_generation"])
        calls_each = task.get("reserve_calls", plan.get("calls_per_generation", 1))
        take = min(affordable(tokens_each, calls_each), len(task["ids"]))
        if take:
            think.append(
                {
                    **task,
                    "ids": task["ids"][:take],
                    "seeds": task["seeds"][:take],
                    "chains": task["chains"][:take],
                }
            )
            if tokens_left is not None:
                tokens_left -= take * tokens_each
            if calls_left is not None:
                calls_left -= take * calls_each
        if take < len(task["ids"]):
            tokens_left = calls_left = 0  # later work is dropped first
            break
    revise = action["revise"][
        : affordable(plan["reserve_per_generation"], plan.get("calls_per_generation", 1))
    ]
    if not think and not revise:
        spent = []
        if budget is not None:
            spent.append(f"{spent_tokens} of {budget} completion tokens")
        if max_calls is not None:
            spent.append(f"{spent_calls} of {max_calls} calls")
        return select_action(f"budget spent ({', '.join(spent)})", "budget")
    wanted = sum(len(t["ids"]) for t in action["think"]) + len(action["revise"])
    granted = sum(len(t["ids"]) for t in think) + len(revise)
    reason = action["reason"]
    if granted < wanted:
        reason += f" (trimmed from {wanted} to {granted} by the budget)"
    trimmed: Action = {"kind": action["kind"], "think": think, "revise": revise, "reason": reason}
    if "pruned" in action:
        trimmed["pruned"] = action["pruned"]
        trimmed["kept"] = action.get("kept", [])
    return trimmed


def check_affordable(plan: Plan) -> Plan:
    """`plan`, if its budgets pay for one generation; else a `BudgetError` before any call."""
    budget = plan["budget_tokens"]
    if budget is not None and budget < plan["reserve_per_generation"]:
        raise BudgetError(
            f"budget_tokens={budget} cannot pay for one generation, which reserves "
            f"{plan['reserve_per_generation']} completion tokens (max_tokens="
            f"{plan['max_tokens']}{' plus the verifier' if plan['verify'] else ''}); "
            "raise budget_tokens or lower max_tokens"
        )
    max_calls, per_generation = plan["max_calls"], plan["calls_per_generation"]
    if max_calls is not None and max_calls < per_generation:
        raise BudgetError(
            f"max_calls={max_calls} cannot pay for one generation and its verifier score "
            f"({per_generation} calls); raise max_calls"
        )
    return plan
