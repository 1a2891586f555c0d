"""Step-level search: `beam_search`, `lookahead` and `dvts`.

The whole search runs in the graph's loop: `think` grows one step per id, `verify` scores the
steps, and after every verify `next_step_search` prunes the latest step's beams and expands
the kept ones. Every beam is a candidate (`parent_id`, `round` = step index, `chain` = DVTS
subtree, `complete`), so the search state is plain data a checkpointer stores. The search
part of the plan is `plan["search"]` (`SearchPlan`).

- `beam_search`: keep the best `n // M` active beams of the latest step, grow `M` each.
- `lookahead`: the same, but each new step is scored at the end of a greedy rollout.
- `dvts`: `n // M` subtrees, each keeping its one best beam and growing it `M` steps.

The helpers `search_reserve`, `step_tasks` and `score_key` serve any strategy that grows
steps (particle filtering reuses them).

A search chosen by a `compute_optimal` policy runs after the probe: its first steps are
round `search["first_round"]` (1; the probe's samples are round 0 and never beams), and its
size comes from `fit_search`, so that `search_generations`, its worst case, fits the
generations the probe left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoning_graph.state import Action, Candidate, Plan, SearchPlan, ThinkTask
from reasoning_graph.strategies.base import PlanInputs, base_plan, select_action, with_confidence

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = [
    "Parent",
    "beam_width",
    "first_steps",
    "fit_search",
    "next_step_search",
    "plan_beams",
    "plan_lookahead",
    "plan_step_search",
    "plan_subtrees",
    "score_key",
    "search_generations",
    "search_reserve",
    "search_started",
    "search_step",
    "step_rounds",
    "step_tasks",
]

Parent = tuple[str | None, str, list[int | None]]
"""A beam to grow: its id (`None` for the root), its text, and one chain slot per child."""


def beam_width(n: int, configured: int | None) -> int:
    """Next steps per kept beam (M): `configured`, else min(4, round(sqrt(n))); at most n."""
    width = configured if configured is not None else min(4, max(1, round(n**0.5)))
    return max(1, min(width, n))


def step_rounds(config: ReasoningConfig) -> int:
    """The round bound of step search: one round per step, on top of `n`."""
    return config.n + config.max_steps


def search_generations(width: int, max_steps: int, lookahead: int) -> int:
    """The most generations a search of `width` first steps can make in `max_steps` steps.

    Every step grows at most `width` new beams (beam search keeps `width // M` beams and
    grows `M` each; DVTS `width // M` subtrees of `M`; particle filtering `width` draws), and
    a new beam at step `k` (0-based) costs its step plus a rollout of
    `min(lookahead, max_steps - k - 1)` steps.
    """
    return sum(width * (1 + min(lookahead, max_steps - step - 1)) for step in range(max_steps))


def fit_search(
    width: int, max_steps: int, lookahead: int, generations: int
) -> tuple[int, int] | None:
    """The search size `(width, max_steps)` whose worst case fits in `generations`.

    `max_steps` drops first (a shorter search of the same width); when not even one step of
    `width` fits, the width drops to `generations` with one step. `None` when
    `generations` < 1.
    """
    if generations < 1:
        return None
    if width > generations:
        return generations, 1
    steps = max_steps
    while search_generations(width, steps, lookahead) > generations:
        steps -= 1
    return width, steps


def search_step(plan: Plan, round_: int) -> int:
    """The step index (0: first steps) of the controller's round `round_` in the search."""
    return round_ - plan["search"].get("first_round", 0)


def search_started(plan: Plan, launched: int, last_round: int) -> bool:
    """Whether the search has launched its first steps (after a probe, the probe's own
    generations and round come first)."""
    return launched > 0 and search_step(plan, last_round) >= 0


def search_reserve(plan: Plan, round_: int) -> tuple[int, int, int]:
    """What one new beam at round `round_` may cost: (rollout steps, tokens, calls).

    The step is one generation and its `lookahead` rollout (capped by `max_steps`) one
    more per step; a step verifier scores every step of the scored text (the beam and its
    rollout: `step + 1 + rollout` steps), a plain verifier the whole text once.
    """
    search = plan["search"]
    step = search_step(plan, round_)
    rollout = min(search["lookahead"], search["max_steps"] - step - 1)
    generations = 1 + max(0, rollout)
    scores = step + generations if search["step_verify"] else 1
    tokens = generations * plan["max_tokens"] + scores * search["verifier_reserve"]
    calls = generations + scores * int(search["verifier_calls"])  # a bool in older plans
    return max(0, rollout), tokens, calls


def plan_step_search(
    config: ReasoningConfig,
    inputs: PlanInputs,
    *,
    width: int,
    lookahead: int = 0,
    subtrees: int = 0,
) -> Plan:
    """A step-search plan: `width` next steps per kept beam, `subtrees` DVTS subtrees (0:
    none), `lookahead` greedy rollout steps behind each new step; selection `search`."""
    plan = base_plan(
        config,
        config.strategy,
        config.n,
        "search",
        subtrees,
        inputs.verifier_reserve,
        verify=True,
        verifier_calls=inputs.verifier_calls,
    )
    search: SearchPlan = {
        "beam_width": width,
        "max_steps": config.max_steps,
        "lookahead": lookahead,
        "step_separator": config.step_separator,
        "step_aggregation": config.step_aggregation,
        "step_verify": inputs.step_verify,
        "verifier_reserve": inputs.verifier_reserve,
        "verifier_calls": inputs.verifier_calls if inputs.has_verifier else 0,
    }
    plan = {**plan, "max_tokens": config.step_tokens or config.max_tokens, "search": search}
    _, tokens, calls = search_reserve(plan, 0)
    return {**plan, "reserve_per_generation": tokens, "calls_per_generation": calls}


def plan_beams(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`beam_search`: `M` = `beam_width(n, config.beam_width)`."""
    return plan_step_search(config, inputs, width=beam_width(config.n, config.beam_width))


def plan_lookahead(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`lookahead`: beam search with `config.lookahead` rollout steps behind each step."""
    width = beam_width(config.n, config.beam_width)
    return plan_step_search(config, inputs, width=width, lookahead=config.lookahead)


def plan_subtrees(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`dvts`: `n // M` independent subtrees."""
    width = beam_width(config.n, config.beam_width)
    return plan_step_search(config, inputs, width=width, subtrees=max(1, config.n // width))


def score_key(candidate: Candidate) -> tuple[float, int]:
    """Best first: highest score (unscored last), then earliest started."""
    score = candidate["score"] if candidate["score"] is not None else -1.0
    number = candidate["id"][1:]
    return -score, int(number) if number.isdigit() else 0


def step_tasks(
    question: str, plan: Plan, first: int, round_: int, parents: list[Parent]
) -> list[ThinkTask]:
    """Think tasks growing one next step per id (`c{first}`, ...): one task per parent (its
    children share the prompt), or one per id without `share_prompt`."""
    rollout, tokens, calls = search_reserve(plan, round_)
    search = plan["search"]
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
            task: ThinkTask = {
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
                "step_separator": search["step_separator"],
                "final_step": search_step(plan, round_) + 1 >= search["max_steps"],
                "rollout_steps": rollout,
                "reserve_tokens": tokens,
                "reserve_calls": calls,
            }
            tasks.append(with_confidence(task, plan))
    return tasks


def first_steps(question: str, plan: Plan, launched: int) -> Action:
    """`n` first steps, ids from `c{launched}` on; with subtrees, first step `i` roots subtree
    `i % subtrees`."""
    n, subtrees = plan["n"], plan["chains"]
    chains: list[int | None] = [i % subtrees for i in range(n)] if subtrees else [None] * n
    first_round = plan["search"].get("first_round", 0)
    return {
        "kind": "think",
        "think": step_tasks(question, plan, launched, first_round, [(None, "", chains)]),
        "revise": [],
        "reason": f"sample {n} first step(s)",
        "pruned": [],
        "kept": [],
    }


def next_step_search(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """First steps, then prune the latest step's active beams and expand the kept ones.

    Without subtrees the best `n // M` active beams of the latest step are kept; with
    subtrees (`dvts`), the best active beam of each. Each kept beam grows `M` next steps.
    Beams that are complete, failed or not in the latest step are never grown.
    """
    if not search_started(plan, launched, last_round):
        return first_steps(question, plan, launched)
    n, width = plan["n"], plan["search"]["beam_width"]
    active = sorted(
        (
            c
            for c in candidates.values()
            if c["round"] == last_round and not c.get("complete", False)
        ),
        key=score_key,
    )
    if not active:
        return select_action("every beam is complete", "complete")
    if search_step(plan, last_round) + 1 >= plan["search"]["max_steps"]:
        return select_action(f"max_steps={plan['search']['max_steps']} reached", "complete")
    if plan["chains"]:
        best: dict[int | None, Candidate] = {}
        for candidate in active:
            best.setdefault(candidate["chain"], candidate)
        kept = list(best.values())
    else:
        kept = active[: max(1, n // width)]
    kept_ids = {c["id"] for c in kept}
    parents: list[Parent] = [(c["id"], c["text"], [c["chain"]] * width) for c in kept]
    return {
        "kind": "think",
        "think": step_tasks(question, plan, launched, last_round + 1, parents),
        "revise": [],
        "reason": (
            f"step {search_step(plan, last_round) + 2}: keep {len(kept)} of {len(active)} beam(s), "
            f"{width} next step(s) each"
        ),
        "pruned": [c["id"] for c in active if c["id"] not in kept_ids],
        "kept": [c["id"] for c in kept],
    }
