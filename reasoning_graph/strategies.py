"""The strategies as plans: what each one samples next and how it selects. Pure functions.

The controller (`nodes/budget.py`) calls `make_plan` once per run and `next_action` after
every verify; this module never looks at the budget, the budget node trims what it returns.
Step-level search (`beam_search`, `lookahead`, `dvts`) is a further `next_action` branch
over the same state: every beam is a candidate (`parent_id`, `round` = step index, `chain` =
DVTS subtree), so the search state is plain data a checkpointer stores.
"""

from __future__ import annotations

from collections.abc import Mapping

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.policy import Policy, load_policy
from reasoning_graph.state import Action, Candidate, Plan, ReviseTask, Selection, ThinkTask
from reasoning_graph.stopping import should_stop

__all__ = [
    "REVISION_STRATEGIES",
    "SEARCH_STRATEGIES",
    "beam_width",
    "search_reserve",
    "chain_depth",
    "choose_plan",
    "make_plan",
    "next_action",
    "select_action",
]

REVISION_STRATEGIES = ("revision", "parallel_revision")
SEARCH_STRATEGIES = ("beam_search", "lookahead", "dvts")

_SELECTION: dict[str, Selection] = {
    "self_consistency": "majority",
    "best_of_n": "best_score",
    "weighted_vote": "weighted",
}


def _base_plan(
    base: str, n: int, chains: int | None, *, has_verifier: bool
) -> tuple[Selection, int]:
    """Selection and chain count of a base strategy."""
    if base in REVISION_STRATEGIES:
        selection: Selection = "weighted" if has_verifier else "last"
        count = 1 if base == "revision" else min(n, chains or max(1, round(n**0.5)))
        return selection, count
    return _SELECTION[base], 0


def make_plan(
    config: ReasoningConfig,
    *,
    verifier_reserve: int,
    has_verifier: bool,
    policy: Policy | None = None,
    step_verify: bool = False,
) -> Plan:
    """Turn a config into the run's plan.

    Revision strategies select with a verifier-weighted vote when a verifier is given and by
    a majority over the chains' last attempts otherwise. `compute_optimal` starts with a
    probe: `probe_n` samples voted like `self_consistency`, until `choose_plan` replaces it.
    """
    if config.strategy == "compute_optimal":
        policy = policy or load_policy(config.policy)
        probe = min(policy.probe_n, config.n)
        plan = _plan(
            config, "self_consistency", probe, "majority", 0, verifier_reserve, verify=has_verifier
        )
        return {
            **plan,
            "phase": "probe",
            "early_stop": "none",
            "wave_size": 0,
            "stop_confidence": policy.stop_confidence,
        }
    if config.strategy in SEARCH_STRATEGIES:
        return _search_plan(
            config,
            verifier_reserve,
            step_verify=step_verify,
            verifier_calls=has_verifier and verifier_reserve > 0,
        )
    selection, chains = _base_plan(
        config.strategy, config.n, config.chains, has_verifier=has_verifier
    )
    return _plan(
        config,
        config.strategy,
        config.n,
        selection,
        chains,
        verifier_reserve,
        verify=selection in ("best_score", "weighted"),
    )


def _plan(
    config: ReasoningConfig,
    base: str,
    n: int,
    selection: Selection,
    chains: int,
    verifier_reserve: int,
    *,
    verify: bool,
) -> Plan:
    early_stop = config.early_stop if selection == "majority" else "none"
    return {
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
        # A verifier that reserves no tokens calls no model (a programmatic check).
        "calls_per_generation": 1 + (1 if verify and verifier_reserve > 0 else 0),
        "early_stop": early_stop,
        "stop_confidence": config.stop_confidence,
        "wave_size": (config.wave_size or 4) if early_stop != "none" else 0,
        "logprobs": config.logprobs,
    }


def beam_width(n: int, configured: int | None) -> int:
    """Next steps per kept beam (M): `configured`, else min(4, round(sqrt(n))); at most n."""
    width = configured if configured is not None else min(4, max(1, round(n**0.5)))
    return max(1, min(width, n))


def search_reserve(plan: Plan, round_: int) -> tuple[int, int, int]:
    """What one new beam at step `round_` may cost: (rollout steps, tokens, calls).

    The step is one generation and its `lookahead` rollout (capped by `max_steps`) one
    more per step; a step verifier scores every step of the scored text (the beam and its
    rollout: `round_ + 1 + rollout` steps), a plain verifier the whole text once.
    """
    rollout = min(plan.get("lookahead", 0), plan["max_steps"] - round_ - 1)
    generations = 1 + max(0, rollout)
    scores = round_ + generations if plan.get("step_verify") else 1
    tokens = generations * plan["max_tokens"] + scores * plan.get("verifier_reserve", 0)
    calls = generations + (scores if plan.get("verifier_calls") else 0)
    return max(0, rollout), tokens, calls


def _search_plan(
    config: ReasoningConfig, verifier_reserve: int, *, step_verify: bool, verifier_calls: bool
) -> Plan:
    width = beam_width(config.n, config.beam_width)
    plan = _plan(config, config.strategy, config.n, "search", 0, verifier_reserve, verify=True)
    plan = {
        **plan,
        "chains": max(1, config.n // width) if config.strategy == "dvts" else 0,
        "max_tokens": config.step_tokens or config.max_tokens,
        "beam_width": width,
        "max_steps": config.max_steps,
        "lookahead": config.lookahead if config.strategy == "lookahead" else 0,
        "step_separator": config.step_separator,
        "step_aggregation": config.step_aggregation,
        "step_verify": step_verify,
        "verifier_reserve": verifier_reserve,
        "verifier_calls": verifier_calls,
    }
    _, tokens, calls = search_reserve(plan, 0)
    return {**plan, "reserve_per_generation": tokens, "calls_per_generation": calls}


def choose_plan(plan: Plan, policy: Policy, difficulty_bin: int, *, has_verifier: bool) -> Plan:
    """Replace a `compute_optimal` probe plan by the policy's plan for `difficulty_bin`.

    Plans that need a verifier fall back to `self_consistency` when there is none; the
    probe's samples count towards the chosen `n` (they are the first samples, or the chain
    starts of `parallel_revision`).
    """
    choice = policy.plan_for(difficulty_bin, plan["budget_n"])
    base: str = choice.strategy
    if base in ("best_of_n", "weighted_vote") and not has_verifier:
        base = "self_consistency"
    n = max(choice.n, plan["n"])
    if base == "parallel_revision":
        selection: Selection = "weighted" if has_verifier else "last"
        chains = plan["n"]
    else:
        selection, chains = _SELECTION[base], 0
    verify = selection in ("best_score", "weighted")
    early_stop = policy.early_stop if selection == "majority" else "none"
    return {
        **plan,
        "base": base,
        "phase": "chosen",
        "n": n,
        "chains": chains,
        "selection": selection,
        "verify": verify,
        "early_stop": early_stop,
        "wave_size": policy.wave_size if early_stop != "none" else 0,
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
            "logprobs": plan["logprobs"],
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


def _next_samples(
    question: str, plan: Plan, candidates: Mapping[str, Candidate], launched: int
) -> Action:
    remaining = plan["n"] - launched
    if remaining <= 0:
        return select_action("plan complete")
    if plan["early_stop"] != "none" and candidates:
        groups = AnswerMatcher().groups([c["answer"] for c in candidates.values()])
        counts = [len(g) for g in groups]
        if should_stop(
            counts, remaining, rule=plan["early_stop"], confidence=plan["stop_confidence"]
        ):
            return select_action(
                f"vote settled early ({plan['early_stop']}): {sorted(counts, reverse=True)} "
                f"with {remaining} sample(s) left unspent"
            )
    wave = min(remaining, plan["wave_size"] or remaining)
    # compute_optimal's probe samples start the chains if the policy picks parallel_revision.
    chains: list[int | None] = list(range(wave)) if plan["phase"] == "probe" else [None] * wave
    return {
        "kind": "think",
        "think": _fresh_samples(question, plan, launched, chains),
        "revise": [],
        "reason": f"sample {wave} solution(s)",
    }


def _score_key(candidate: Candidate) -> tuple[float, int]:
    """Best first: highest score (unscored last), then earliest started."""
    score = candidate["score"] if candidate["score"] is not None else -1.0
    number = candidate["id"][1:]
    return -score, int(number) if number.isdigit() else 0


def _step_tasks(
    question: str,
    plan: Plan,
    first: int,
    round_: int,
    parents: list[tuple[str | None, str, list[int | None]]],
) -> list[ThinkTask]:
    """Think tasks growing one next step per id: one task per parent (its children share
    the prompt), or one per id without `share_prompt`."""
    rollout, tokens, calls = search_reserve(plan, round_)
    tasks: list[ThinkTask] = []
    index = first
    for parent_id, partial, chains in parents:
        ids = [f"c{index + offset}" for offset in range(len(chains))]
        seeds = [plan["seed"] + index + offset for offset in range(len(chains))]
        index += len(chains)
        groups = (
            [(ids, seeds, chains)]
            if plan["share_prompt"]
            else [([i], [s], [c]) for i, s, c in zip(ids, seeds, chains, strict=True)]
        )
        for group_ids, group_seeds, group_chains in groups:
            tasks.append(
                {
                    "question": question,
                    "ids": group_ids,
                    "seeds": group_seeds,
                    "chains": group_chains,
                    "max_tokens": plan["max_tokens"],
                    "temperature": plan["temperature"],
                    "logprobs": plan["logprobs"],
                    "partial": partial,
                    "parent_id": parent_id,
                    "round": round_,
                    "step_separator": plan.get("step_separator", "\n\n"),
                    "final_step": round_ + 1 >= plan["max_steps"],
                    "rollout_steps": rollout,
                    "reserve_tokens": tokens,
                    "reserve_calls": calls,
                }
            )
    return tasks


def _next_search(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """Step search: first steps, then prune the latest step's active beams and expand.

    `beam_search`/`lookahead` keep the best `n // M` active beams of the latest step;
    `dvts` keeps the best active beam of each subtree (`chain`). Each kept beam grows `M`
    next steps. Beams that are complete, failed or not in the latest step are never grown.
    """
    n, width = plan["n"], plan.get("beam_width", 1)
    if launched == 0:
        subtrees = plan["chains"]
        chains: list[int | None] = (
            [i % subtrees for i in range(n)] if plan["base"] == "dvts" else [None] * n
        )
        return {
            "kind": "think",
            "think": _step_tasks(question, plan, 0, 0, [(None, "", chains)]),
            "revise": [],
            "reason": f"sample {n} first step(s)",
            "pruned": [],
            "kept": [],
        }
    active = sorted(
        (
            c
            for c in candidates.values()
            if c["round"] == last_round and not c.get("complete", False)
        ),
        key=_score_key,
    )
    if not active:
        return select_action("every beam is complete")
    if last_round + 1 >= plan["max_steps"]:
        return select_action(f"max_steps={plan['max_steps']} reached")
    if plan["base"] == "dvts":
        best: dict[int | None, Candidate] = {}
        for candidate in active:
            best.setdefault(candidate["chain"], candidate)
        kept = list(best.values())
    else:
        kept = active[: max(1, n // width)]
    kept_ids = {c["id"] for c in kept}
    pruned = [c["id"] for c in active if c["id"] not in kept_ids]
    parents: list[tuple[str | None, str, list[int | None]]] = [
        (c["id"], c["text"], [c["chain"]] * width) for c in kept
    ]
    return {
        "kind": "think",
        "think": _step_tasks(question, plan, launched, last_round + 1, parents),
        "revise": [],
        "reason": (
            f"step {last_round + 2}: keep {len(kept)} of {len(active)} beam(s), "
            f"{width} next step(s) each"
        ),
        "pruned": pruned,
        "kept": [c["id"] for c in kept],
    }


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
    if plan["base"] in SEARCH_STRATEGIES:
        return _next_search(question, plan, candidates, launched, last_round)
    if plan["base"] not in REVISION_STRATEGIES:
        return _next_samples(question, plan, candidates, launched)
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
