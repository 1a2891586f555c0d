"""Revision strategies: chains of attempts, each revising its chain's earlier attempts.

`revision` is one chain of `n` attempts; `parallel_revision` shares `n` between `chains`
chains (the paper's sequential:parallel ratio). Each chain starts with a fresh sample; every
later round revises the last attempt of each chain that still has attempts to make. With a
verifier the answer is a verifier-weighted vote over every attempt, else a majority over the
chains' last attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoning_graph.state import Action, Candidate, Plan, ReviseTask
from reasoning_graph.strategies.base import PlanInputs, base_plan, fresh_samples, select_action

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = ["chain_depth", "next_revision", "plan_one_chain", "plan_parallel_chains"]


def _plan_chains(config: ReasoningConfig, inputs: PlanInputs, chains: int) -> Plan:
    return base_plan(
        config,
        config.strategy,
        config.n,
        inputs.selection,
        chains,
        inputs.verifier_reserve,
        verify=inputs.selection in ("best_score", "weighted"),
        verifier_calls=inputs.verifier_calls,
    )


def plan_one_chain(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """One chain of `n` attempts."""
    return _plan_chains(config, inputs, 1)


def plan_parallel_chains(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`chains` chains (default round(sqrt(n)), at most `n`) sharing `n` attempts."""
    return _plan_chains(
        config, inputs, min(config.n, config.chains or max(1, round(config.n**0.5)))
    )


def chain_depth(plan: Plan, chain: int) -> int:
    """Attempts in revision chain `chain`: `n` shared as evenly as possible."""
    base, extra = divmod(plan["n"], plan["chains"])
    return base + (1 if chain < extra else 0)


def _by_chain(candidates: Mapping[str, Candidate]) -> dict[int, list[Candidate]]:
    chains: dict[int, list[Candidate]] = {}
    for candidate in candidates.values():
        if candidate["chain"] is not None:
            chains.setdefault(candidate["chain"], []).append(candidate)
    for attempts in chains.values():
        attempts.sort(key=lambda c: c["round"])
    return chains


def next_revision(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """Start the chains, then revise every chain whose last attempt is in `last_round` and
    that has attempts left; a chain whose attempt failed has none in that round and stops."""
    if launched == 0:
        return {
            "kind": "think",
            "think": fresh_samples(question, plan, 0, list(range(plan["chains"]))),
            "revise": [],
            "reason": f"start {plan['chains']} revision chain(s)",
        }
    tasks: list[ReviseTask] = []
    for chain, attempts in sorted(_by_chain(candidates).items()):
        last = attempts[-1]
        if last["round"] != last_round or len(attempts) >= chain_depth(plan, chain):
            continue  # finished, or its last attempt failed
        index = launched + len(tasks)
        tasks.append(
            {
                "question": question,
                "id": f"c{index}",
                "seed": plan["seed"] + index,
                "chain": chain,
                "round": last_round + 1,
                "parent_id": last["id"],
                "attempts": [a["text"] for a in attempts[-plan["revision_context"] :]],
                "max_tokens": plan["max_tokens"],
                "temperature": plan["temperature"],
            }
        )
    if not tasks:
        return select_action("every chain is complete", "complete")
    return {
        "kind": "revise",
        "think": [],
        "revise": tasks,
        "reason": f"revise {len(tasks)} chain(s), round {last_round + 1}",
    }
