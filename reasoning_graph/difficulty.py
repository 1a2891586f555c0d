"""Difficulty from a first wave of samples: their agreement and their verifier scores."""

from __future__ import annotations

import math
from collections.abc import Sequence

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.state import Candidate, Difficulty

__all__ = ["DIFFICULTY_BINS", "difficulty_bin", "estimate_difficulty"]

DIFFICULTY_BINS = 5


def difficulty_bin(score: float) -> int:
    """Map a difficulty score in [0, 1] to a bin 1 (easiest) .. 5 (hardest), equal widths."""
    return min(DIFFICULTY_BINS, 1 + int(score * DIFFICULTY_BINS))


def estimate_difficulty(wave: Sequence[Candidate], matcher: AnswerMatcher) -> Difficulty:
    """Estimate difficulty from the first wave of candidates.

    Agreement is the share of the wave that gives the most common answer (a sample with no
    answer counts against it). Difficulty is one minus the mean of the signals available:
    agreement (two samples or more), the mean verifier score (when candidates were scored)
    and the token confidence, exp(mean token log-probability) (when the provider returned
    log-probabilities). With one sample and neither of the others, score and bin are `None`.
    """
    agreement: float | None = None
    if len(wave) >= 2:
        groups = matcher.groups([c["answer"] for c in wave])
        agreement = max((len(g) for g in groups), default=0) / len(wave)
    scores = [c["score"] for c in wave if c["score"] is not None]
    mean_score = sum(scores) / len(scores) if scores else None
    logprobs = [lp for c in wave if (lp := c.get("mean_logprob")) is not None]
    confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else None
    signals = [s for s in (agreement, mean_score, confidence) if s is not None]
    score = 1.0 - sum(signals) / len(signals) if signals else None
    return {
        "score": score,
        "bin": difficulty_bin(score) if score is not None else None,
        "agreement": agreement,
        "mean_verifier_score": mean_score,
        "token_confidence": confidence,
        "samples": len(wave),
    }
