"""Fit a policy's difficulty prior (`reasoning_graph.prior`) on a calibration split.

The label of a question is "solvable": `self_consistency` at `n = solvable_n` answered it
right. Two logistic regressions (scikit-learn, imported only here) are fitted on it:

1. the **question model** over the question's text features (`question_features`);
2. the **score model** over the probe's signals and `logit(prior)`, where each question's
   prior is its **out-of-fold** prediction (5 folds, by position), so the score model learns
   how much a prior it never saw its own question in is worth, as at run time.

Inputs are standardised with the calibration mean and (population) standard deviation;
an input no question has, or one that never varies, is left out of the model. A missing
value counts as the mean.

The give-up threshold is the largest out-of-fold prior below which at most
`give_up_loss * questions` solvable questions lie (`give_up_threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.prior import (
    FEATURES,
    SIGNALS,
    DifficultyPrior,
    LinearModel,
    difficulty_score,
    logit,
    question_features,
)

__all__ = ["Split", "auroc", "fit_difficulty_prior", "fit_linear", "give_up_threshold"]

_FOLDS = 5
Row = Mapping[str, float | None]
Split = tuple[Mapping[str, str], Mapping[str, Row], Mapping[str, bool]]
"""A split's questions, probe signals (without `prior`) and labels, by example id."""


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The area under the ROC curve of `scores` for `labels` (ties count half); `None`
    when one class is missing.

    Example:
        ```python
        auroc([0.9, 0.2, 0.6], [True, False, False])  # 1.0
        ```
    """
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def fit_linear(
    rows: Sequence[Row], labels: Sequence[bool], inputs: Sequence[str], *, c: float = 1.0
) -> LinearModel:
    """A logistic regression (L2, inverse strength `c`) of `labels` on the named inputs.

    Raises:
        ConfigurationError: Every label is the same, or scikit-learn is not installed.
    """
    if len(set(labels)) < 2:
        raise ConfigurationError(
            f"every one of the {len(labels)} calibration questions is "
            f"{'solvable' if labels and labels[0] else 'unsolvable'}; a prior needs both: "
            "calibrate on a split with easier and harder questions"
        )
    kept, means, scales = [], [], []
    for name in inputs:
        values = [x for row in rows if (x := row.get(name)) is not None]
        if not values:
            continue
        mean = sum(values) / len(values)
        scale = math.sqrt(sum((x - mean) ** 2 for x in values) / len(values))
        if scale > 1e-12:
            kept.append(name)
            means.append(mean)
            scales.append(scale)
    base_rate = sum(labels) / len(labels)
    if not kept:
        return LinearModel(inputs=[], mean=[], scale=[], coef=[], intercept=logit(base_rate))
    matrix = [
        [
            0.0 if (x := row.get(name)) is None else (x - mu) / s
            for name, mu, s in zip(kept, means, scales, strict=True)
        ]
        for row in rows
    ]
    model = _logistic_regression(c).fit(matrix, [int(y) for y in labels])
    return LinearModel(
        inputs=kept,
        mean=means,
        scale=scales,
        coef=[float(w) for w in model.coef_[0]],
        intercept=float(model.intercept_[0]),
    )


def give_up_threshold(priors: Sequence[float], labels: Sequence[bool], loss: float) -> float | None:
    """The largest threshold with at most `loss * len(priors)` solvable questions below it;
    `None` when it would give up no question.

    Example:
        ```python
        give_up_threshold([0.1, 0.2, 0.3, 0.9], [False, False, True, True], 0.0)  # 0.3
        ```
    """
    allowed = math.floor(loss * len(priors))
    solvable = sorted(p for p, y in zip(priors, labels, strict=True) if y)
    if allowed >= len(solvable):
        return None  # every solvable question may be lost: a prior is no reason for that
    threshold = solvable[allowed]
    return threshold if any(p < threshold for p in priors) else None


def fit_difficulty_prior(
    calibration: Split,
    *,
    solvable_n: int,
    give_up_loss: float | None = None,
    heldout: Split | None = None,
) -> tuple[DifficultyPrior, dict[str, float]]:
    """Fit the question and score models; return the prior and the difficulty score (from
    its out-of-fold prior) of each calibration question not given up, by example id (of
    every one, should all be given up).

    Args:
        calibration: The calibration split's questions, probe signals and labels.
        solvable_n: The `n` the labels were taken at (recorded in the prior).
        give_up_loss: Share of the calibration questions that giving up may lose (solvable
            ones given up); `None`: never give up.
        heldout: A split calibration did not see, to report AUROCs on.
    """
    questions, signals, labels = calibration
    ids = sorted(i for i in labels if i in questions and i in signals)
    y = [labels[i] for i in ids]
    features = [question_features(questions[i]) for i in ids]
    question_model = fit_linear(features, y, FEATURES)
    priors = _out_of_fold(features, y)
    rows = [{**signals[i], "prior": logit(p)} for i, p in zip(ids, priors, strict=True)]
    score_model = fit_linear(rows, y, SIGNALS)
    threshold = None if give_up_loss is None else give_up_threshold(priors, y, give_up_loss)
    given_up = [p < threshold for p in priors] if threshold is not None else [False] * len(ids)
    evidence: dict[str, Any] = {
        "questions": len(ids),
        "solvable": sum(y),
        "prior_auroc_in_sample": _round(
            auroc([question_model.probability(f) for f in features], y)
        ),
        "prior_auroc_out_of_fold": _round(auroc(priors, y)),
        "score_auroc_in_sample": _round(auroc([score_model.probability(r) for r in rows], y)),
        "given_up": sum(given_up),
        "solvable_given_up": sum(g and label for g, label in zip(given_up, y, strict=True)),
        "give_up_loss": give_up_loss,
    }
    prior = DifficultyPrior(
        solvable_n=solvable_n,
        question=question_model,
        score=score_model,
        give_up_below=threshold,
        evidence=evidence,
    )
    if heldout is not None:
        evidence.update(_heldout_evidence(prior, heldout))
        prior = prior.model_copy(update={"evidence": evidence})
    scores = {
        i: difficulty_score(prior, row)
        for i, row, gone in zip(ids, rows, given_up, strict=True)
        if not gone or all(given_up)
    }
    return prior, scores


def _heldout_evidence(prior: DifficultyPrior, heldout: Split) -> dict[str, Any]:
    """AUROCs of the prior and of the combined score on a split calibration never saw."""
    questions, signals, labels = heldout
    ids = sorted(i for i in labels if i in questions)
    y = [labels[i] for i in ids]
    priors = [prior.question.probability(question_features(questions[i])) for i in ids]
    probed = [(i, p) for i, p in zip(ids, priors, strict=True) if i in signals]
    solvability = [
        1.0 - difficulty_score(prior, {**signals[i], "prior": logit(p)}) for i, p in probed
    ]
    return {
        "heldout_questions": len(ids),
        "heldout_prior_auroc": _round(auroc(priors, y)),
        "heldout_score_auroc": _round(auroc(solvability, [labels[i] for i, _ in probed])),
    }


def _out_of_fold(features: Sequence[Row], labels: Sequence[bool]) -> list[float]:
    """Each question's prior from a question model fitted without its fold (fold = position
    modulo 5); a fold whose rest has one class only gets the rest's solvable share."""
    priors = [0.0] * len(labels)
    for fold in range(_FOLDS):
        train = [k for k in range(len(labels)) if k % _FOLDS != fold]
        test = [k for k in range(len(labels)) if k % _FOLDS == fold]
        if not test:
            continue
        train_labels = [labels[k] for k in train]
        if len(set(train_labels)) < 2:
            share = sum(train_labels) / len(train_labels) if train_labels else 0.5
            for k in test:
                priors[k] = share
            continue
        model = fit_linear([features[k] for k in train], train_labels, FEATURES)
        for k in test:
            priors[k] = model.probability(features[k])
    return priors


def _logistic_regression(c: float) -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ConfigurationError(
            "fitting a difficulty prior needs scikit-learn: pip install 'reasoning-graph[bench]'"
        ) from None
    return LogisticRegression(C=c, max_iter=1000)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
