"""What every strategy is made of: the registry row type and the pieces the families share.

A strategy is a row of the registry (`strategies/__init__.py`): plain facts and two pure
functions, a planner (config -> `Plan`, once per run) and a next-action function (plan and
candidates so far -> `Action`, after every verify). Nothing here looks at the budget: the
controller trims what a strategy asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from reasoning_graph.state import (
    Action,
    Candidate,
    Plan,
    Selection,
    StopReason,
    ThinkTask,
)

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig
    from reasoning_graph.policy import Policy

__all__ = [
    "NextAction",
    "PlanInputs",
    "Planner",
    "PolicyChoice",
    "RoundBound",
    "StrategySpec",
    "base_plan",
    "fresh_samples",
    "rounds_of_n",
    "select_action",
    "with_confidence",
    "with_online_stop",
]

PolicyChoice = Literal["samples", "chains", "search"]
"""How a `compute_optimal` policy runs a strategy it chose: the probe's samples are its first
samples (`samples`), they start its chains (`chains`, so it runs `probe_n` chains), or a step
search runs after them, sized so that its worst case fits the generations the probe left
(`search`; the probe's samples are not beams; `compute_optimal.choose_plan`)."""


@dataclass(frozen=True)
class PlanInputs:
    """What a planner knows besides the config: the verifier and, for a policy, the policy."""

    verifier_reserve: int
    """Completion tokens one verifier score reserves (0 when the verifier generates none)."""
    verifier_calls: int
    """Model calls one verifier score (one step score) costs; 0 when it calls no model."""
    has_verifier: bool
    step_verify: bool
    """The verifier scores each step (`StepVerifier`)."""
    selection: Selection
    """The strategy's selection with this verifier (its registry row decides)."""
    policy: Policy | None = None


Planner = Callable[["ReasoningConfig", PlanInputs], Plan]
"""Turns the config into the run's plan (the controller calls it once, on its first visit)."""

NextAction = Callable[[str, Plan, Mapping[str, Candidate], int, int], Action]
"""`(question, plan, candidates, launched, last_round) -> Action`: what to generate next."""

RoundBound = Callable[["ReasoningConfig"], int]
"""The most controller rounds (budget -> think/revise -> verify) a run can take."""


@dataclass(frozen=True)
class StrategySpec:
    """One registry row: the facts the graph, the controller and the bench ask of a strategy."""

    summary: str
    """What it does, in one line (`describe_strategies` lists them)."""
    plan: Planner
    next_action: NextAction
    selection: Selection
    """How `select` aggregates the candidates (with a verifier, when that matters)."""
    rounds: RoundBound
    needs_verifier: bool = False
    """Without a verifier given, the graph grades with an `LLMJudge` over the generator."""
    unverified_selection: Selection | None = None
    """The selection without a verifier, when it differs (`None`: the same)."""
    policy_choice: PolicyChoice | None = None
    """Whether (and how) a `compute_optimal` policy may choose it; `None`: it may not."""
    uses_policy: bool = False
    """The controller loads the policy for it and replaces its probe plan by the policy's."""
    confidence_selection: bool = False
    """It votes over sampled solutions, so `confidence_vote` and `confidence_filter` may
    weight and filter its selection (and its samples carry token confidence)."""
    online_stop: bool = False
    """It draws fresh samples in waves after a warm-up (`sampling.next_samples`), so
    `online_stop` may cut the samples drawn after the warm-up."""
    step_search: bool = False
    """It grows solutions a step at a time (`think` tasks with `partial`, one controller
    round per step) and its calls are counted by what the controller reserved (a step
    score costs one call per step), not by the calls started."""

    def selection_for(self, has_verifier: bool) -> Selection:
        """The selection the strategy runs with, or without, a verifier."""
        if has_verifier or self.unverified_selection is None:
            return self.selection
        return self.unverified_selection


def rounds_of_n(config: ReasoningConfig) -> int:
    """The round bound of a strategy that spends its `n` generations at least one a round."""
    return config.n


def select_action(reason: str, stop: StopReason) -> Action:
    """The action that ends sampling and goes to `select`, saying why."""
    return {"kind": "select", "think": [], "revise": [], "reason": reason, "stop": stop}


def base_plan(
    config: ReasoningConfig,
    base: str,
    n: int,
    selection: Selection,
    chains: int,
    verifier_reserve: int,
    *,
    verify: bool,
    verifier_calls: int,
) -> Plan:
    """The plan keys every strategy has; `base` is the strategy being run. Each generation
    reserves its tokens and one call, plus, when `verify`, one verifier score's tokens and
    `verifier_calls` calls."""
    early_stop = config.early_stop if selection == "majority" else "none"
    plan: Plan = {
        "strategy": config.strategy,
        "base": base,
        "phase": "fixed",
        "budget_n": config.n,
        "n": n,
        "chains": chains,
        "share_prompt": config.share_prompt,
        "revision_context": config.revision_context,
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "seed": config.seed,
        "selection": selection,
        "verify": verify,
        "budget_tokens": config.budget_tokens,
        "reserve_per_generation": config.max_tokens + (verifier_reserve if verify else 0),
        "max_calls": config.max_calls,
        "calls_per_generation": 1 + (verifier_calls if verify else 0),
        "early_stop": early_stop,
        "stop_confidence": config.stop_confidence,
        "wave_size": (config.wave_size or 4) if early_stop != "none" else 0,
        "logprobs": config.wants_logprobs,
        "confidence": {
            "window": config.confidence_window,
            "tail": config.confidence_tail,
            "top_k": config.top_logprobs,
            "measure": config.confidence_measure,
            "weighted": config.confidence_vote,
            "keep": config.confidence_filter,
        },
    }
    return with_online_stop(plan, config, config.wave_size or 4)


def with_online_stop(plan: Plan, config: ReasoningConfig, warmup: int) -> Plan:
    """`plan` with its `online_stop` entry (the first `warmup` samples set the threshold)
    when the config asks for online trace termination; unchanged otherwise."""
    if config.online_stop is not None:
        plan["online_stop"] = {"keep": config.online_stop, "warmup": warmup}
    return plan


def with_confidence(task: ThinkTask, plan: Plan) -> ThinkTask:
    """`task` with the plan's confidence settings (how its candidates' confidence is
    measured) when it asks for logprobs; unchanged for a plan saved before plans had them
    (the defaults apply)."""
    settings = plan.get("confidence")
    if settings is not None and plan["logprobs"]:
        task["confidence"] = {
            "window": settings["window"],
            "tail": settings["tail"],
            "top_k": settings["top_k"],
        }
    return task


def fresh_samples(
    question: str, plan: Plan, first: int, chains: list[int | None]
) -> list[ThinkTask]:
    """Think tasks sampling whole solutions `c{first}`, ...: one per chain slot, one task
    in all when the prompt is shared (the server's `n`)."""
    ids = [f"c{first + offset}" for offset in range(len(chains))]
    seeds = [plan["seed"] + first + offset for offset in range(len(chains))]

    def task(ids: list[str], seeds: list[int], chains: list[int | None]) -> ThinkTask:
        return with_confidence(
            {
                "question": question,
                "ids": ids,
                "seeds": seeds,
                "chains": chains,
                "max_tokens": plan["max_tokens"],
                "temperature": plan["temperature"],
                "logprobs": plan["logprobs"],
            },
            plan,
        )

    if plan["share_prompt"]:
        return [task(ids, seeds, chains)]
    return [task([i], [s], [c]) for i, s, c in zip(ids, seeds, chains, strict=True)]
