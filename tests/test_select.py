"""Tests of `select_answer`: majority, best score, weighted vote and last-of-chain."""

from __future__ import annotations

import pytest

from reasoning_graph.errors import NoCandidatesError
from reasoning_graph.nodes.select import select_answer
from reasoning_graph.state import Candidate


def cand(
    number: int,
    answer: str | None,
    score: float | None = None,
    *,
    chain: int | None = None,
    round_: int = 0,
    parent: str | None = None,
) -> Candidate:
    return {
        "id": f"c{number}",
        "parent_id": parent,
        "chain": chain,
        "round": round_,
        "node": "think" if round_ == 0 else "revise",
        "text": f"... The answer is {answer}." if answer is not None else "I am not sure.",
        "answer": answer,
        "score": score,
        "finish_reason": "stop",
        "completion_tokens": 5,
        "seed": number,
    }


# --- majority ---------------------------------------------------------------------------------


def test_majority_picks_the_most_frequent_answer() -> None:
    candidates = [cand(0, "5"), cand(1, "4"), cand(2, "4"), cand(3, "6")]
    selected = select_answer(candidates, "majority")
    assert selected.answer == "4"
    assert selected.candidate_id in {"c1", "c2"}
    assert selected.tally == {"5": 1.0, "4": 2.0, "6": 1.0}


def test_majority_counts_equivalent_forms_as_one_answer() -> None:
    candidates = [
        cand(0, "3"),
        cand(1, "0.5"),
        cand(2, "3"),
        cand(3, "1/2"),
        cand(4, "\\frac{1}{2}"),
    ]
    selected = select_answer(candidates, "majority")
    assert selected.answer == "0.5"  # the group is named by its first member
    assert selected.tally == {"3": 2.0, "0.5": 3.0}


def test_majority_ignores_scores() -> None:
    candidates = [cand(0, "9", 1.0), cand(1, "4", 0.0), cand(2, "4", 0.0)]
    assert select_answer(candidates, "majority").answer == "4"


def test_majority_tie_goes_to_the_earliest_answer() -> None:
    # Equal groups: the documented tie-break is the group whose first member came first.
    candidates = [cand(0, "7"), cand(1, "8"), cand(2, "8"), cand(3, "7")]
    assert select_answer(candidates, "majority").answer == "7"
    # Order is by candidate number, not by the order of the input sequence.
    assert select_answer(list(reversed(candidates)), "majority").answer == "7"
    swapped = [cand(0, "8"), cand(1, "7"), cand(2, "7"), cand(3, "8")]
    assert select_answer(swapped, "majority").answer == "8"


def test_majority_sorts_by_number_not_by_string() -> None:
    # c10 was started after c9: "c10" < "c9" as strings must not matter.
    candidates = [cand(10, "1"), cand(9, "2")]
    assert select_answer(candidates, "majority").answer == "2"


def test_majority_abstainers_do_not_vote() -> None:
    candidates = [cand(0, None), cand(1, None), cand(2, None), cand(3, "4")]
    selected = select_answer(candidates, "majority")
    assert selected.answer == "4"
    assert selected.candidate_id == "c3"


def test_majority_with_no_answers_returns_none_and_the_best_scored_text() -> None:
    candidates = [cand(0, None, 0.1), cand(1, None, 0.9), cand(2, None, 0.5)]
    selected = select_answer(candidates, "majority")
    assert selected.answer is None
    assert selected.candidate_id == "c1"
    assert selected.tally == {}


def test_majority_representative_is_the_best_scored_member() -> None:
    candidates = [cand(0, "4", 0.2), cand(1, "4", 0.9), cand(2, "5", 1.0)]
    selected = select_answer(candidates, "majority")
    assert (selected.answer, selected.candidate_id) == ("4", "c1")


# --- best_score -------------------------------------------------------------------------------


def test_best_score_highest_score_wins_even_against_the_majority() -> None:
    candidates = [cand(0, "4", 0.3), cand(1, "4", 0.4), cand(2, "5", 0.95), cand(3, "4", 0.1)]
    selected = select_answer(candidates, "best_score")
    assert (selected.answer, selected.candidate_id) == ("5", "c2")
    assert selected.tally == {"c0": 0.3, "c1": 0.4, "c2": 0.95, "c3": 0.1}


def test_best_score_candidate_without_answer_loses_to_one_with_an_answer() -> None:
    candidates = [cand(0, None, 1.0), cand(1, "4", 0.2), cand(2, None, 0.99)]
    selected = select_answer(candidates, "best_score")
    assert (selected.answer, selected.candidate_id) == ("4", "c1")


def test_best_score_tie_goes_to_the_earliest_candidate() -> None:
    candidates = [cand(3, "9", 0.5), cand(1, "8", 0.5), cand(2, "7", 0.4)]
    assert select_answer(candidates, "best_score").candidate_id == "c1"


def test_best_score_unscored_counts_as_zero() -> None:
    candidates = [cand(0, "1", None), cand(1, "2", 0.01)]
    assert select_answer(candidates, "best_score").answer == "2"


# --- weighted ---------------------------------------------------------------------------------


def test_weighted_minority_with_higher_summed_score_beats_the_majority() -> None:
    candidates = [
        cand(0, "4", 0.2),
        cand(1, "4", 0.2),
        cand(2, "4", 0.2),
        cand(3, "5", 0.9),
    ]
    selected = select_answer(candidates, "weighted")
    assert (selected.answer, selected.candidate_id) == ("5", "c3")
    assert selected.tally == pytest.approx({"4": 0.6, "5": 0.9})
    # ...while a plain majority still picks "4".
    assert select_answer(candidates, "majority").answer == "4"


def test_weighted_sums_over_equivalent_forms() -> None:
    candidates = [cand(0, "0.5", 0.4), cand(1, "1/2", 0.4), cand(2, "3", 0.7)]
    assert select_answer(candidates, "weighted").answer == "0.5"


def test_weighted_tie_goes_to_the_larger_group() -> None:
    candidates = [cand(0, "5", 0.8), cand(1, "4", 0.4), cand(2, "4", 0.4)]
    selected = select_answer(candidates, "weighted")
    assert selected.answer == "4"


def test_weighted_unscored_weighs_nothing() -> None:
    candidates = [cand(0, "4", None), cand(1, "4", None), cand(2, "5", 0.1)]
    assert select_answer(candidates, "weighted").answer == "5"


# --- last -------------------------------------------------------------------------------------


def chain(chain_no: int, first: int, answers: list[str | None]) -> list[Candidate]:
    out: list[Candidate] = []
    for r, answer in enumerate(answers):
        parent = out[-1]["id"] if out else None
        out.append(cand(first + r, answer, chain=chain_no, round_=r, parent=parent))
    return out


def test_last_single_chain_takes_its_last_attempt() -> None:
    candidates = chain(0, 0, ["4", "4", "5"])
    selected = select_answer(candidates, "last")
    assert (selected.answer, selected.candidate_id) == ("5", "c2")


def test_last_single_chain_input_order_does_not_matter() -> None:
    candidates = list(reversed(chain(0, 0, ["1", "2", "3", "9"])))
    assert select_answer(candidates, "last").candidate_id == "c3"


def test_last_is_a_majority_over_the_chains_last_attempts() -> None:
    # Chains interleave ids as a parallel revision run does: round 0 is c0..c2, and so on.
    a = [cand(0, "7", chain=0), cand(3, "7", chain=0, round_=1), cand(6, "9", chain=0, round_=2)]
    b = [cand(1, "7", chain=1), cand(4, "2", chain=1, round_=1)]
    c = [cand(2, "7", chain=2), cand(5, "2", chain=2, round_=1)]
    everything = [*a, *b, *c]
    selected = select_answer(everything, "last")
    # Last attempts are 9, 2, 2; over every attempt "7" would win 4 to 2.
    assert select_answer(everything, "majority").answer == "7"
    assert selected.answer == "2"
    assert selected.tally == {"2": 2.0, "9": 1.0}
    assert selected.candidate_id in {"c4", "c5"}


def test_last_ignores_earlier_attempts_even_if_they_agree() -> None:
    a = chain(0, 0, ["3", "3", "3", "8"])
    b = chain(1, 10, ["3", "8"])
    assert select_answer([*a, *b], "last").answer == "8"


def test_last_with_a_no_answer_last_attempt_abstains() -> None:
    a = chain(0, 0, ["3", None])
    b = chain(1, 10, ["5"])
    assert select_answer([*a, *b], "last").answer == "5"


# --- empty ------------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["majority", "best_score", "weighted", "last"])
def test_no_candidates_raises(selection: str) -> None:
    with pytest.raises(NoCandidatesError, match="no candidates"):
        select_answer([], selection)  # type: ignore[arg-type]
