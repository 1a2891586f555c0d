"""`select`: aggregate the candidates into one answer, with the evidence behind it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.errors import NoCandidatesError
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.state import Candidate, ReasoningState, Selection, candidate_order

__all__ = ["Selected", "make_select_node", "select_answer"]


class Selected(NamedTuple):
    """The winning answer, the candidate that best represents it, and the tally."""

    answer: str | None
    candidate_id: str
    tally: dict[str, float]


def _order(candidate: Candidate) -> int:
    return candidate_order(candidate)[1]


def _score(candidate: Candidate) -> float:
    return candidate["score"] if candidate["score"] is not None else 0.0


def _vote(voters: Sequence[Candidate], *, weighted: bool, matcher: AnswerMatcher) -> Selected:
    groups = matcher.groups([c["answer"] for c in voters])
    if not groups:  # nobody stated an answer: fall back to the best-scored text
        best = max(voters, key=lambda c: (_score(c), -_order(c)))
        return Selected(None, best["id"], {})

    def weight(group: list[int]) -> float:
        return sum(_score(voters[i]) for i in group) if weighted else float(len(group))

    # Highest weight wins; ties go to the larger group, then to the earliest answer.
    winner = max(groups, key=lambda g: (weight(g), len(g), -g[0]))
    representative = max((voters[i] for i in winner), key=lambda c: (_score(c), -_order(c)))
    tally = {str(voters[g[0]]["answer"]): weight(g) for g in groups}
    return Selected(voters[winner[0]]["answer"], representative["id"], tally)


def _last_of_chains(candidates: Sequence[Candidate]) -> list[Candidate]:
    last: dict[int | None, Candidate] = {}
    for candidate in candidates:
        current = last.get(candidate["chain"])
        if current is None or candidate["round"] > current["round"]:
            last[candidate["chain"]] = candidate
    return sorted(last.values(), key=_order)


def select_answer(
    candidates: Sequence[Candidate], selection: Selection, matcher: AnswerMatcher | None = None
) -> Selected:
    """Pick the answer from `candidates` by `selection`.

    - `majority`: the most frequent equivalent answer.
    - `best_score`: the answer of the highest-scored candidate that states one.
    - `weighted`: the answer whose candidates' scores sum highest.
    - `last`: a majority over the last attempt of each revision chain.

    Raises:
        NoCandidatesError: `candidates` is empty.
    """
    if not candidates:
        raise NoCandidatesError("there are no candidates to select from")
    matcher = matcher or AnswerMatcher()
    ordered = sorted(candidates, key=_order)
    if selection == "best_score":
        best = max(ordered, key=lambda c: (c["answer"] is not None, _score(c), -_order(c)))
        tally = {c["id"]: _score(c) for c in ordered}
        return Selected(best["answer"], best["id"], tally)
    if selection == "last":
        return _vote(_last_of_chains(ordered), weighted=False, matcher=matcher)
    return _vote(ordered, weighted=selection == "weighted", matcher=matcher)


def make_select_node() -> NodeFunction[ReasoningState]:
    """Build the `select` node."""

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
        selected = select_answer(candidates, state["plan"]["selection"])
        return {
            "answer": selected.answer,
            "selected_id": selected.candidate_id,
            "events": [
                {
                    "node": "select",
                    "kind": "selected",
                    "data": {
                        "answer": selected.answer,
                        "candidate_id": selected.candidate_id,
                        "selection": state["plan"]["selection"],
                        "tally": selected.tally,
                    },
                }
            ],
        }

    return select
