"""`EnsembleVerifier`: several verifiers scored at once and combined, surviving failed members."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Literal, get_args

from reasoning_graph.errors import ConfigurationError, ProviderError, ProviderUnavailableError
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage
from reasoning_graph.verifiers.base import (
    StepVerdict,
    StepVerifier,
    Verdict,
    Verifier,
    calls_per_score,
)

__all__ = ["EnsembleCombine", "EnsembleVerifier"]

EnsembleCombine = Literal["mean", "min", "max"]
"""How member scores combine: `"mean"` (weighted by `weights`), `"min"` (every member must
agree the solution is good) or `"max"` (any member may vouch for it)."""


class EnsembleVerifier:
    """Combine verifiers (say a PRM, an LLM judge and a checker) into one score.

    Members score concurrently. A member that raises `ProviderError` (its backend is down or
    answered garbage), or that cannot score steps when steps are asked for, is left out and
    named in the verdict's rationale; the rest still combine. Only when every member fails
    does the ensemble fail, with `ProviderUnavailableError`. Other exceptions are bugs and
    propagate.

    Args:
        verifiers: The members, at least one.
        weights: One non-negative weight per member for `"mean"`, renormalised over the
            members that answered. Defaults to equal weights.
        how: How scores combine; see `EnsembleCombine`. Defaults to `"mean"`.

    Example:
        ```python
        ensemble = EnsembleVerifier([prm, LLMJudge(generator)], weights=[2.0, 1.0])
        verdict = await ensemble.score(question, solution)
        ```
    """

    def __init__(
        self,
        verifiers: Sequence[Verifier],
        *,
        weights: Sequence[float] | None = None,
        how: EnsembleCombine = "mean",
    ) -> None:
        members = list(verifiers)
        if not members:
            raise ConfigurationError("verifiers is empty; pass at least one verifier.")
        if how not in get_args(EnsembleCombine):
            raise ConfigurationError(f"how={how!r} is not one of 'mean', 'min', 'max'.")
        resolved = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(resolved) != len(members):
            raise ConfigurationError(
                f"weights has {len(resolved)} entries for {len(members)} verifiers; "
                "give one weight per verifier."
            )
        if any(w < 0 or not math.isfinite(w) for w in resolved) or sum(resolved) <= 0:
            raise ConfigurationError(f"weights={resolved!r} must be finite, >= 0, and not all 0.")
        self._members = members
        self._weights = resolved
        self._how: EnsembleCombine = how

    @property
    def reserve_tokens(self) -> int:
        """The members' reserves summed: every member may score each solution."""
        return sum(member.reserve_tokens for member in self._members)

    @property
    def reserve_calls(self) -> int:
        """The members' calls per score summed: every member may score each solution."""
        return sum(calls_per_score(member) for member in self._members)

    @property
    def verifiers(self) -> list[Verifier]:
        """The members, in order (a copy)."""
        return list(self._members)

    def __repr__(self) -> str:
        return f"EnsembleVerifier({self._members!r}, weights={self._weights!r}, how={self._how!r})"

    async def score(self, question: str, solution: str) -> Verdict:
        """Score `solution` with every member and combine the scores that came back.

        Raises:
            ProviderUnavailableError: Every member failed.
        """
        results = await asyncio.gather(
            *(member.score(question, solution) for member in self._members),
            return_exceptions=True,
        )
        scores: list[tuple[int, float]] = []
        notes: list[str] = []
        usage = zero_usage()
        for index, result in enumerate(results):
            if isinstance(result, ProviderError):
                notes.append(f"{self._label(index)} failed: {result}")
                usage = add_usage(usage, result.spent or zero_usage())
            elif isinstance(result, BaseException):
                raise result
            else:
                scores.append((index, result.score))
                usage = add_usage(usage, result.usage)
                notes.append(f"{self._label(index)}: {result.score:.3f}")
        if not scores:
            raise self._all_failed(notes, results, usage)
        combined = self._combine([s for _, s in scores], [self._weights[i] for i, _ in scores])
        return Verdict(score=combined, usage=usage, rationale="; ".join(notes))

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        """Score each step with every member that can, combining step by step.

        Members that are not `StepVerifier`s are left out and noted.

        Raises:
            ConfigurationError: No member can score steps.
            ProviderUnavailableError: Every member that can score steps failed.
        """
        able = [i for i, m in enumerate(self._members) if isinstance(m, StepVerifier)]
        notes = [
            f"{self._label(i)} skipped: no step scores"
            for i in range(len(self._members))
            if i not in able
        ]
        if not able:
            raise ConfigurationError(
                f"No member of {self!r} scores steps; add a process reward model, an LLMJudge "
                "or a ProgrammaticVerifier."
            )
        results = await asyncio.gather(
            *(_step_member(self._members[i]).score_steps(question, steps) for i in able),
            return_exceptions=True,
        )
        answered: list[tuple[int, list[float]]] = []
        usage: TokenUsage = zero_usage()
        for index, result in zip(able, results, strict=True):
            if isinstance(result, ProviderError):
                notes.append(f"{self._label(index)} failed: {result}")
                usage = add_usage(usage, result.spent or zero_usage())
            elif isinstance(result, BaseException):
                raise result
            else:
                usage = add_usage(usage, result.usage)  # spent, even if its scores are skipped
                if len(result.step_scores) != len(steps):
                    notes.append(
                        f"{self._label(index)} skipped: {len(result.step_scores)} scores for "
                        f"{len(steps)} steps"
                    )
                else:
                    answered.append((index, result.step_scores))
        if not answered:
            raise self._all_failed(notes, results, usage)
        weights = [self._weights[i] for i, _ in answered]
        combined = [
            self._combine([scores[step] for _, scores in answered], weights)
            for step in range(len(steps))
        ]
        return StepVerdict(step_scores=combined, usage=usage, rationale="; ".join(notes) or None)

    def _combine(self, scores: list[float], weights: list[float]) -> float:
        if self._how == "min":
            return min(scores)
        if self._how == "max":
            return max(scores)
        total = sum(weights)
        if total <= 0:  # every surviving member weighs 0: fall back to a plain mean
            return sum(scores) / len(scores)
        return min(1.0, max(0.0, sum(s * w for s, w in zip(scores, weights, strict=True)) / total))

    def _label(self, index: int) -> str:
        return f"#{index} {type(self._members[index]).__name__}"

    def _all_failed(
        self, notes: list[str], results: Sequence[object], spent: TokenUsage
    ) -> ProviderUnavailableError:
        error = ProviderUnavailableError(
            f"Every verifier of the ensemble failed or could not answer: {'; '.join(notes)}."
        )
        error.__cause__ = next((r for r in results if isinstance(r, BaseException)), None)
        error.spent = spent  # what the members spent before failing, charged all the same
        return error


def _step_member(member: Verifier) -> StepVerifier:
    assert isinstance(member, StepVerifier)
    return member
