"""A question's difficulty prior, and the one continuous difficulty score it feeds.

`compute_optimal` learns how hard a question is from two kinds of evidence: what the question
looks like, before any sample is drawn (the **prior**), and what its probe's samples did. A
`DifficultyPrior` (fitted by `reasoning-graph calibrate --prior`, stored in the policy JSON as
plain numbers) turns both into one score.

**Question features** (`question_features`, plain text, no model): `chars` (log(1 + length)),
`words`, `numbers` (numerals in the text), `digits`, `max_digits` (digits of the longest
numeral's integer part), `operators` (`+ - * / × ÷ ^ %` signs), `parentheses` (opening
brackets), `decimals` (numerals with a fractional part).

**Logistic model** (`LinearModel`): inputs `x_1..x_m` by name, standardised with the
calibration mean `mu_j` and scale `s_j`:

    P = sigmoid(b + sum_j w_j * (x_j - mu_j) / s_j)

An input a run lacks takes its mean `mu_j`, so it moves nothing.

1. **Prior**: `p = P(solvable at n = solvable_n | question)`, the question model over the
   question features (`prior_probability`).
2. **Difficulty score** (`difficulty_score`): one minus the score model's probability of
   being solvable, over the signals (`SIGNALS`) `prior` (`logit(p)`), `agreement` (the
   probe's majority share), `confidence` (the probe's mean DeepConf token confidence,
   `Candidate["confidence"]["mean"]`), `token_probability` (exp of the probe's mean token
   logprob) and `verifier` (the probe's mean verifier score):

       difficulty = 1 - sigmoid(c + sum_k v_k * (z_k - m_k) / t_k)

   It is continuous (a logistic of a continuous prior), so two questions whose probes agree
   alike still differ, and the policy's quantile bins do not collapse.
3. **Giving up**: when `p < give_up_below`, the run draws one sample and no probe (the paper's
   hardest bin: more samples would not find the answer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FEATURES",
    "SIGNALS",
    "DifficultyPrior",
    "Feature",
    "LinearModel",
    "Signal",
    "difficulty_score",
    "logit",
    "prior_probability",
    "probe_signals",
    "question_features",
    "sigmoid",
]

Feature = Literal[
    "chars", "words", "numbers", "digits", "max_digits", "operators", "parentheses", "decimals"
]
"""A plain-text feature of a question (see the module docstring)."""
FEATURES: tuple[Feature, ...] = (
    "chars",
    "words",
    "numbers",
    "digits",
    "max_digits",
    "operators",
    "parentheses",
    "decimals",
)

Signal = Literal["prior", "agreement", "confidence", "token_probability", "verifier"]
"""A signal the difficulty score combines (see the module docstring)."""
SIGNALS: tuple[Signal, ...] = ("prior", "agreement", "confidence", "token_probability", "verifier")

_NUMERAL = re.compile(r"\d+(?:\.\d+)?")
_OPERATORS = frozenset("+-*/×÷^%")
_EDGE = 1e-6  # probabilities are clipped to [_EDGE, 1 - _EDGE] before a logit


def sigmoid(x: float) -> float:
    """The logistic function, `1 / (1 + exp(-x))`, without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    """`log(p / (1 - p))`, with `p` clipped into `[1e-6, 1 - 1e-6]`."""
    p = min(1.0 - _EDGE, max(_EDGE, p))
    return math.log(p / (1.0 - p))


def question_features(question: str) -> dict[str, float]:
    """The plain-text features of a question, by name (`FEATURES`).

    Example:
        ```python
        question_features("Calculate 17 + 2.5.")["max_digits"]  # 2.0
        ```
    """
    numerals = _NUMERAL.findall(question)
    return {
        "chars": math.log1p(len(question)),
        "words": float(len(question.split())),
        "numbers": float(len(numerals)),
        "digits": float(sum(ch.isdigit() for ch in question)),
        "max_digits": float(max((len(n.split(".")[0]) for n in numerals), default=0)),
        "operators": float(sum(ch in _OPERATORS for ch in question)),
        "parentheses": float(question.count("(")),
        "decimals": float(sum("." in n for n in numerals)),
    }


class LinearModel(BaseModel):
    """A logistic model over named inputs: `sigmoid(b + sum_j w_j (x_j - mu_j) / s_j)`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    @model_validator(mode="after")
    def _consistent(self) -> LinearModel:
        sizes = {len(self.inputs), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1:
            raise ValueError("inputs, mean, scale and coef must have the same length")
        if any(s <= 0 for s in self.scale):
            raise ValueError(f"every scale must be positive, got {self.scale}")
        return self

    def probability(self, values: Mapping[str, float | None]) -> float:
        """The model's probability; an input missing from `values` (or `None`) takes its mean."""
        total = self.intercept
        for name, mu, s, w in zip(self.inputs, self.mean, self.scale, self.coef, strict=True):
            x = values.get(name)
            total += w * ((mu if x is None else x) - mu) / s
        return sigmoid(total)


class DifficultyPrior(BaseModel):
    """A policy's learned difficulty: the question prior and the score model over signals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    solvable_n: int = Field(ge=1)
    """The label both models were fitted on: `self_consistency` at this `n` was right."""
    question: LinearModel
    """`P(solvable | question features)`; its inputs are `FEATURES` names."""
    score: LinearModel
    """`P(solvable | signals)`; its inputs are `SIGNALS` names; difficulty = 1 - this."""
    give_up_below: float | None = Field(default=None, ge=0.0, le=1.0)
    """A prior below this gives up: one sample, no probe. `None`: never give up."""
    evidence: dict[str, Any] = Field(default_factory=dict)
    """What calibration measured (AUROCs, questions given up); not used at run time."""

    @model_validator(mode="after")
    def _known_inputs(self) -> DifficultyPrior:
        for model, known in ((self.question, FEATURES), (self.score, SIGNALS)):
            unknown = [name for name in model.inputs if name not in known]
            if unknown:
                raise ValueError(f"unknown inputs {unknown}; known: {', '.join(known)}")
        return self


def prior_probability(prior: DifficultyPrior, question: str) -> float:
    """`p`: the probability that the question is solvable, from its text alone."""
    return prior.question.probability(question_features(question))


def probe_signals(
    prior: float | None,
    *,
    agreement: float | None,
    confidences: Sequence[float | None] = (),
    token_probability: float | None = None,
    verifier: float | None = None,
) -> dict[str, float | None]:
    """The score model's inputs: `logit(prior)`, and the probe's signals as measured.

    `confidences` are the probe samples' mean token confidences (`None` for a sample
    without); their mean is the `confidence` signal.
    """
    measured = [c for c in confidences if c is not None]
    return {
        "prior": None if prior is None else logit(prior),
        "agreement": agreement,
        "confidence": sum(measured) / len(measured) if measured else None,
        "token_probability": token_probability,
        "verifier": verifier,
    }


def difficulty_score(prior: DifficultyPrior, signals: Mapping[str, float | None]) -> float:
    """The continuous difficulty in (0, 1): one minus the score model's probability."""
    return 1.0 - prior.score.probability(signals)
