"""`ProgrammaticVerifier`: any Python callable as a verifier (unit tests, a math checker)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from reasoning_graph.answers import AnswerMatcher, extract_answer
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.usage import zero_usage
from reasoning_graph.verifiers.base import StepVerdict, Verdict

__all__ = ["Check", "StepCheck", "ProgrammaticVerifier", "answer_checker"]

CheckResult: TypeAlias = float | bool
Check: TypeAlias = Callable[[str, str], CheckResult | Awaitable[CheckResult]]
"""`check(question, solution)`: `True`/`False` or a score in [0, 1], sync or async."""

StepCheck: TypeAlias = Callable[
    [str, Sequence[str]], Sequence[CheckResult] | Awaitable[Sequence[CheckResult]]
]
"""`check_steps(question, steps)`: one `True`/`False` or score per step, sync or async."""


class ProgrammaticVerifier:
    """Score solutions with a Python function: unit tests, an exact checker, a heuristic.

    The function says `True`/`False` (scored 1.0/0.0) or returns a score in [0, 1]. A wrong
    answer is a low score, never an exception: an exception raised by the function is a bug
    in the checker and propagates as is, so it is seen rather than silently scored 0. A sync
    function runs in a worker thread so that it does not block the event loop; an async one
    is awaited. No model is called: usage is zero and `reserve_tokens` is 0.

    Args:
        check: `check(question, solution)`; see `Check`.
        check_steps: `check_steps(question, steps)` scoring every step; see `StepCheck`.
            Defaults to scoring each prefix of the steps with `check`, joined by
            `step_separator`.
        name: A name for repr and rationales. Defaults to the function's name.
        step_separator: Joins steps into prefixes for the default `score_steps`.

    Example:
        ```python
        verifier = ProgrammaticVerifier(answer_checker("42"))
        (await verifier.score("6 * 7?", "6 * 7 = 42. The answer is 42.")).score  # 1.0
        ```
    """

    def __init__(
        self,
        check: Check,
        *,
        check_steps: StepCheck | None = None,
        name: str | None = None,
        step_separator: str = "\n\n",
    ) -> None:
        if not callable(check):
            raise ConfigurationError(f"check={check!r} is not callable; pass a function.")
        self._check = check
        self._check_steps = check_steps
        self._name = name or getattr(check, "__name__", type(check).__name__)
        self._separator = step_separator

    @property
    def reserve_tokens(self) -> int:
        """0: no model is called."""
        return 0

    @property
    def reserve_calls(self) -> int:
        """0: no model is called, so no score counts against `max_calls`."""
        return 0

    def __repr__(self) -> str:
        return f"ProgrammaticVerifier({self._name!r})"

    async def score(self, question: str, solution: str) -> Verdict:
        """Run the check on `solution`.

        Raises:
            ConfigurationError: The check returned something that is not a bool or a number
                in [0, 1].
            Exception: Whatever the check itself raised.
        """
        result = await _call(self._check, question, solution)
        score = self._as_score(result)
        return Verdict(score=score, usage=zero_usage(), rationale=f"{self._name}: {result!r}")

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        """Score every step with `check_steps`, or each prefix with `check`."""
        steps = list(steps)
        if self._check_steps is not None:
            raw = await _call(self._check_steps, question, steps)
            if len(raw) != len(steps):
                raise ConfigurationError(
                    f"{self._name}'s check_steps returned {len(raw)} scores for "
                    f"{len(steps)} steps; return one per step."
                )
            results = list(raw)
        else:
            prefixes = [self._separator.join(steps[: i + 1]) for i in range(len(steps))]
            results = list(
                await asyncio.gather(*(_call(self._check, question, p) for p in prefixes))
            )
        scores = [self._as_score(r) for r in results]
        return StepVerdict(step_scores=scores, usage=zero_usage(), rationale=self._name)

    def _as_score(self, result: object) -> float:
        if isinstance(result, bool):
            return 1.0 if result else 0.0
        if isinstance(result, (int, float)) and 0.0 <= result <= 1.0:
            return float(result)
        raise ConfigurationError(
            f"{self._name} returned {result!r}; a check returns True/False or a score in [0, 1]."
        )


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Await an async function; run a sync one in a worker thread."""
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004  # an object with an async __call__
    ):
        result = function(*args)
    else:
        result = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def answer_checker(gold: str) -> Callable[[str, str], bool]:
    """A check that the solution's final answer equals `gold`, by math-verify equivalence.

    The answer is read with `reasoning_graph.answers.extract_answer` (`\\boxed{}`, "the
    answer is X", else the last number); a solution with no answer fails.

    Example:
        >>> check = answer_checker("0.5")
        >>> check("Half of 1?", "It is 1/2, so the answer is \\\\frac{1}{2}.")
        True
    """
    if not gold.strip():
        raise ConfigurationError("gold is empty; pass the reference answer, e.g. '42'.")

    def check(question: str, solution: str) -> bool:
        answer = extract_answer(solution)
        return answer is not None and AnswerMatcher().same(gold, answer)

    check.__name__ = f"answer_checker({gold!r})"
    return check
