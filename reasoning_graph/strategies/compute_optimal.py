"""`compute_optimal`: a probe estimates the difficulty, a calibrated policy picks the plan.

The run starts with a probe plan (`phase="probe"`): the policy's `probe_n` samples, voted by
majority. Once they are back the controller estimates the question's difficulty, maps it to
the policy's bin and calls `choose_plan`, which swaps in the policy's plan for that bin and
budget (`phase="chosen"`; the strategy it runs is `plan["base"]`). The probe's samples count
towards the chosen plan: they are its first samples, or the starts of its chains, or, for a
step search, generations spent before it: the search gets what is left of the plan's `n`
(`_chosen_search`). See docs/compute-optimal.md.

With a policy `prior` (`reasoning_graph.prior`), `prior_plan` reads the question before the
probe: its prior is kept on the plan (`plan["prior"]`), and a question whose prior is below
`give_up_below` is given up: a one-sample plan, no probe (`plan["gave_up"]`). After the probe,
`policy_difficulty` combines the prior with the probe's agreement and confidence into the
continuous score the policy's bins cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.policy import PlanChoice, Policy, load_policy
from reasoning_graph.prior import difficulty_score, prior_probability, probe_signals
from reasoning_graph.state import Candidate, Difficulty, Plan
from reasoning_graph.strategies.base import (
    PlanInputs,
    Planner,
    StrategySpec,
    base_plan,
    with_online_stop,
)
from reasoning_graph.strategies.step_search import fit_search

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = ["choose_plan", "policy_difficulty", "prior_plan", "probe_planner"]

_LOGPROB_SIGNALS = frozenset({"confidence", "token_probability"})
"""Score-model inputs measured from token logprobs: a prior with them asks for logprobs."""


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
    config: ReasoningConfig,
    inputs: PlanInputs,
    strategies: Mapping[str, StrategySpec],
) -> Plan:
    """Replace a probe plan by the policy's plan for `difficulty_bin`.

    A plan that needs a verifier falls back to the probe's strategy when there is none, and
    a step search falls back to it when the probe left no generation for it.
    `strategies` is the registry, where the chosen strategy's selection and how a policy
    runs it are looked up; `config` and `inputs` are the run's (a step search is planned
    from them, with the policy's shape).
    """
    choice = policy.plan_for(difficulty_bin, plan["budget_n"])
    base = choice.strategy
    spec = strategies[base]
    has_verifier = inputs.has_verifier
    if spec.policy_choice == "search" and has_verifier:
        searched = _chosen_search(plan, choice, spec, config, inputs)
        if searched is not None:
            return searched
        # Nothing left to search with: `choice.n` <= the probe's n, which the plan keeps.
    if (spec.needs_verifier and not has_verifier) or spec.policy_choice == "search":
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


def _chosen_search(
    plan: Plan,
    choice: PlanChoice,
    spec: StrategySpec,
    config: ReasoningConfig,
    inputs: PlanInputs,
) -> Plan | None:
    """The step search `choice` names, planned by its row from the run's config with the
    policy's shape (`beams` first steps, `max_steps`, `beam_width`, `lookahead`), shrunk by
    `fit_search` until its worst case fits the `choice.n - plan["n"]` generations the probe
    left; its first steps are round 1. `None` when the probe left none."""
    if choice.beams is None or choice.max_steps is None:  # `PlanChoice` refuses this
        raise ConfigurationError(
            f"the policy's {choice.strategy} plan has no `beams` or `max_steps`; "
            "re-run `reasoning-graph calibrate`"
        )
    shape: dict[str, Any] = {"strategy": choice.strategy}
    if choice.beam_width is not None:
        shape["beam_width"] = choice.beam_width
    if choice.lookahead is not None:
        shape["lookahead"] = choice.lookahead
    row = config.model_copy(update=shape)
    lookahead = spec.plan(row, inputs)["search"]["lookahead"]  # 0 but for `lookahead`
    size = fit_search(choice.beams, choice.max_steps, lookahead, choice.n - plan["n"])
    if size is None:
        return None
    width, steps = size
    searched = spec.plan(row.model_copy(update={"n": width, "max_steps": steps}), inputs)
    return {
        **plan,
        **searched,
        "strategy": plan["strategy"],
        "phase": "chosen",
        "budget_n": plan["budget_n"],
        "search": {**searched["search"], "first_round": 1},
    }


def prior_plan(plan: Plan, policy: Policy, question: str) -> Plan:
    """A probe plan with the question's prior on it, or the give-up plan.

    Without a policy prior the plan is returned as it is. Below the prior's `give_up_below`
    the plan becomes one sample of the probe's strategy, chosen at once (no probe, no early
    stop): more samples would not find an answer the model cannot give. Otherwise the probe
    asks for logprobs when the prior's score model reads token confidence (a provider that
    returns none leaves those signals at their calibration means).
    """
    if policy.prior is None or plan["phase"] != "probe":
        return plan
    prior = prior_probability(policy.prior, question)
    threshold = policy.prior.give_up_below
    if threshold is None or prior >= threshold:
        wants_logprobs = bool(_LOGPROB_SIGNALS & set(policy.prior.score.inputs))
        return {**plan, "prior": prior, "logprobs": plan["logprobs"] or wants_logprobs}
    return {
        **plan,
        "prior": prior,
        "gave_up": True,
        "phase": "chosen",
        "n": 1,
        "early_stop": "none",
        "wave_size": 0,
    }


def policy_difficulty(
    plan: Plan, policy: Policy, wave: Sequence[Candidate], difficulty: Difficulty
) -> Difficulty:
    """The probe's `difficulty` scored and binned by `policy`.

    Without a prior the score stays the probe's and the bin is the policy's bin of it. With
    one, the score is the prior's continuous combination of `plan["prior"]` and the probe's
    signals (the probe's own score kept as `probe_score`); a question given up on is put in
    the policy's hardest bin.
    """
    if policy.prior is None:
        return {**difficulty, "bin": policy.bin_of(difficulty["score"])}
    confidences = [record["mean"] if (record := c.get("confidence")) else None for c in wave]
    signals = probe_signals(
        plan.get("prior"),
        agreement=difficulty["agreement"],
        confidences=confidences,
        token_probability=difficulty["token_confidence"],
        verifier=difficulty["mean_verifier_score"],
    )
    score = difficulty_score(policy.prior, signals)
    gave_up = plan.get("gave_up", False)
    return {
        **difficulty,
        "score": score,
        "bin": policy.hardest_bin if gave_up else policy.bin_of(score),
        "prior": plan.get("prior"),
        "probe_score": difficulty["score"],
        "confidence": signals["confidence"],
        "gave_up": gave_up,
    }
