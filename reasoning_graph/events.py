"""Live events: what the graph streams with `stream_mode="custom"` while it thinks.

Every node writes small typed dicts through LangGraph's stream writer; each has a `type`:

| type | written by | when |
|---|---|---|
| `plan` | budget | the plan is fixed; again when `compute_optimal` swaps in the policy's plan |
| `difficulty` | budget | the first wave is back and the difficulty is estimated |
| `candidate` | think, revise | a candidate finished (`score` is `None` until verified) |
| `scored` | verify | the verifier scored a candidate |
| `failure` | think, revise, verify | a branch failed after its retries; the run goes on |
| `pruned` | budget | step search dropped active beams of a step and grows the `kept` ones |
| `early_stop` | budget | the controller stops before the plan is spent (see `StopReason`) |
| `budget` | budget | after every controller visit: spend so far and the next move |
| `review` | select | a person's decision was applied (only with `ReasoningConfig.review`) |
| `selected` | select | the final answer and the candidate behind it |

```python
async for event in graph.astream({"question": q}, stream_mode="custom"):
    print(describe_event(event))
```

A graph used as a subgraph streams its events to the parent's `astream(...,
stream_mode="custom", subgraphs=True)`. The state's `events` list stays the durable trace;
these events are the live view and are not checkpointed. Nodes write both with one call,
`record`, which streams the event and returns its trace entry.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.config import get_stream_writer
from typing_extensions import TypedDict

from reasoning_graph.confidence import Confidence
from reasoning_graph.state import Event, StopReason

__all__ = [
    "BudgetEvent",
    "CandidateEvent",
    "DifficultyEvent",
    "EarlyStopEvent",
    "FailureEvent",
    "PlanEvent",
    "PrunedEvent",
    "ReasoningEvent",
    "ReviewEvent",
    "ScoredEvent",
    "SelectedEvent",
    "StopReason",
    "describe_event",
    "emit",
    "record",
]


class PlanEvent(TypedDict):
    """The plan the controller runs: the first one, or the one `compute_optimal` chose."""

    type: Literal["plan"]
    strategy: str
    base: str
    phase: str
    n: int
    chains: int
    selection: str
    verify: bool
    early_stop: str
    budget_tokens: int | None
    max_calls: int | None


class DifficultyEvent(TypedDict):
    """The difficulty estimate: score in [0, 1] and bin 1..5 (`None` from one sample)."""

    type: Literal["difficulty"]
    score: float | None
    bin: int | None
    agreement: float | None
    samples: int


class CandidateEvent(TypedDict):
    """A finished candidate."""

    type: Literal["candidate"]
    id: str
    answer: str | None
    score: float | None
    node: str
    chain: int | None
    round: int
    confidence: Confidence | None
    """Token confidence (`reasoning_graph.confidence`), when the provider returned logprobs."""


class ScoredEvent(TypedDict):
    """A verifier score for a candidate."""

    type: Literal["scored"]
    id: str
    answer: str | None
    score: float


class FailureEvent(TypedDict):
    """A branch that failed after its retries."""

    type: Literal["failure"]
    node: str
    candidate_ids: list[str]
    error: str
    message: str


class PrunedEvent(TypedDict):
    """Step search kept some active beams of step `round` (0-based) and dropped the rest."""

    type: Literal["pruned"]
    round: int
    pruned: list[str]
    kept: list[str]


class EarlyStopEvent(TypedDict):
    """The controller stopped with `unspent` generations of the plan left (`reason` is never
    `complete`: a plan that ran to its end is no early stop)."""

    type: Literal["early_stop"]
    reason: StopReason
    detail: str
    unspent: int


class BudgetEvent(TypedDict):
    """Spend so far, after a controller visit, and what it starts next.

    `llm_calls` and `requests` are what the result's usage reports so far (generations and
    verifier scores made; the requests that carried them). `spent_calls` is what `max_calls`
    is checked against: calls started, failed ones included, and in step search the calls
    reserved; it is never below `llm_calls`.
    """

    type: Literal["budget"]
    spent_tokens: int
    llm_calls: int
    requests: int
    spent_calls: int
    budget_tokens: int | None
    max_calls: int | None
    launched: int
    next: Literal["think", "revise", "select"]
    generations: int


class ReviewEvent(TypedDict):
    """A person's decision on the proposed answer."""

    type: Literal["review"]
    decision: Literal["approve", "candidate", "answer"]
    proposed_answer: str | None
    proposed_id: str
    answer: str | None
    candidate_id: str | None


class SelectedEvent(TypedDict):
    """The final answer and the candidate that best represents it."""

    type: Literal["selected"]
    answer: str | None
    candidate_id: str | None
    selection: str


ReasoningEvent = (
    PlanEvent
    | DifficultyEvent
    | CandidateEvent
    | ScoredEvent
    | FailureEvent
    | PrunedEvent
    | EarlyStopEvent
    | BudgetEvent
    | ReviewEvent
    | SelectedEvent
)


def emit(event: ReasoningEvent) -> None:
    """Write `event` to the run's custom stream; does nothing outside a running graph.

    LangGraph's `get_stream_writer` raises `RuntimeError` outside a runnable context (a
    node called directly, as in unit tests); the writer is a no-op when nobody streams
    `custom`.
    """
    try:
        writer = get_stream_writer()
    except (RuntimeError, KeyError):
        return
    writer(event)


def record(node: str, event: ReasoningEvent, *, kind: str | None = None, **extra: Any) -> Event:
    """Stream `event` live and return its durable trace entry for the state's `events`.

    The trace entry holds the event's fields (not `type`) and the `extra` ones the trace
    keeps beyond the live view (a plan's every key, a selection's tally); `kind` defaults to
    the event's `type`.

    Example:
        ```python
        events.append(record("verify", {"type": "scored", "id": "c1", "answer": "4", "score": 1.0}))
        # streams the event; the trace entry is
        # {"node": "verify", "kind": "scored", "data": {"id": "c1", "answer": "4", "score": 1.0}}
        ```
    """
    emit(event)
    data: dict[str, Any] = {key: value for key, value in event.items() if key != "type"}
    data.update(extra)
    return {"node": node, "kind": kind or event["type"], "data": data}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def describe_event(event: ReasoningEvent) -> str:
    """One human-readable line for `event`, as the CLI's live view prints it.

    Example:
        ```python
        describe_event({"type": "scored", "id": "c1", "answer": "42", "score": 0.9})
        # "scored c1: 42 (0.90)"
        ```
    """
    if event["type"] == "plan":
        size = f"{event['n']} generations"
        if event["chains"]:
            size += f" in {event['chains']} chain(s)"
        stop = f", early stop {event['early_stop']}" if event["early_stop"] != "none" else ""
        return f"plan: {event['base']} ({event['phase']}), {size}, {event['selection']}{stop}"
    if event["type"] == "difficulty":
        level = f"bin {event['bin']}/5" if event["bin"] is not None else "not estimated"
        return f"difficulty: {level} (score {_number(event['score'])}, {event['samples']} samples)"
    if event["type"] == "candidate":
        score = f" ({_number(event['score'])})" if event["score"] is not None else ""
        confidence = event.get("confidence")
        if confidence is not None:
            score += f" [lowest-group confidence {confidence['lowest_group']:.2f}]"
        return f"{event['node']} {event['id']}: {event['answer'] or '(no answer)'}{score}"
    if event["type"] == "scored":
        return f"scored {event['id']}: {event['answer'] or '(no answer)'} ({event['score']:.2f})"
    if event["type"] == "failure":
        ids = ", ".join(event["candidate_ids"])
        return f"{event['node']} failed ({ids}): {event['error']}"
    if event["type"] == "pruned":
        kept = ", ".join(event["kept"]) or "none"
        return (
            f"pruned {len(event['pruned'])} beam(s) after step {event['round'] + 1}; growing {kept}"
        )
    if event["type"] == "early_stop":
        return f"early stop ({event['reason']}): {event['unspent']} generation(s) unspent"
    if event["type"] == "budget":
        tokens = str(event["spent_tokens"])
        if event["budget_tokens"] is not None:
            tokens += f"/{event['budget_tokens']}"
        calls = f"{event['llm_calls']} calls in {event['requests']} requests"
        if event["max_calls"] is not None:
            calls += f" ({event['spent_calls']}/{event['max_calls']} counted by max_calls)"
        step = f"{event['next']} x{event['generations']}" if event["generations"] else "select"
        return f"budget: {tokens} completion tokens, {calls}; next: {step}"
    if event["type"] == "review":
        return f"review: {event['decision']} -> {event['answer'] or '(no answer)'}"
    return f"selected: {event['answer'] or '(no answer)'} ({event['candidate_id']})"
