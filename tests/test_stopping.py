"""Early stopping: it fires exactly when the vote is settled, and never changes the winner."""

from __future__ import annotations

import asyncio
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoning_graph import asolve
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.stopping import leader_confidence, should_stop, vote_settled


@pytest.mark.parametrize(
    ("counts", "remaining", "settled"),
    [
        ([3], 2, True),
        ([3], 3, False),
        ([5, 2], 2, True),
        ([5, 3], 2, False),  # 3 + 2 could tie, and a tie may go either way
        ([1, 1], 0, False),
        ([2, 1], 0, True),
        ([], 3, False),
    ],
)
def test_vote_settled(counts, remaining, settled):
    assert vote_settled(counts, remaining) is settled


def test_leader_confidence_is_the_beta_posterior():
    # P(Bin(a + b + 1, 1/2) <= a) for a=4, b=0 is 31/32.
    assert leader_confidence([4]) == pytest.approx(31 / 32)
    assert leader_confidence([2, 2]) == pytest.approx(0.5)
    a, b = 6, 2
    expected = sum(comb(a + b + 1, k) for k in range(a + 1)) / 2 ** (a + b + 1)
    assert leader_confidence([a, b, 1]) == pytest.approx(expected)


def test_should_stop_rules():
    assert not should_stop([4], 10, rule="none")
    assert not should_stop([4], 10, rule="settled")
    assert should_stop([4], 10, rule="confidence", confidence=0.95)
    assert not should_stop([3], 10, rule="confidence", confidence=0.95)  # 15/16 < 0.95
    assert should_stop([4], 3, rule="settled")


def run_sc(answers: list[str], n: int, early_stop: str):
    generator = FakeGenerator([f"The answer is {a}." for a in answers])
    result = asyncio.run(
        asolve(
            "q?",
            generator=generator,
            strategy="self_consistency",
            n=n,
            early_stop=early_stop,
            wave_size=1,
        )
    )
    return result, generator


def first_settled(answers: list[str], n: int) -> int:
    """Brute force: the first k at which the vote of answers[:k] is settled (else n)."""
    for k in range(1, n + 1):
        counts = [answers[:k].count(a) for a in dict.fromkeys(answers[:k])]
        if vote_settled(counts, n - k):
            return k
    return n


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=9))
def test_settled_rule_stops_exactly_when_settled_and_keeps_the_winner(answers):
    n = len(answers)
    early, generator = run_sc(answers, n, "settled")
    full, _ = run_sc(answers, n, "none")
    assert generator.completions_made == first_settled(answers, n)
    assert early.answer == full.answer


def test_settled_example():
    result, generator = run_sc(["4", "5", "4", "4", "4", "5", "5"], 7, "settled")
    # After 4 samples: 3 vs 1 with 3 left (3 > 1 + 3 fails); after 5: 4 vs 1 with 2 left
    # (4 > 1 + 2 holds): stop, two samples unspent.
    assert generator.completions_made == 5
    assert result.answer == "4"
    assert result.usage.llm_calls == 5


def test_confidence_rule_stops_after_four_agreeing_samples():
    result, generator = run_sc(["7"] * 16, 16, "confidence")
    assert generator.completions_made == 4
    assert result.answer == "7"
