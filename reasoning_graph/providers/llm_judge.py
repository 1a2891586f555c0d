"""`LLMJudge`: a verifier that asks a generator whether a solution is correct."""

from __future__ import annotations

import math
import re

from reasoning_graph.prompts import judge_messages
from reasoning_graph.providers.base import Completion, Generator, Verdict

__all__ = ["LLMJudge"]

_YES = re.compile(r"^\W*(yes|correct|true)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|incorrect|wrong|false)\b", re.IGNORECASE)


def _verdict_probability(completion: Completion) -> float | None:
    """P(yes) from the first token's top log-probabilities, when the provider gave them."""
    if not completion.logprobs:
        return None
    first = completion.logprobs[0]
    alternatives = dict(first.top_logprobs) or {first.token: first.logprob}
    yes = sum(math.exp(lp) for tok, lp in alternatives.items() if _YES.match(tok))
    no = sum(math.exp(lp) for tok, lp in alternatives.items() if _NO.match(tok))
    if yes + no == 0.0:
        return None
    return yes / (yes + no)


def _parsed_verdict(text: str) -> float:
    if _YES.match(text):
        return 1.0
    if _NO.match(text):
        return 0.0
    return 0.5  # no verdict: neither for nor against


class LLMJudge:
    """Grades a solution by asking a model "is this correct? Yes or No".

    The score is P(Yes) / (P(Yes) + P(No)) from the verdict token's log-probabilities when
    the generator returns them, and otherwise 1.0, 0.0 or 0.5 for a parsed Yes, No or
    neither. The problem and solution are fenced as quoted data in the prompt.

    Args:
        generator: The model that judges; often the same one that generates.
        max_tokens: Completion tokens per verdict; the budget reserves this much per score.
        logprobs: Ask for log-probabilities of the verdict token.

    Example:
        ```python
        judge = LLMJudge(OpenAIProvider("gpt-4o-mini"))
        verdict = await judge.score("What is 2 + 2?", "2 + 2 = 4. The answer is 4.")
        verdict.score  # close to 1.0
        ```
    """

    def __init__(self, generator: Generator, *, max_tokens: int = 4, logprobs: bool = True):
        self._generator = generator
        self._max_tokens = max_tokens
        self._logprobs = logprobs

    @property
    def reserve_tokens(self) -> int:
        """Completion tokens one verdict may spend."""
        return self._max_tokens

    async def score(self, question: str, solution: str) -> Verdict:
        """Ask the judge model for a verdict on `solution`."""
        generation = await self._generator.generate(
            judge_messages(question, solution),
            n=1,
            max_tokens=self._max_tokens,
            temperature=0.0,
            seed=0,
            logprobs=self._logprobs,
            top_logprobs=10 if self._logprobs else 0,
        )
        completion = generation.completions[0]
        probability = _verdict_probability(completion)
        score = probability if probability is not None else _parsed_verdict(completion.text)
        return Verdict(score=score, usage=generation.usage, rationale=completion.text.strip())

    async def aclose(self) -> None:
        """Close what the judge's generator holds for the running event loop, if anything."""
        close = getattr(self._generator, "aclose", None)
        if close is not None:
            await close()

    def __repr__(self) -> str:
        return f"LLMJudge({self._generator!r}, max_tokens={self._max_tokens})"
