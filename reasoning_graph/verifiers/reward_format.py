"""The reward-model prompt format and scoring flow, shared by the two reward-model verifiers.

`RewardModelVerifier` (vLLM over HTTP) and `TransformersRewardVerifier` (transformers, in
process) differ only in how they run the model. Both put a marker after every step, render
the question and the marked steps as a chat or a plain text, read a step's score as the
positive-class probability at its marker, and fold step scores into a solution score. That
part is `RewardFormat`; `RewardModel` is the base class that turns its two hooks (score a whole
solution, score the marked steps) into `score` and `score_steps`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, get_args

from reasoning_graph.errors import ConfigurationError, ProviderResponseError
from reasoning_graph.messages import ChatMessage
from reasoning_graph.steps import DEFAULT_STEP_SEPARATOR, StepAggregation, check_aggregation
from reasoning_graph.usage import TokenUsage, add_usage, zero_usage
from reasoning_graph.verifiers.base import StepVerdict, Verdict, gather_charged
from reasoning_graph.verifiers.step_scoring import score_by_steps

__all__ = [
    "PRM_SYSTEM_PROMPT",
    "PromptFormat",
    "RewardFormat",
    "RewardKind",
    "RewardModel",
    "RewardOptions",
]

RewardKind = Literal["process", "outcome"]
"""`"process"`: a PRM scoring every step; `"outcome"`: an ORM scoring the whole solution."""

PromptFormat = Literal["chat", "text"]
"""`"chat"`: a system, user and assistant turn, rendered with the model's chat template
(Qwen2.5-Math PRM/RM); `"text"`: the question and steps as one plain string (Math-Shepherd)."""

PRM_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
"""The system prompt the Qwen2.5-Math reward models were trained with."""

_ROW_TOLERANCE = 1e-4  # float noise a probability may show outside [0, 1]


class RewardOptions(TypedDict, total=False):
    """The prompt-format keywords both reward-model verifiers take; each is a `RewardFormat`
    field, and an omitted one takes that field's default.

    Example:
        ```python
        RewardModelVerifier(url, "peiyi9979/math-shepherd-mistral-7b-prm",
                            step_marker=" ки", prompt_format="text", positive_index=0)
        ```
    """

    kind: RewardKind
    step_separator: str
    step_marker: str
    prompt_format: PromptFormat
    system_prompt: str | None
    positive_index: int
    aggregation: StepAggregation


@dataclass(frozen=True)
class RewardFormat:
    """How a reward model is prompted and read.

    Attributes:
        kind: `"process"` (default) or `"outcome"`; see `RewardKind`.
        step_separator: What separates steps in a solution given to `score()`. Defaults to
            a blank line.
        step_marker: Text put after every step, where a PRM reads the step's score.
            Defaults to Qwen2.5-Math-PRM's `<extra_0>` (Math-Shepherd: `" ки"`).
        prompt_format: `"chat"` (default) or `"text"`; see `PromptFormat`.
        system_prompt: System message of the `"chat"` format; `None` sends none. Defaults to
            `PRM_SYSTEM_PROMPT`.
        positive_index: Which class probability means "correct" (default 1, Qwen's). A row
            with a single value is taken as the score itself.
        aggregation: How `score()` folds the step scores (default `"last"`); see
            `StepAggregation`.

    Raises:
        ConfigurationError: A field is out of range or not one of its choices.
    """

    kind: RewardKind = "process"
    step_separator: str = DEFAULT_STEP_SEPARATOR
    step_marker: str = "<extra_0>"
    prompt_format: PromptFormat = "chat"
    system_prompt: str | None = PRM_SYSTEM_PROMPT
    positive_index: int = 1
    aggregation: StepAggregation = "last"

    def __post_init__(self) -> None:
        if self.kind not in get_args(RewardKind):
            raise ConfigurationError(f"kind={self.kind!r} is not one of 'process', 'outcome'.")
        if self.prompt_format not in get_args(PromptFormat):
            raise ConfigurationError(
                f"prompt_format={self.prompt_format!r} is not 'chat' or 'text'."
            )
        check_aggregation(self.aggregation)
        if not self.step_marker or not self.step_separator:
            raise ConfigurationError("step_marker and step_separator must not be empty.")
        if self.positive_index < 0:
            raise ConfigurationError(f"positive_index={self.positive_index!r} must be >= 0.")

    def clean(self, steps: Sequence[str]) -> list[str]:
        """The steps stripped, with any marker inside them blanked out."""
        return [step.replace(self.step_marker, " ").strip() for step in steps]

    def marked(self, steps: Sequence[str]) -> str:
        """The steps joined with the marker after each one, as a PRM reads them."""
        return "".join(f"{step}{self.step_marker}" for step in steps)

    def prefixes(self, steps: Sequence[str]) -> list[str]:
        """Each prefix `steps[:i + 1]` joined by the separator, for an outcome model."""
        return [self.step_separator.join(steps[: i + 1]) for i in range(len(steps))]

    def prompt(self, question: str, answer: str) -> str | list[ChatMessage]:
        """The plain text (`"text"` format) or the chat turns (`"chat"`) of one request."""
        if self.prompt_format == "text":
            return f"{question} {answer}"
        messages: list[ChatMessage] = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt})
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        return messages

    def probability(self, row: Sequence[Any], *, where: str, hint: str = "") -> float:
        """The positive-class probability of one row, checked to lie in [0, 1].

        Raises:
            ProviderResponseError: The row has no number in [0, 1] at `positive_index`; the
                message names `where` and ends with `hint`.
        """
        index = 0 if len(row) == 1 else self.positive_index
        value = row[index] if index < len(row) else None
        if not isinstance(value, int | float) or not (
            -_ROW_TOLERANCE <= value <= 1 + _ROW_TOLERANCE
        ):
            raise ProviderResponseError(
                f"{where} returned the row {list(row)!r}, which has no probability at "
                f"positive_index={self.positive_index}. Check positive_index{hint}."
            )
        return min(max(float(value), 0.0), 1.0)


class RewardModel(ABC):
    """A `StepVerifier` over a reward model: `score` and `score_steps` from two hooks.

    A process model scores the marked steps in one pass (`_process`); `score()` splits the
    solution and folds the step scores with the format's `aggregation`. An outcome model
    scores a whole text (`_outcome`); its `score_steps()` scores each prefix of the steps.
    A reward model generates nothing, so `reserve_tokens` is 0; each pass is one call
    (`reserve_calls`: a score is one pass, a step score at most one).
    """

    _format: RewardFormat

    @abstractmethod
    async def _outcome(self, question: str, solution: str) -> tuple[float, TokenUsage]:
        """The probability that `solution` is correct, and what the pass cost."""

    @abstractmethod
    async def _process(self, question: str, steps: list[str]) -> tuple[list[float], TokenUsage]:
        """One score per (cleaned, non-empty list of) steps, and what the pass cost."""

    @property
    def reserve_tokens(self) -> int:
        """0: a reward model generates no tokens."""
        return 0

    @property
    def reserve_calls(self) -> int:
        """1: one score is one pass of the reward model, one call against `max_calls`."""
        return 1

    async def score(self, question: str, solution: str) -> Verdict:
        """Score `solution`: the aggregated step scores (process) or the classifier's (outcome).

        Raises:
            ProviderError: The model could not be run or answered with something unusable.
        """
        if self._format.kind == "outcome":
            probability, usage = await self._outcome(question, solution)
            return Verdict(
                score=probability, usage=usage, rationale=f"P(correct)={probability:.3f}"
            )
        return await score_by_steps(
            self,
            question,
            solution,
            separator=self._format.step_separator,
            aggregation=self._format.aggregation,
        )

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        """Score each step of a solution given as `steps`.

        Returns:
            One score per step: one pass over the marked steps (process) or one pass per
            prefix (outcome). No pass is made for no steps.

        Raises:
            ProviderError: The model could not be run, or returned scores that do not match
                the steps (the message says what to check).
        """
        clean = self._format.clean(steps)
        if not clean:
            return StepVerdict(step_scores=[], usage=zero_usage())
        if self._format.kind == "outcome":
            prefixes = self._format.prefixes(clean)
            parts = await gather_charged(
                (self._outcome(question, p) for p in prefixes), lambda part: part[1]
            )
            usage = zero_usage()
            for _, part_usage in parts:
                usage = add_usage(usage, part_usage)
            scores = [p for p, _ in parts]
        else:
            scores, usage = await self._process(question, clean)
        shown = ", ".join(f"{s:.3f}" for s in scores)
        return StepVerdict(step_scores=scores, usage=usage, rationale=f"step scores: {shown}")
