"""The budget controller: plans the run, estimates difficulty, and decides the next move.

It runs first and after every `verify`. It never starts work that could exceed the budgets:
every generation reserves its `max_tokens` (plus the verifier's share when the plan scores
candidates) and its calls (one, plus one for its score when the verifier calls a model), and
the controller shrinks the next step, or stops, when the rest of either budget cannot pay
for it. Once the run's deadline has passed it starts nothing new and goes to `select`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import ReasoningConfig, clean_question
from reasoning_graph.difficulty import estimate_difficulty
from reasoning_graph.errors import BudgetError, ConfigurationError, DeadlineExceededError
from reasoning_graph.events import StopReason, emit
from reasoning_graph.policy import Policy, load_policy
from reasoning_graph.state import Action, Difficulty, Event, Plan, ReasoningState, ThinkTask
from reasoning_graph.strategies import (
    REVISION_STRATEGIES,
    SEARCH_STRATEGIES,
    choose_plan,
    make_plan,
    next_action,
    select_action,
)
from reasoning_graph.usage import total_usage

__all__ = [
    "DEADLINE_KEY",
    "calls_started",
    "fit_to_budget",
    "make_budget_node",
    "route_after_budget",
]

DEADLINE_KEY = "reasoning_graph_deadline_at"
"""`configurable` key of a run config holding the run's deadline as a Unix time. `asolve`
sets it on every call, so a resumed run gets a fresh `deadline_s`; without it the controller
stamps `deadline_at` into the state on its first visit."""


class BudgetNode(Protocol):
    """The controller node: LangGraph passes the run config as `config`."""

    def __call__(
        self, state: ReasoningState, config: RunnableConfig
    ) -> Awaitable[dict[str, Any]]: ...


def calls_started(state: ReasoningState, *, verifier_calls: bool) -> int:
    """Model calls the run has started: every generation launched (failed ones included)
    and, when the verifier calls a model, every score made or attempted."""
    launched = state.get("launched", 0)
    if not verifier_calls:
        return launched
    scored = sum(1 for c in state.get("candidates", {}).values() if c["score"] is not None)
    failed = sum(
        len(f["candidate_ids"]) for f in state.get("failures", []) if f["node"] == "verify"
    )
    return launched + scored + failed


def fit_to_budget(action: Action, plan: Plan, spent_tokens: int, *, spent_calls: int = 0) -> Action:
    """Trim `action` to what the rest of the token and call budgets can pay for.

    Each generation reserves `plan["reserve_per_generation"]` tokens and
    `plan["calls_per_generation"]` calls. Later tasks and later samples within a task are
    dropped first; when nothing fits, the action becomes `select`.
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
        return select_action(f"budget spent ({', '.join(spent)})")
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


def _first_plan(
    config: ReasoningConfig,
    verifier_reserve: int,
    has_verifier: bool,
    policy: Policy | None,
    step_verify: bool = False,
) -> Plan:
    plan = make_plan(
        config,
        verifier_reserve=verifier_reserve,
        has_verifier=has_verifier,
        policy=policy,
        step_verify=step_verify,
    )
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


def _deadline(
    config: ReasoningConfig, state: ReasoningState, run_config: RunnableConfig
) -> tuple[float | None, dict[str, Any]]:
    """The run's deadline (Unix time) and the state update that stamps it, if any."""
    given = (run_config.get("configurable") or {}).get(DEADLINE_KEY)
    if isinstance(given, int | float):
        return float(given), {}
    stamped = state.get("deadline_at")
    if stamped is None and config.deadline_s is not None:
        stamped = time.time() + config.deadline_s
        return stamped, {"deadline_at": stamped}
    return stamped, {}


def make_budget_node(
    config: ReasoningConfig,
    *,
    verifier_reserve: int,
    has_verifier: bool,
    step_verify: bool = False,
) -> BudgetNode:
    """Build the controller node for a graph with this config and verifier.

    `step_verify` says the verifier scores each step (`StepVerifier`), which step search
    reserves one verifier share per step for.
    """
    settings = config
    policy = load_policy(settings.policy) if settings.strategy == "compute_optimal" else None
    verifier_calls = has_verifier and verifier_reserve > 0

    async def budget(state: ReasoningState, config: RunnableConfig) -> dict[str, Any]:
        question = state.get("question", "")
        update: dict[str, Any] = {}
        events: list[Event] = []
        plan = state.get("plan")
        if plan is None:
            cleaned = clean_question(question, max_chars=settings.max_question_chars)
            if cleaned != question:
                update["question"] = question = cleaned
            plan = _first_plan(settings, verifier_reserve, has_verifier, policy, step_verify)
            update["plan"] = plan
            events.append({"node": "budget", "kind": "plan", "data": dict(plan)})
            _emit_plan(plan)
        elif not isinstance(question, str) or not question.strip():
            raise ConfigurationError("the question is empty; pass the text of a question")
        deadline, stamp = _deadline(settings, state, config)
        update.update(stamp)
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
                _emit_plan(plan)
            update["difficulty"] = difficulty
            events.append({"node": "budget", "kind": "difficulty", "data": dict(difficulty)})
            _emit_difficulty(difficulty)
        launched = state.get("launched", 0)
        spent = total_usage(state.get("usage", {}))["completion_tokens"]
        search = plan["base"] in SEARCH_STRATEGIES
        # Step search counts the calls it reserved: a step score costs one call per step.
        calls = (
            state.get("search_calls", 0)
            if search
            else calls_started(state, verifier_calls=verifier_calls)
        )
        last_round = state.get("round", 0)
        wanted = next_action(question, plan, candidates, launched, last_round)
        action = fit_to_budget(wanted, plan, spent, spent_calls=calls)
        stop: StopReason | None = None
        if wanted["kind"] == "select":
            if launched < plan["n"] and plan["base"] not in (
                *REVISION_STRATEGIES,
                *SEARCH_STRATEGIES,
            ):
                stop = "confidence" if plan["early_stop"] == "confidence" else "settled"
        elif action["kind"] == "select":
            stop = "budget"
        if action["kind"] != "select" and deadline is not None and time.time() >= deadline:
            if not candidates:
                raise DeadlineExceededError(
                    f"the deadline (deadline_s={settings.deadline_s}) passed before any "
                    "candidate was ready; raise deadline_s, or use a faster model or a "
                    "smaller max_tokens"
                )
            action = select_action(
                f"deadline passed: selecting from {len(candidates)} candidate(s)"
            )
            stop = "deadline"
        started = sum(len(t["ids"]) for t in action["think"]) + len(action["revise"])
        if action["revise"]:
            update["round"] = action["revise"][0]["round"]
        if search and action["think"]:
            update["round"] = action["think"][0].get("round", 0)
            update["search_calls"] = calls + sum(
                len(t["ids"]) * t.get("reserve_calls", plan["calls_per_generation"])
                for t in action["think"]
            )
            pruned = action.get("pruned", [])
            if pruned:
                kept = action.get("kept", [])
                emit(
                    {
                        "type": "pruned",
                        "round": update["round"] - 1,
                        "pruned": pruned,
                        "kept": kept,
                    }
                )
                events.append(
                    {
                        "node": "budget",
                        "kind": "pruned",
                        "data": {"round": update["round"] - 1, "pruned": pruned, "kept": kept},
                    }
                )
        events.append(
            {
                "node": "budget",
                "kind": "decision",
                "data": {
                    "next": action["kind"],
                    "generations": started,
                    "reason": action["reason"],
                    "spent_tokens": spent,
                    "spent_calls": calls,
                },
            }
        )
        if stop is not None:
            emit(
                {
                    "type": "early_stop",
                    "reason": stop,
                    "detail": action["reason"],
                    "unspent": max(0, plan["n"] - launched),
                }
            )
        emit(
            {
                "type": "budget",
                "spent_tokens": spent,
                "spent_calls": calls,
                "budget_tokens": plan["budget_tokens"],
                "max_calls": plan["max_calls"],
                "launched": launched + started,
                "next": action["kind"],
                "generations": started,
            }
        )
        return {**update, "action": action, "launched": launched + started, "events": events}

    return budget


def _emit_plan(plan: Plan) -> None:
    emit(
        {
            "type": "plan",
            "strategy": plan["strategy"],
            "base": plan["base"],
            "phase": plan["phase"],
            "n": plan["n"],
            "chains": plan["chains"],
            "selection": plan["selection"],
            "verify": plan["verify"],
            "early_stop": plan["early_stop"],
            "budget_tokens": plan["budget_tokens"],
            "max_calls": plan["max_calls"],
        }
    )


def _emit_difficulty(difficulty: Difficulty) -> None:
    emit(
        {
            "type": "difficulty",
            "score": difficulty["score"],
            "bin": difficulty["bin"],
            "agreement": difficulty["agreement"],
            "samples": difficulty["samples"],
        }
    )


def route_after_budget(state: ReasoningState) -> list[Send] | Literal["select"]:
    """Fan the controller's action out as `Send`s to `think` or `revise`, or go to `select`."""
    action = state["action"]
    if action["kind"] == "think":
        return [Send("think", task) for task in action["think"]]
    if action["kind"] == "revise":
        return [Send("revise", task) for task in action["revise"]]
    return "select"
