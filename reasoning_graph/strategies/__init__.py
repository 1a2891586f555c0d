"""The strategies: one module per family and one registry table, `REGISTRY`, of their facts.

Every place that depends on which strategy runs asks the table: the graph (does it need a
verifier?), the controller (its planner, its next action, how calls are counted, whether it
loads a policy), `solve` (its round bound), the config and the CLI (the names), policies and
calibration (may a policy choose it, and how). Adding a strategy is one module and one row;
docs/architecture.md has the five steps.

| family | module | strategies |
|---|---|---|
| sampling | `sampling.py` | `self_consistency`, `best_of_n`, `weighted_vote` |
| revision | `revision.py` | `revision`, `parallel_revision` |
| step search | `step_search.py` | `beam_search`, `lookahead`, `dvts` |
| adaptive | `compute_optimal.py` | `compute_optimal` |
| step search, resampled | `particle_filtering.py` | `particle_filtering` |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, get_args

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.state import Action, Candidate, Plan
from reasoning_graph.strategies import (
    compute_optimal,
    particle_filtering,
    revision,
    sampling,
    step_search,
)
from reasoning_graph.strategies.base import (
    PlanInputs,
    StrategySpec,
    rounds_of_n,
    select_action,
)
from reasoning_graph.strategies.revision import chain_depth
from reasoning_graph.strategies.step_search import beam_width, search_reserve

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig
    from reasoning_graph.policy import Policy

__all__ = [
    "DEFAULT_STRATEGY",
    "POLICY_STRATEGIES",
    "POLICY_USERS",
    "REGISTRY",
    "STRATEGIES",
    "StrategyName",
    "StrategySpec",
    "beam_width",
    "chain_depth",
    "choose_plan",
    "describe_strategies",
    "make_plan",
    "next_action",
    "plan_inputs",
    "policy_difficulty",
    "prior_plan",
    "round_bound",
    "search_reserve",
    "select_action",
    "strategy_spec",
]

StrategyName = Literal[
    "self_consistency",
    "best_of_n",
    "weighted_vote",
    "revision",
    "parallel_revision",
    "compute_optimal",
    "beam_search",
    "lookahead",
    "dvts",
    "particle_filtering",
]
"""Every registered strategy's name, spelled out once more so type checkers (and editors)
check `strategy=...` arguments; `REGISTRY` must have exactly these keys, in this order (an
import-time check below, and tests/test_registry.py)."""

# One template per family; each row is its family's template and what differs.
_SAMPLING = StrategySpec(
    summary="`n` samples, majority vote on the extracted answer.",
    plan=sampling.plan_samples,
    next_action=sampling.next_samples,
    selection="majority",
    rounds=rounds_of_n,
    policy_choice="samples",
    confidence_selection=True,
    online_stop=True,
)
_REVISION = StrategySpec(
    summary="one chain of `n` attempts, each revising the earlier ones.",
    plan=revision.plan_one_chain,
    next_action=revision.next_revision,
    selection="weighted",
    unverified_selection="last",
    rounds=rounds_of_n,
)
_STEP_SEARCH = StrategySpec(
    summary=(
        "step-level search: `n` first steps, the verifier's step scores keep the best "
        "`n / beam_width` beams, each grows `beam_width` next steps, up to `max_steps` steps; "
        "a verifier-weighted vote over the completed beams picks the answer."
    ),
    plan=step_search.plan_beams,
    next_action=step_search.next_step_search,
    selection="search",
    rounds=step_search.step_rounds,
    needs_verifier=True,
    step_search=True,
    policy_choice="search",
)

REGISTRY: Mapping[str, StrategySpec] = MappingProxyType(
    {
        "self_consistency": _SAMPLING,
        "best_of_n": replace(
            _SAMPLING,
            summary="`n` samples, the verifier's highest score wins.",
            selection="best_score",
            needs_verifier=True,
        ),
        "weighted_vote": replace(
            _SAMPLING,
            summary="`n` samples, votes weighted by verifier score.",
            selection="weighted",
            needs_verifier=True,
        ),
        "revision": _REVISION,
        "parallel_revision": replace(
            _REVISION,
            summary="`chains` chains sharing `n` attempts between them.",
            plan=revision.plan_parallel_chains,
            policy_choice="chains",
        ),
        "compute_optimal": replace(
            _SAMPLING,  # the probe's samples; then the plan the policy chose runs
            summary=(
                "a probe of a few samples estimates the question's difficulty; a policy "
                "calibrated on data picks the plan for that difficulty and a budget of `n` "
                "generations, and sampling stops early once the vote is settled."
            ),
            plan=compute_optimal.probe_planner("self_consistency"),
            policy_choice=None,
            uses_policy=True,
        ),
        "beam_search": _STEP_SEARCH,
        "lookahead": replace(
            _STEP_SEARCH,
            summary=(
                "`beam_search` whose step scores are taken at the end of a `lookahead`-step "
                "greedy rollout of each new step (the rollout is scored, not kept)."
            ),
            plan=step_search.plan_lookahead,
        ),
        "dvts": replace(
            _STEP_SEARCH,
            summary=(
                "diverse verifier tree search: `n / beam_width` independent subtrees, each "
                "keeping its one best beam and growing it `beam_width` next steps."
            ),
            plan=step_search.plan_subtrees,
        ),
        "particle_filtering": replace(
            _STEP_SEARCH,
            summary=(
                "particle filtering (Puri et al. 2025): `n` particles grow a step at a time "
                "and are resampled after every step in proportion to their step rewards "
                "(softmax of the score logits), complete ones kept; a verifier-weighted vote "
                "over the complete particles picks the answer."
            ),
            plan=particle_filtering.plan_particles,
            next_action=particle_filtering.next_particles,
        ),
    }
)
"""Every strategy by name, in the order the CLI lists them."""

if tuple(REGISTRY) != get_args(StrategyName):
    raise ImportError(  # a programming error in this module, caught by any import of it
        f"REGISTRY names {tuple(REGISTRY)} differ from StrategyName {get_args(StrategyName)}"
    )

STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
DEFAULT_STRATEGY: StrategyName = "self_consistency"
POLICY_STRATEGIES: tuple[str, ...] = tuple(
    name for name, spec in REGISTRY.items() if spec.policy_choice is not None
)
"""The strategies a `compute_optimal` policy may choose."""
POLICY_USERS: tuple[str, ...] = tuple(name for name, spec in REGISTRY.items() if spec.uses_policy)
"""The strategies that read a policy file (`ReasoningConfig.policy`)."""


def describe_strategies() -> str:
    """Every strategy and what it does, one `- name: summary` line each.

    Example:
        ```python
        print(describe_strategies())  # "- self_consistency: `n` samples, majority vote ..."
        ```
    """
    return "\n".join(f"- {name}: {spec.summary}" for name, spec in REGISTRY.items())


def strategy_spec(name: str) -> StrategySpec:
    """The registry row of strategy `name`.

    Raises:
        ConfigurationError: `name` is not a strategy; the message lists them.
    """
    spec = REGISTRY.get(name)
    if spec is None:
        raise ConfigurationError(f"unknown strategy {name!r}; choose one of: {', '.join(REGISTRY)}")
    return spec


def plan_inputs(
    config: ReasoningConfig,
    *,
    verifier_reserve: int,
    has_verifier: bool,
    policy: Policy | None = None,
    step_verify: bool = False,
    verifier_calls: int | None = None,
) -> PlanInputs:
    """What the planner of `config.strategy`'s row knows besides the config (see `make_plan`
    for the arguments)."""
    if verifier_calls is None:
        verifier_calls = 1 if has_verifier and verifier_reserve > 0 else 0
    return PlanInputs(
        verifier_reserve=verifier_reserve,
        verifier_calls=verifier_calls if has_verifier else 0,
        has_verifier=has_verifier,
        step_verify=step_verify,
        selection=strategy_spec(config.strategy).selection_for(has_verifier),
        policy=policy,
    )


def make_plan(
    config: ReasoningConfig,
    *,
    verifier_reserve: int,
    has_verifier: bool,
    policy: Policy | None = None,
    step_verify: bool = False,
    verifier_calls: int | None = None,
) -> Plan:
    """Turn a config into the run's plan, with the planner of its strategy's row.

    Args:
        config: The run's config; `config.strategy` picks the row.
        verifier_reserve: Completion tokens one verifier score reserves.
        has_verifier: Whether the graph has a verifier (revision selects by it).
        policy: `compute_optimal`'s policy; defaults to the one `config.policy` names.
        step_verify: The verifier scores each step (step search reserves per step).
        verifier_calls: Model calls one verifier score costs (`calls_per_score`); defaults
            to 1 when the verifier reserves tokens, else 0.

    Example:
        ```python
        plan = make_plan(ReasoningConfig(n=8), verifier_reserve=0, has_verifier=False)
        plan["selection"], plan["n"]  # ("majority", 8)
        ```
    """
    inputs = plan_inputs(
        config,
        verifier_reserve=verifier_reserve,
        has_verifier=has_verifier,
        policy=policy,
        step_verify=step_verify,
        verifier_calls=verifier_calls,
    )
    return strategy_spec(config.strategy).plan(config, inputs)


def next_action(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """Return what to generate next, before any budget trimming, from the row of the
    strategy being run (`plan["base"]`).

    Args:
        question: The question being solved.
        plan: The run's plan.
        candidates: Every candidate so far, by id.
        launched: Generations started so far, failed ones included (ids and seeds count on
            from here, so a failed branch is never silently re-run).
        last_round: The round launched last (a revision round, a search step); a chain
            whose attempt in that round failed has no candidate in it, and stops.
    """
    spec = strategy_spec(plan["base"])
    return spec.next_action(question, plan, candidates, launched, last_round)


def choose_plan(
    plan: Plan, policy: Policy, difficulty_bin: int, *, config: ReasoningConfig, inputs: PlanInputs
) -> Plan:
    """Replace a probe plan by `policy`'s plan for `difficulty_bin` (see `compute_optimal`);
    `config` and `inputs` are the run's, from which a chosen step search is planned."""
    return compute_optimal.choose_plan(
        plan, policy, difficulty_bin, config=config, inputs=inputs, strategies=REGISTRY
    )


policy_difficulty = compute_optimal.policy_difficulty
prior_plan = compute_optimal.prior_plan


def round_bound(config: ReasoningConfig) -> int:
    """The most controller rounds a run of `config` can take (for the recursion limit)."""
    return strategy_spec(config.strategy).rounds(config)
