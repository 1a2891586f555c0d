"""Sampling strategies: `n` independent solutions, then a vote or the verifier's pick.

`self_consistency` (majority), `best_of_n` (highest verifier score) and `weighted_vote`
(votes weighted by verifier score) differ only in their selection, which their registry row
gives. A majority plan may stop early: it samples in waves and asks `stopping.should_stop`
before each wave whether the samples left could still change the winner (`consensus`: the
votes weighted by token confidence, `confidence_vote.vote_confidences`). With `online_stop`
the first `warmup` samples are a wave of their own, and the later ones carry the threshold
they set (`online_stop.watch_after_warmup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.confidence_vote import vote_confidences
from reasoning_graph.online_stop import watch_after_warmup
from reasoning_graph.state import Action, Candidate, Plan
from reasoning_graph.stopping import should_stop, vote_settled
from reasoning_graph.strategies.base import PlanInputs, base_plan, fresh_samples, select_action

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = ["next_samples", "plan_samples"]


def plan_samples(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`n` samples, selected as the registry row says; scored when the selection needs it."""
    return base_plan(
        config,
        config.strategy,
        config.n,
        inputs.selection,
        0,
        inputs.verifier_reserve,
        verify=inputs.selection in ("best_score", "weighted"),
        verifier_calls=inputs.verifier_calls,
    )


def next_samples(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """The next wave of samples, or `select` once `n` are out or the vote is settled.

    `compute_optimal`'s probe (`phase="probe"`) gives its samples chain numbers, so they
    can start the chains of a revision plan the policy picks afterwards.
    """
    remaining = plan["n"] - launched
    if remaining <= 0:
        return select_action("plan complete", "complete")
    if plan["early_stop"] != "none" and candidates:
        voters = list(candidates.values())
        groups = AnswerMatcher().groups([c["answer"] for c in voters])
        counts = [len(g) for g in groups]
        weights = None
        if plan["early_stop"] == "consensus":
            confidences = vote_confidences(voters, plan.get("confidence"))
            if confidences is not None:
                weights = [sum(confidences[i] for i in group) for group in groups]
        if should_stop(
            counts,
            remaining,
            rule=plan["early_stop"],
            confidence=plan["stop_confidence"],
            weights=weights,
        ):
            rule = plan["early_stop"]
            settled = rule == "settled" or (rule == "consensus" and vote_settled(counts, remaining))
            return select_action(
                f"vote settled early ({rule}): {sorted(counts, reverse=True)} "
                f"with {remaining} sample(s) left unspent",
                "settled" if settled else "confidence",
            )
    wave = min(remaining, plan["wave_size"] or remaining)
    online = plan.get("online_stop")
    if online is not None and launched < online["warmup"]:  # the warm-up is a wave of its own
        wave = min(wave, online["warmup"] - launched)
    chains: list[int | None] = list(range(wave)) if plan["phase"] == "probe" else [None] * wave
    tasks = fresh_samples(question, plan, launched, chains)
    return {
        "kind": "think",
        "think": watch_after_warmup(tasks, plan, list(candidates.values()), launched),
        "revise": [],
        "reason": f"sample {wave} solution(s)",
    }
