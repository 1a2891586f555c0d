"""Early stopping for voting: stop sampling once more samples cannot (or will hardly) change
the winner. Pure functions over vote counts.

- `vote_settled`: the leader cannot be overturned by the samples the plan has left, even if
  every one of them joined the runner-up (the exact rule).
- `leader_confidence`: the probability that the leader's answer is more common than the
  runner-up's under a uniform prior, as in Adaptive-Consistency's Beta stopping rule:
  with `a` and `b` votes, P(p_a > p_b) for p_a / (p_a + p_b) ~ Beta(a + 1, b + 1), which for
  whole counts is P(Binomial(a + b + 1, 1/2) <= a).
- `consensus_share`: the leading answer's share of the vote weight, `V(a*) / sum_a V(a)`,
  where `V(a)` sums the confidence of the samples giving answer `a` (DeepConf's online
  consensus; plain counts when the samples carry no confidence). DeepConf stops at 0.95.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

__all__ = ["consensus_share", "leader_confidence", "should_stop", "vote_settled"]

MIN_CONSENSUS_VOTES = 2
"""The `consensus` rule never stops on fewer answered samples than this: one sample is
always unanimous."""


def _top_two(counts: Sequence[int]) -> tuple[int, int]:
    ordered = sorted(counts, reverse=True)
    return (ordered[0] if ordered else 0), (ordered[1] if len(ordered) > 1 else 0)


def vote_settled(counts: Sequence[int], remaining: int) -> bool:
    """Return whether the leading answer wins however the `remaining` samples vote.

    Strict: a possible tie is not settled, since a tie may go to the other answer.

    Example:
        ```python
        vote_settled([5, 2], remaining=2)  # True: 5 > 2 + 2
        vote_settled([5, 3], remaining=2)  # False: 3 + 2 could tie
        ```
    """
    leader, runner_up = _top_two(counts)
    return leader > runner_up + remaining


def leader_confidence(counts: Sequence[int]) -> float:
    """P(the leading answer is truly more common than the runner-up), Beta(a+1, b+1) prior.

    Example:
        ```python
        leader_confidence([4])     # 31/32 = 0.969: four agreeing samples
        leader_confidence([2, 2])  # 0.5
        ```
    """
    leader, runner_up = _top_two(counts)
    trials = leader + runner_up + 1
    favourable: int = sum(comb(trials, k) for k in range(leader + 1))
    return favourable / (1 << trials)


def consensus_share(weights: Sequence[float]) -> float:
    """The leading answer's share of the total vote weight (0 with no weight at all).

    Example:
        ```python
        consensus_share([3.0, 1.0])  # 0.75
        ```
    """
    total = sum(weights)
    return max(weights) / total if total > 0 else 0.0


def should_stop(
    counts: Sequence[int],
    remaining: int,
    *,
    rule: str,
    confidence: float = 0.95,
    weights: Sequence[float] | None = None,
) -> bool:
    """Apply an early-stopping `rule` (`none`, `settled`, `confidence` or `consensus`) to
    vote counts; `consensus` weighs each answer's group by `weights` (its summed
    confidence) when given, else by its count."""
    if rule == "none" or remaining <= 0 or not counts:
        return False
    if vote_settled(counts, remaining):
        return True
    if rule == "consensus":
        share = consensus_share(weights if weights is not None else counts)
        return sum(counts) >= MIN_CONSENSUS_VOTES and share >= confidence
    return rule == "confidence" and leader_confidence(counts) >= confidence
