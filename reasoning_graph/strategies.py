"""The strategies as plans: what each one samples next and how it selects. Pure functions.

The controller (`nodes/budget.py`) calls `make_plan` once per run and `next_action` after
every verify; this module never looks at the budget, the budget node trims what it returns.
Step-level search (`beam_search`, `lookahead`) and `compute_optimal` plug in here as further
`next_action` branches over the same state.
"""

from __future__ import annotations

from collections.abc import Mapping

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.state import Action, Candidate, Plan, ReviseTask, Selection, ThinkTask

__all__ = ["REVISION_STRATEGIES", "chain_depth", "make_plan", "next_action", "select_action"]

REVISION_STRATEGIES = ("revision", "parallel_revision")

_SELECTION: dict[str, Selection] = {
    "self_consistency": "majority",
    "best_of_n": "best_score",
    "weighted_vote": "weighted",
}


def make_plan(config: ReasoningConfig, *, verifier_reserve: int, has_verifier: bool) -> Plan:
    """Turn a config into the run's plan.

    Revision strategies select with a verifier-weighted vote when a verifier is given and by
    a majority over the chains' last attempts otherwise.
    """
    strategy = config.strategy
    if strategy in REVISION_STRATEGIES:
        selection: Selection = "weighted" if has_verifier else "last"
        if strategy == "revision":
            chains = 1
        else:
            chains = min(config.n, config.chains or max(1, round(config.n**0.5)))
    else:
        selection, chains = _SELECTION[strategy], 0
    verify = selection in ("best_score", "weighted")
    return {
        "strategy": strategy,
        "n": config.n,
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
    }


def chain_depth(plan: Plan, chain: int) -> int:
    """Attempts in revision chain `chain`: `n` shared as evenly as possible."""
    base, extra = divmod(plan["n"], plan["chains"])
    return base + (1 if chain < extra else 0)


def select_action(reason: str) -> Action:
    """The action that ends sampling and goes to `select`."""
    return {"kind": "select", "think": [], "revise": [], "reason": reason}


def _fresh_samples(
    question: str, plan: Plan, first: int, chains: list[int | None]
) -> list[ThinkTask]:
    ids = [f"c{first + offset}" for offset in range(len(chains))]
    seeds = [plan["seed"] + first + offset for offset in range(len(chains))]

    def task(ids: list[str], seeds: list[int], chains: list[int | None]) -> ThinkTask:
        return {
            "question": question,
            "ids": ids,
            "seeds": seeds,
            "chains": chains,
            "max_tokens": plan["max_tokens"],
            "temperature": plan["temperature"],
        }

    if plan["share_prompt"]:
        return [task(ids, seeds, chains)]
    return [task([i], [s], [c]) for i, s, c in zip(ids, seeds, chains, strict=True)]


def _by_chain(candidates: Mapping[str, Candidate]) -> dict[int, list[Candidate]]:
    chains: dict[int, list[Candidate]] = {}
    for candidate in candidates.values():
        if candidate["chain"] is not None:
            chains.setdefault(candidate["chain"], []).append(candidate)
    for attempts in chains.values():
        attempts.sort(key=lambda c: c["round"])
    return chains


def next_action(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """Return what to generate next, before any budget trimming.

    Args:
        question: The question being solved.
        plan: The run's plan.
        candidates: Every candidate so far, by id.
        launched: Generations started so far, failed ones included (ids and seeds count on
            from here, so a failed branch is never silently re-run).
        last_round: The revision round launched last; a chain whose attempt in that round
            failed has no candidate in it, and stops.
    """
    if plan["strategy"] not in REVISION_STRATEGIES:
        if launched >= plan["n"]:
            return select_action("plan complete")
        chains: list[int | None] = [None] * (plan["n"] - launched)
        return {
            "kind": "think",
            "think": _fresh_samples(question, plan, launched, chains),
            "revise": [],
            "reason": f"sample {len(chains)} solutions",
        }
    if launched == 0:
        return {
            "kind": "think",
            "think": _fresh_samples(question, plan, 0, list(range(plan["chains"]))),
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
        return select_action("every chain is complete")
    return {
        "kind": "revise",
        "think": [],
        "revise": tasks,
        "reason": f"revise {len(tasks)} chain(s), round {last_round + 1}",
    }
