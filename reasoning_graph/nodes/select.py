"""`select`: aggregate the candidates into one answer, with the evidence behind it.

The aggregation (`select_answer`) is pure. With `review=True` the node then pauses with
LangGraph's `interrupt()` so a person can approve or override the proposal; the interrupt's
value is a `ReviewRequest`, and the run goes on when resumed with one of:

- `Command(resume={"approve": True})`: keep the proposed answer;
- `Command(resume={"candidate_id": "c2"})`: take that candidate's answer;
- `Command(resume={"answer": "42"})`: replace the answer (the selected candidate becomes the
  first one whose answer is equivalent, or none).

The decision is recorded as a `review` event in the state's `events` and on the custom
stream. A resume value of another shape (or naming an unknown candidate) does not fail the
run: `select` interrupts again with the same request, its `error` saying what was wrong, and
waits for the next resume. (LangGraph replays every resume value a node has received each
time the node runs again, so raising would fail every later resume of the thread too.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from langgraph.types import interrupt
from typing_extensions import TypedDict

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.confidence_vote import confident_voters
from reasoning_graph.errors import ConfigurationError, NoCandidatesError
from reasoning_graph.events import ReviewEvent, SelectedEvent, record
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.online_stop import run_notes
from reasoning_graph.state import Candidate, Event, ReasoningState, Selection, candidate_order

__all__ = [
    "ReviewCandidate",
    "ReviewRequest",
    "Selected",
    "apply_review",
    "make_select_node",
    "select_answer",
]


class Selected(NamedTuple):
    """The winning answer, the candidate that best represents it, and the tally."""

    answer: str | None
    candidate_id: str
    tally: dict[str, float]


def _order(candidate: Candidate) -> int:
    return candidate_order(candidate)[1]


def _score(candidate: Candidate) -> float:
    return candidate["score"] if candidate["score"] is not None else 0.0


def _vote(
    voters: Sequence[Candidate], *, weights: Sequence[float] | None, matcher: AnswerMatcher
) -> Selected:
    """The answer whose voters weigh most (`weights` per voter; `None`: one vote each)."""
    groups = matcher.groups([c["answer"] for c in voters])
    if not groups:  # nobody stated an answer: fall back to the best-scored text
        best = max(voters, key=lambda c: (_score(c), -_order(c)))
        return Selected(None, best["id"], {})

    def weight(group: list[int]) -> float:
        return sum(weights[i] for i in group) if weights is not None else float(len(group))

    # Highest weight wins; ties go to the larger group, then to the earliest answer.
    winner = max(groups, key=lambda g: (weight(g), len(g), -g[0]))
    representative = max((voters[i] for i in winner), key=lambda c: (_score(c), -_order(c)))
    tally = {str(voters[g[0]]["answer"]): weight(g) for g in groups}
    return Selected(voters[winner[0]]["answer"], representative["id"], tally)


def _scores(voters: Sequence[Candidate]) -> list[float]:
    return [_score(c) for c in voters]


def _last_of_chains(candidates: Sequence[Candidate]) -> list[Candidate]:
    last: dict[int | None, Candidate] = {}
    for candidate in candidates:
        current = last.get(candidate["chain"])
        if current is None or candidate["round"] > current["round"]:
            last[candidate["chain"]] = candidate
    return sorted(last.values(), key=_order)


def select_answer(
    candidates: Sequence[Candidate],
    selection: Selection,
    matcher: AnswerMatcher | None = None,
    *,
    plan: Mapping[str, Any] | None = None,
) -> Selected:
    """Pick the answer from `candidates` by `selection`.

    - `majority`: the most frequent equivalent answer.
    - `best_score`: the answer of the highest-scored candidate that states one.
    - `weighted`: the answer whose candidates' scores sum highest.
    - `last`: a majority over the last attempt of each revision chain.
    - `search`: a verifier-weighted vote over the completed beams of a step search, or
      over the beams of the deepest step when none completed.

    With the run's `plan`, its confidence options apply first (`confidence_vote`): keep the
    most confident share, then weigh each `majority` vote by its confidence and each
    `weighted` vote by score times confidence; `best_score` picks among those kept.

    Raises:
        NoCandidatesError: `candidates` is empty.
    """
    if not candidates:
        raise NoCandidatesError("there are no candidates to select from")
    matcher = matcher or AnswerMatcher()
    ordered = sorted(candidates, key=_order)
    confidences: list[float] | None = None
    if plan is not None:
        ordered, confidences = confident_voters(ordered, plan)
    if selection == "best_score":
        best = max(ordered, key=lambda c: (c["answer"] is not None, _score(c), -_order(c)))
        tally = {c["id"]: _score(c) for c in ordered}
        return Selected(best["answer"], best["id"], tally)
    if selection == "last":
        return _vote(_last_of_chains(ordered), weights=None, matcher=matcher)
    if selection == "search":
        complete = [c for c in ordered if c.get("complete", False)]
        if not complete:
            deepest = max(c["round"] for c in ordered)
            complete = [c for c in ordered if c["round"] == deepest]
        return _vote(complete, weights=_scores(complete), matcher=matcher)
    weights = _scores(ordered) if selection == "weighted" else None
    if confidences is not None:
        weights = (
            confidences
            if weights is None
            else [w * c for w, c in zip(weights, confidences, strict=True)]
        )
    return _vote(ordered, weights=weights, matcher=matcher)


class ReviewCandidate(TypedDict):
    """A candidate as a reviewer sees it."""

    id: str
    answer: str | None
    score: float | None
    node: str
    text: str


class ReviewRequest(TypedDict):
    """The value `select` passes to `interrupt()` when `review` is on."""

    type: str
    """Always `"review"`."""
    question: str
    proposed_answer: str | None
    proposed_id: str
    selection: str
    tally: dict[str, float]
    candidates: list[ReviewCandidate]
    resume: str
    """How to answer: the three accepted `Command(resume=...)` values."""
    error: str | None
    """Why the previous resume value was refused; `None` on the first request."""


_RESUME_HELP = (
    'resume with Command(resume={"approve": True}), {"candidate_id": ID} or {"answer": TEXT}'
)


def _review_request(
    question: str,
    candidates: Sequence[Candidate],
    selected: Selected,
    selection: Selection,
    error: str | None,
) -> ReviewRequest:
    return {
        "type": "review",
        "question": question,
        "proposed_answer": selected.answer,
        "proposed_id": selected.candidate_id,
        "selection": selection,
        "tally": selected.tally,
        "candidates": [
            {
                "id": c["id"],
                "answer": c["answer"],
                "score": c["score"],
                "node": c["node"],
                "text": c["text"],
            }
            for c in sorted(candidates, key=candidate_order)
        ],
        "resume": _RESUME_HELP,
        "error": error,
    }


def apply_review(
    decision: object, candidates: Sequence[Candidate], proposed: Selected
) -> ReviewEvent:
    """Apply a reviewer's resume value to the proposed selection.

    Raises:
        ConfigurationError: `decision` is not one of the accepted shapes, or names an
            unknown candidate.
    """
    if not isinstance(decision, Mapping) or len(decision) != 1:
        raise ConfigurationError(f"cannot apply review decision {decision!r}; {_RESUME_HELP}")
    ((key, value),) = decision.items()
    base: ReviewEvent = {
        "type": "review",
        "decision": "approve",
        "proposed_answer": proposed.answer,
        "proposed_id": proposed.candidate_id,
        "answer": proposed.answer,
        "candidate_id": proposed.candidate_id,
    }
    if key == "approve" and value is True:
        return base
    if key == "candidate_id":
        chosen = next((c for c in candidates if c["id"] == value), None)
        if chosen is None:
            known = ", ".join(c["id"] for c in sorted(candidates, key=candidate_order))
            raise ConfigurationError(
                f"review chose candidate {value!r}, which does not exist; choose one of: {known}"
            )
        return {**base, "decision": "candidate", "answer": chosen["answer"], "candidate_id": value}
    if key == "answer" and isinstance(value, str) and value.strip():
        matcher = AnswerMatcher()
        same = next(
            (
                c["id"]
                for c in sorted(candidates, key=candidate_order)
                if c["answer"] is not None and matcher.same(c["answer"], value)
            ),
            None,
        )
        return {**base, "decision": "answer", "answer": value, "candidate_id": same}
    raise ConfigurationError(f"cannot apply review decision {decision!r}; {_RESUME_HELP}")


def _review(
    question: str, candidates: Sequence[Candidate], selected: Selected, selection: Selection
) -> ReviewEvent:
    """Interrupt for a decision until a resume value applies; each refused value is answered
    with a new interrupt whose `error` explains it (the n-th `interrupt()` call of a node
    gets the n-th resume value, so every value is checked once, in order, on each replay)."""
    error: str | None = None
    while True:
        decision = interrupt(_review_request(question, candidates, selected, selection, error))
        try:
            return apply_review(decision, candidates, selected)
        except ConfigurationError as refused:
            error = str(refused)


def make_select_node(*, review: bool = False) -> NodeFunction[ReasoningState]:
    """Build the `select` node; with `review`, it interrupts for a person's decision."""

    async def select(state: ReasoningState) -> dict[str, Any]:
        candidates = list(state.get("candidates", {}).values())
        if not candidates:
            failures = state.get("failures", [])
            cause = (
                f"; first failure: {failures[0]['error']}: {failures[0]['message']}"
                if failures
                else ""
            )
            raise NoCandidatesError(
                f"no candidate survived ({len(failures)} branch(es) failed){cause}"
            )
        selection = state["plan"]["selection"]
        selected = select_answer(candidates, selection, plan=state["plan"])
        answer: str | None = selected.answer
        candidate_id: str | None = selected.candidate_id
        events: list[Event] = []
        if review:
            # On resume the node runs again from the top: everything above is pure, and
            # nothing is streamed before this point, so nothing is emitted twice.
            outcome = _review(state["question"], candidates, selected, selection)
            answer, candidate_id = outcome["answer"], outcome["candidate_id"]
            events.append(record("select", outcome))
        event: SelectedEvent = {
            "type": "selected",
            "answer": answer,
            "candidate_id": candidate_id,
            "selection": selection,
        }
        notes = run_notes(state["plan"], candidates)
        extra = {"note": "; ".join(notes)} if notes else {}
        events.append(record("select", event, tally=selected.tally, **extra))
        return {"answer": answer, "selected_id": candidate_id, "events": events}

    return select
