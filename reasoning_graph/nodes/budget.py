"""The budget controller: plans the run, estimates difficulty, and decides the next move.

It runs first and after every `verify`. It never starts work that could exceed the budgets:
every generation reserves its `max_tokens` (plus the verifier's share when the plan scores
candidates) and its calls (one, plus its score's when the verifier calls a model), and
the controller shrinks the next step, or stops, when the rest of either budget cannot pay
for it. Once the run's deadline has passed it starts nothing new and goes to `select`.

The node itself only sequences small helpers: the first visit (`_open`: clean question,
plan), the difficulty estimate (`_estimate`: and `compute_optimal`'s plan swap), the
strategy's next action trimmed to the budget and the deadline (`_decide`), the controller's
counters (`_progress`) and the events (`_report`). What to do next is the strategy's call
(its registry row); why sampling stops travels on the action (`Action["stop"]`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import ReasoningConfig, clean_question
from reasoning_graph.difficulty import estimate_difficulty
from reasoning_graph.errors import ConfigurationError, DeadlineExceededError
from reasoning_graph.events import (
    BudgetEvent,
    DifficultyEvent,
    PlanEvent,
    PrunedEvent,
    emit,
    record,
)
from reasoning_graph.nodes.spend import calls_started, check_affordable, fit_to_budget
from reasoning_graph.policy import Policy, load_policy
from reasoning_graph.state import Action, Candidate, Event, Plan, ReasoningState
from reasoning_graph.strategies import (
    choose_plan,
    next_action,
    plan_inputs,
    policy_difficulty,
    prior_plan,
    select_action,
    strategy_spec,
)
from reasoning_graph.strategies.base import PlanInputs
from reasoning_graph.usage import TokenUsage, total_usage

__all__ = ["DEADLINE_KEY", "make_budget_node", "route_after_budget"]

DEADLINE_KEY = "reasoning_graph_deadline_at"
"""`configurable` key of a run config holding the run's deadline as a Unix time. `asolve`
sets it on every call, so a resumed run gets a fresh `deadline_s`; without it the controller
stamps `deadline_at` into the state on its first visit."""


class BudgetNode(Protocol):
    """The controller node: LangGraph passes the run config as `config`."""

    def __call__(
        self, state: ReasoningState, config: RunnableConfig
    ) -> Awaitable[dict[str, Any]]: ...


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


def _plan_record(plan: Plan) -> Event:
    """Stream the plan; its trace entry keeps every key of it."""
    event: PlanEvent = {
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
    return record("budget", event, **plan)


def _estimate(
    plan: Plan,
    candidates: Mapping[str, Candidate],
    policy: Policy | None,
    run: tuple[ReasoningConfig, PlanInputs],
) -> tuple[dict[str, Any], list[Event]]:
    """The difficulty of the first wave and, for a probe plan, the policy's plan for it
    (`run`: the run's config and planner inputs, from which a chosen step search is
    planned)."""
    first_wave = [c for c in candidates.values() if c["round"] == 0]
    difficulty = estimate_difficulty(first_wave, AnswerMatcher())
    update: dict[str, Any] = {}
    events: list[Event] = []
    if policy is not None:
        difficulty = policy_difficulty(plan, policy, first_wave, difficulty)
    if policy is not None and plan["phase"] == "probe" and difficulty["bin"] is not None:
        config, inputs = run
        update["plan"] = choose_plan(plan, policy, difficulty["bin"], config=config, inputs=inputs)
        events.append(_plan_record(update["plan"]))
    update["difficulty"] = difficulty
    live: DifficultyEvent = {
        "type": "difficulty",
        "score": difficulty["score"],
        "bin": difficulty["bin"],
        "agreement": difficulty["agreement"],
        "samples": difficulty["samples"],
    }
    events.append(record("budget", live, **difficulty))
    return update, events


def _decide(
    question: str,
    plan: Plan,
    state: ReasoningState,
    spent: tuple[int, int],
    deadline: float | None,
    deadline_s: float | None,
) -> Action:
    """The strategy's next action, trimmed to the budget, or `select` past the deadline."""
    candidates = state.get("candidates", {})
    wanted = next_action(
        question, plan, candidates, state.get("launched", 0), state.get("round", 0)
    )
    action = fit_to_budget(wanted, plan, spent[0], spent_calls=spent[1])
    if action["kind"] != "select" and deadline is not None and time.time() >= deadline:
        if not candidates:
            raise DeadlineExceededError(
                f"the deadline (deadline_s={deadline_s}) passed before any candidate was "
                "ready; raise deadline_s, or use a faster model or a smaller max_tokens"
            )
        action = select_action(
            f"deadline passed: selecting from {len(candidates)} candidate(s)", "deadline"
        )
    return action


def _progress(action: Action, plan: Plan, calls: int, *, step_search: bool) -> dict[str, Any]:
    """The controller's counters after `action`: the round it launches and, in step search
    (which counts calls by reservation), the calls reserved so far."""
    update: dict[str, Any] = {}
    if action["revise"]:
        update["round"] = action["revise"][0]["round"]
    if step_search and action["think"]:
        update["round"] = action["think"][0].get("round", 0)
        update["search_calls"] = calls + sum(
            len(t["ids"]) * t.get("reserve_calls", plan["calls_per_generation"])
            for t in action["think"]
        )
    return update


def _report(
    action: Action,
    plan: Plan,
    spent: tuple[int, int],
    made: TokenUsage,
    counters: tuple[int, int],
) -> list[Event]:
    """Stream and trace the decision: pruned beams, an early stop, the spend so far (`spent`:
    tokens and the calls `max_calls` counts; `made`: the usage reported so far), and
    `counters`: generations launched before this decision and started by it."""
    launched, started = counters
    events: list[Event] = []
    pruned = action.get("pruned", [])
    if action["think"] and pruned:
        step = action["think"][0].get("round", 0) - 1
        kept = action.get("kept", [])
        live: PrunedEvent = {"type": "pruned", "round": step, "pruned": pruned, "kept": kept}
        events.append(record("budget", live))
    stop = action.get("stop")
    if stop is not None and stop != "complete":
        emit(
            {
                "type": "early_stop",
                "reason": stop,
                "detail": action["reason"],
                "unspent": max(0, plan["n"] - launched),
            }
        )
    live_budget: BudgetEvent = {
        "type": "budget",
        "spent_tokens": spent[0],
        "llm_calls": made["llm_calls"],
        "requests": made["requests"],
        "spent_calls": spent[1],
        "budget_tokens": plan["budget_tokens"],
        "max_calls": plan["max_calls"],
        "launched": launched + started,
        "next": action["kind"],
        "generations": started,
    }
    events.append(record("budget", live_budget, kind="decision", reason=action["reason"]))
    return events


def _open(
    state: ReasoningState, settings: ReasoningConfig, first_plan: Callable[[str], Plan]
) -> tuple[str, Plan, dict[str, Any], list[Event]]:
    """The question and the plan; on the first visit, clean the one and make the other."""
    question = state.get("question", "")
    plan = state.get("plan")
    if plan is not None:
        if not isinstance(question, str) or not question.strip():
            raise ConfigurationError("the question is empty; pass the text of a question")
        return question, plan, {}, []
    cleaned = clean_question(question, max_chars=settings.max_question_chars)
    plan = check_affordable(first_plan(cleaned))
    update: dict[str, Any] = {"plan": plan}
    if cleaned != question:
        update["question"] = cleaned
    return cleaned, plan, update, [_plan_record(plan)]


def make_budget_node(
    config: ReasoningConfig,
    *,
    verifier_reserve: int,
    has_verifier: bool,
    step_verify: bool = False,
    verifier_calls: int | None = None,
) -> BudgetNode:
    """Build the controller node for a graph with this config and verifier.

    `step_verify` says the verifier scores each step (`StepVerifier`), which step search
    reserves one verifier share per step for. `verifier_calls` is the model calls one score
    costs (`calls_per_score(verifier)`); it defaults to 1 when the verifier reserves tokens,
    else 0.
    """
    settings = config
    policy = load_policy(settings.policy) if strategy_spec(settings.strategy).uses_policy else None
    inputs = plan_inputs(
        settings,
        verifier_reserve=verifier_reserve,
        has_verifier=has_verifier,
        policy=policy,
        step_verify=step_verify,
        verifier_calls=verifier_calls,
    )
    score_calls = inputs.verifier_calls  # 0 without a verifier

    def first_plan(question: str) -> Plan:
        plan = strategy_spec(settings.strategy).plan(settings, inputs)
        return plan if policy is None else prior_plan(plan, policy, question)

    async def budget(state: ReasoningState, config: RunnableConfig) -> dict[str, Any]:
        question, plan, update, events = _open(state, settings, first_plan)
        deadline, stamp = _deadline(settings, state, config)
        update.update(stamp)
        candidates = state.get("candidates", {})
        if "difficulty" not in state and candidates:
            estimated, more = _estimate(plan, candidates, policy, (settings, inputs))
            update.update(estimated)
            plan = estimated.get("plan", plan)
            events += more
        step_search = strategy_spec(plan["base"]).step_search
        calls = calls_started(state, verifier_calls=score_calls)
        if step_search:  # counted by reservation from the search's start (after a probe)
            calls = state.get("search_calls", calls)
        made = total_usage(state.get("usage", {}))
        spent = (made["completion_tokens"], calls)
        action = _decide(question, plan, state, spent, deadline, settings.deadline_s)
        launched = state.get("launched", 0)
        started = sum(len(t["ids"]) for t in action["think"]) + len(action["revise"])
        update.update(_progress(action, plan, calls, step_search=step_search))
        events += _report(action, plan, spent, made, (launched, started))
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
