"""The graph's state: small typed dicts with reducers, plain data all the way down.

Everything here serialises as JSON, so any LangGraph checkpointer can store a run and resume
it. Big texts live once, in `candidates`.

(Over 350 lines: every key of the state is declared and documented here, in one place, so a
checkpoint's shape can be read off one file; it holds no logic beyond the reducers.)
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict

from reasoning_graph.confidence import Confidence, ConfidenceMeasure, ConfidenceSettings
from reasoning_graph.usage import TokenUsage, merge_node_usage

__all__ = [
    "Action",
    "Candidate",
    "ConfidencePlan",
    "Difficulty",
    "Event",
    "Failure",
    "InputState",
    "OnlineStopMark",
    "OnlineStopPlan",
    "OnlineStopSettings",
    "OutputState",
    "Plan",
    "ReasoningState",
    "ReviseTask",
    "SearchPlan",
    "Selection",
    "StopReason",
    "ThinkTask",
    "candidate_order",
    "merge_candidates",
]

Selection = Literal["majority", "best_score", "weighted", "last", "search"]
"""How `select` aggregates: majority vote, highest verifier score, verifier-weighted vote,
a majority over the last attempt of each revision chain, or (step search) a
verifier-weighted vote over the completed beams."""

StopReason = Literal["complete", "settled", "confidence", "budget", "deadline"]
"""Why an action ends sampling: the strategy's plan is done (`complete`: every sample drawn,
every chain revised, every beam finished), or it stopped early: the vote could no longer be
overturned (`settled`), the leader was likely enough to win (`confidence`), the token or call
budget could not pay for more work (`budget`), or the deadline passed (`deadline`)."""


OnlineStopMark = Literal["watched", "stopped", "unsupported"]
"""What online termination did to a sample after the warm-up: watched it to its end, stopped
it (its answer abstains), or could not watch it (the provider cannot stop a trace)."""


class OnlineStopPlan(TypedDict):
    """DeepConf online trace termination in a plan (`Plan["online_stop"]`)."""

    keep: float
    """The share of the warm-up whose lowest group confidence clears the threshold (0.9:
    DeepConf-high, 0.1: DeepConf-low)."""
    warmup: int
    """The first samples (`c0` .. `c{warmup-1}`), drawn whole, that set the threshold."""


class OnlineStopSettings(TypedDict):
    """What a provider needs to stop one trace online (`ThinkTask["online_stop"]`)."""

    threshold: float
    """Stop once the group confidence of the last `window` tokens falls below this."""
    window: int
    top_k: int


class Candidate(TypedDict):
    """One generated solution and what is known about it."""

    id: str
    parent_id: str | None
    chain: int | None
    round: int
    node: Literal["think", "revise"]
    text: str
    answer: str | None
    score: float | None
    finish_reason: str | None
    completion_tokens: int | None
    seed: int | None
    mean_logprob: float | None
    """Mean log-probability of the sampled tokens, when the provider returned them."""
    confidence: NotRequired[Confidence | None]
    """Token confidence (`reasoning_graph.confidence`), when the provider returned logprobs."""
    step_scores: NotRequired[list[float] | None]
    """Step search: the step verifier's score of each of this beam's steps."""
    complete: NotRequired[bool]
    """Step search: the beam ended (a final answer, an empty step, or `max_steps`)."""
    rollout: NotRequired[str | None]
    """`lookahead`: the beam's text followed by its greedy rollout, which is what the
    verifier scores; the rollout's steps are not kept as the beam's steps."""
    online_stop: NotRequired[OnlineStopMark]


class SearchPlan(TypedDict):
    """The part of a plan only step search reads (`Plan["search"]`)."""

    beam_width: int
    """Next steps per kept beam (M); 1 where every kept particle grows one step."""
    max_steps: int
    lookahead: int
    """Greedy rollout steps behind each new step (`lookahead` only; 0 otherwise)."""
    step_separator: str
    step_aggregation: str
    step_verify: bool
    """The verifier scores each step (`score_steps`), else the whole text (`score`)."""
    verifier_reserve: int
    verifier_calls: int
    """Model calls each verifier score (each step score) costs: 0 when the verifier calls no
    model (plans saved before this was a count hold `True` for 1)."""
    first_round: NotRequired[int]
    """The controller round of the first steps: 1 for a search a `compute_optimal` policy
    chose (the probe's samples are round 0 and are not beams); absent means 0."""


class ConfidencePlan(ConfidenceSettings):
    """How a plan measures token confidence and uses it to select (`Plan["confidence"]`)."""

    measure: ConfidenceMeasure
    """The measure that filters and weights the votes."""
    weighted: bool
    """Weight each vote by the candidate's confidence."""
    keep: float | None
    """Keep only the most confident share (DeepConf's eta) before the vote; `None`: all."""


class Plan(TypedDict):
    """What the controller decided to spend: fixed when the run starts."""

    strategy: str
    """The strategy asked for."""
    base: str
    """The strategy being run: `strategy`, or the one `compute_optimal` chose."""
    phase: Literal["fixed", "probe", "chosen"]
    """`fixed` for plain strategies; `compute_optimal` goes from `probe` to `chosen`."""
    budget_n: int
    """Generations the run may spend in all (the config's `n`)."""
    n: int
    """Samples (or attempts of the chains) to draw; in step search, its first steps (beams,
    particles), whose growth `search` bounds."""
    chains: int
    """Revision chains (1 for `revision`); 0 for the sampling strategies."""
    share_prompt: bool
    revision_context: int
    max_tokens: int
    temperature: float
    seed: int
    selection: Selection
    verify: bool
    budget_tokens: int | None
    reserve_per_generation: int
    max_calls: int | None
    """Model calls the run may start: one per generation, plus each verifier score's calls."""
    calls_per_generation: int
    """Calls one generation reserves: itself, plus its score's calls (`calls_per_score`)."""
    early_stop: Literal["none", "settled", "confidence", "consensus"]
    stop_confidence: float
    wave_size: int
    """Samples per think wave; 0 means all at once."""
    logprobs: bool
    confidence: NotRequired[ConfidencePlan]
    """How token confidence is measured and used (absent from plans saved before it was)."""
    online_stop: NotRequired[OnlineStopPlan]
    search: NotRequired[SearchPlan]
    """Step search only: how the steps are grown and scored."""
    prior: NotRequired[float]
    """`compute_optimal` with a policy prior: the question's prior probability of being
    solvable (`reasoning_graph.prior`), computed before any sample."""
    gave_up: NotRequired[bool]
    """`compute_optimal`: the prior was below the policy's `give_up_below`, so the run
    draws one sample and no probe."""


class Difficulty(TypedDict):
    """The controller's estimate of how hard the question is.

    `score` runs from 0 (every sample agrees, or the verifier is sure) to 1; `bin` is 1..5
    (1 easiest); both are `None` when one sample gives nothing to compare.
    """

    score: float | None
    bin: int | None
    agreement: float | None
    mean_verifier_score: float | None
    token_confidence: float | None
    samples: int
    prior: NotRequired[float | None]
    """The policy prior's probability that the question is solvable (`compute_optimal`)."""
    probe_score: NotRequired[float | None]
    """The probe-only score (`estimate_difficulty`), when `score` is the prior's combination."""
    confidence: NotRequired[float | None]
    """The probe's mean DeepConf token confidence, when its samples carry one."""
    gave_up: NotRequired[bool]
    """The prior gave the question up: one sample, counted in the hardest bin."""


class Failure(TypedDict):
    """A branch that failed after its retries; the run goes on without it."""

    node: str
    candidate_ids: list[str]
    error: str
    message: str


class Event(TypedDict):
    """A trace entry: what a node decided or observed."""

    node: str
    kind: str
    data: dict[str, Any]


class ThinkTask(TypedDict):
    """One `think` branch: sample `len(ids)` fresh solutions (one request when shared)."""

    question: str
    logprobs: bool
    confidence: NotRequired[ConfidenceSettings]
    """With `logprobs`: `k` alternatives to ask per token, and the window and tail of the
    candidates' confidence; DeepConf's defaults when absent."""
    ids: list[str]
    seeds: list[int]
    chains: list[int | None]
    max_tokens: int
    temperature: float
    partial: NotRequired[str]
    """Step search: the parent beam's text ("" for first steps); its presence makes the
    task generate one next step per id instead of whole solutions."""
    parent_id: NotRequired[str | None]
    round: NotRequired[int]
    """Step search: the new step's index (0 for first steps)."""
    step_separator: NotRequired[str]
    final_step: NotRequired[bool]
    """Step search: the new step is the last one `max_steps` allows."""
    rollout_steps: NotRequired[int]
    """`lookahead`: greedy steps to roll out behind each new step before it is scored."""
    reserve_tokens: NotRequired[int]
    """Tokens each id of this task reserves (defaults to the plan's per generation)."""
    reserve_calls: NotRequired[int]
    """Calls each id of this task reserves (defaults to the plan's per generation)."""
    online_stop: NotRequired[OnlineStopSettings]
    """Stop each trace once its group confidence falls below the warm-up's threshold."""


class ReviseTask(TypedDict):
    """One `revise` branch: write the next attempt of a chain given its earlier attempts."""

    question: str
    id: str
    seed: int
    chain: int
    round: int
    parent_id: str
    attempts: list[str]
    max_tokens: int
    temperature: float


class Action(TypedDict):
    """The controller's next move, read by the router after `budget`."""

    kind: Literal["think", "revise", "select"]
    think: list[ThinkTask]
    revise: list[ReviseTask]
    reason: str
    pruned: NotRequired[list[str]]
    """Step search: the active beams dropped by this decision."""
    kept: NotRequired[list[str]]
    """Step search: the beams this decision expands."""
    stop: NotRequired[StopReason]
    """Why a `select` action ends sampling; set by whoever decided to stop (the strategy,
    the budget trim or the deadline)."""


def candidate_order(candidate: Candidate) -> tuple[int, int]:
    """Sort key: round, then the order in which candidates were started (`c0`, `c1`, ...)."""
    number = candidate["id"][1:]
    return candidate["round"], int(number) if number.isdigit() else 0


def merge_candidates(
    left: Mapping[str, Candidate] | None, right: Mapping[str, Candidate] | None
) -> dict[str, Candidate]:
    """State reducer: merge candidates by id, the newer copy winning."""
    return {**(left or {}), **(right or {})}


class InputState(TypedDict):
    """What a caller passes in."""

    question: str


class OutputState(TypedDict, total=False):
    """What a caller gets back."""

    question: str
    answer: str | None
    selected_id: str | None
    plan: Plan
    difficulty: Difficulty
    candidates: dict[str, Candidate]
    failures: list[Failure]
    usage: dict[str, TokenUsage]
    events: list[Event]


class ReasoningState(TypedDict, total=False):
    """The whole state of one run."""

    question: str
    plan: Plan
    difficulty: Difficulty
    action: Action
    launched: int
    round: int
    deadline_at: float | None
    """Unix time after which the controller starts nothing new (from `deadline_s`)."""
    run_config: dict[str, Any]
    """The `ReasoningConfig` fields the first run's context set (`{}`: none), stored by the
    first controller visit so the thread keeps them (`reasoning_graph.nodes.per_run`)."""
    search_calls: int
    """Step search: model calls reserved so far (generations, rollouts and step scores)."""
    candidates: Annotated[dict[str, Candidate], merge_candidates]
    failures: Annotated[list[Failure], operator.add]
    usage: Annotated[dict[str, TokenUsage], merge_node_usage]
    events: Annotated[list[Event], operator.add]
    answer: str | None
    selected_id: str | None


_REDUCERS: dict[str, Any] = {
    "candidates": merge_candidates,
    "failures": operator.add,
    "usage": merge_node_usage,
    "events": operator.add,
}
"""The keys of `ReasoningState` that have a reducer, and the reducer (its `Annotated` extra)."""


def apply_updates(state: dict[str, Any], chunk: Mapping[str, Any]) -> None:
    """Apply one streamed `updates` chunk (`{node: update}`) to `state` with the reducers.

    Keys declared with a reducer in `ReasoningState` (candidates, failures, usage, events)
    are merged the way the graph merges them; every other key is replaced. This is how
    `asolve` keeps the latest state between two `values` snapshots, so a run cut by its
    deadline still sees the branches that finished.

    Example:
        ```python
        state = {"failures": []}
        apply_updates(state, {"think": {"failures": [failure], "launched": 4}})
        ```
    """
    for update in chunk.values():
        if not isinstance(update, Mapping):
            continue
        for key, value in update.items():
            reducer = _REDUCERS.get(key)
            state[key] = reducer(state[key], value) if reducer and key in state else value


__all__ += ["apply_updates"]
