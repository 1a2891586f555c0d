"""`particle_filtering`: step search that resamples instead of pruning (Puri et al. 2025).

"A Probabilistic Inference Approach to Inference-Time Scaling of LLMs using Particle-Based
Monte Carlo Methods"; its_hub's `ParticleFiltering` is the reference implementation. `n`
particles grow one step at a time (`think` grows, `verify` scores, as in beam search). After
every step each particle gets a weight from its step reward, the verifier's aggregated
score `s`: softmax over the logits `log(s / (1 - s))` (as its_hub; `s` clipped to
[1e-7, 1 - 1e-7], an unscored particle counts as 0). Then `n` particles are drawn with
replacement in proportion to the weights: a particle drawn `k` times grows `k` next steps,
and a complete particle that is drawn stays in the population as it is, once per draw, so
finished solutions keep competing with growing ones. Unlike beam search's hard cut, a
weak-looking particle keeps a chance of being grown. The run ends when every draw is a
complete particle, or at `max_steps`.

The draws are seeded by the plan's seed and the step, and the population is a pure function
of the candidates: every visit replays the draws of the earlier steps from the candidates'
scores, so nothing but the candidates is stored and a resumed run draws the same particles.
The answer is the `search` selection: a verifier-weighted vote over the complete particles
(its_hub picks the single particle of highest weight by default; the weighted vote is the
aggregation this package's other step searches use, so they compare like for like).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reasoning_graph.state import Action, Candidate, Plan, candidate_order
from reasoning_graph.strategies.base import PlanInputs, select_action
from reasoning_graph.strategies.step_search import (
    Parent,
    first_steps,
    plan_step_search,
    score_key,
    search_started,
    search_step,
    step_tasks,
)

if TYPE_CHECKING:
    from reasoning_graph.config import ReasoningConfig

__all__ = ["next_particles", "particle_weights", "plan_particles", "population", "resample"]

_CLIP = 1e-7


def plan_particles(config: ReasoningConfig, inputs: PlanInputs) -> Plan:
    """`n` particles, each draw growing one next step (`beam_width` 1), up to `max_steps`."""
    return plan_step_search(config, inputs, width=1)


def particle_weights(particles: list[Candidate]) -> list[float]:
    """Softmax weights of the particles' scores' logits (they sum to 1)."""
    logits = []
    for particle in particles:
        score = min(max(particle["score"] or 0.0, _CLIP), 1.0 - _CLIP)
        logits.append(math.log(score / (1.0 - score)))
    top = max(logits, default=0.0)
    exps = [math.exp(logit - top) for logit in logits]
    total = sum(exps)
    return [e / total for e in exps]


def resample(plan: Plan, particles: list[Candidate], step: int) -> list[Candidate]:
    """The `n` particles drawn after step `step` (0-based), seeded by the plan and the step."""
    rng = random.Random(plan["seed"] * 1_000_003 + step)
    return rng.choices(particles, weights=particle_weights(particles), k=plan["n"])


def population(plan: Plan, candidates: Mapping[str, Candidate], step: int) -> list[Candidate]:
    """The particles after step `step`: the complete ones the earlier draws kept (once per
    draw) and the new steps of step `step`, replayed from the candidates (those of rounds
    before the search's first, a probe's samples, are not particles)."""
    by_step: dict[int, list[Candidate]] = {}
    for candidate in sorted(candidates.values(), key=candidate_order):
        by_step.setdefault(search_step(plan, candidate["round"]), []).append(candidate)
    particles = by_step.get(0, [])
    for earlier in range(step):
        kept = [p for p in resample(plan, particles, earlier) if p.get("complete", False)]
        particles = kept + by_step.get(earlier + 1, [])
    return particles


def next_particles(
    question: str,
    plan: Plan,
    candidates: Mapping[str, Candidate],
    launched: int,
    last_round: int,
) -> Action:
    """First steps; then resample the population and grow one next step per draw of an
    incomplete particle (best parent first, so the budget drops the worst ones' first)."""
    if not search_started(plan, launched, last_round):
        return first_steps(question, plan, launched)
    step = search_step(plan, last_round)
    particles = population(plan, candidates, step)
    if not particles:
        return select_action("no particle survived", "complete")
    drawn = resample(plan, particles, step)
    growing = Counter(p["id"] for p in drawn if not p.get("complete", False))
    if not growing:
        return select_action("every particle drawn is complete", "complete")
    max_steps = plan["search"]["max_steps"]
    if step + 1 >= max_steps:
        return select_action(f"max_steps={max_steps} reached", "complete")
    grown = sorted((p for p in particles if p["id"] in growing), key=score_key)
    parents: list[Parent] = [(p["id"], p["text"], [p["chain"]] * growing[p["id"]]) for p in grown]
    active = [p["id"] for p in particles if not p.get("complete", False)]
    return {
        "kind": "think",
        "think": step_tasks(question, plan, launched, last_round + 1, parents),
        "revise": [],
        "reason": (
            f"step {step + 2}: resampled {len(drawn)} of {len(particles)} particle(s); "
            f"{len(grown)} grow {growing.total()} next step(s), "
            f"{len(drawn) - growing.total()} draw(s) keep a complete one"
        ),
        "pruned": [i for i in active if i not in growing],
        "kept": [p["id"] for p in grown],
    }
