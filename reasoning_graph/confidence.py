"""Token confidence: how sure the model was while it wrote a trace, from its token logprobs.

The measures follow DeepConf (Fu et al. 2025, "Deep Think with Confidence";
facebookresearch/deepconf, `deepconf/utils.py`). For a trace of tokens `1..T`:

- **mean token logprob**: `(1/T) * sum_i log p_i(t_i)`, the sampled tokens' mean
  log-probability (at most 0; `exp` of it is the geometric mean token probability).
- **token confidence** of token `i`: `C_i = -(1/k) * sum_{j=1..k} log P_i(j)`, the negative
  mean of the `k` largest log-probabilities at that position (DeepConf's `k` is 20). It is
  large where the distribution is peaked, small where it is flat. A provider returns at
  most the `top_logprobs` alternatives asked for, so `k` is however many it gave for that
  position (llama.cpp merges alternatives that spell the same text). It needs `k >= 2` to
  mean anything (with one alternative it is `-log` of the top token's probability, which is
  small where the model is sure), so positions without alternatives are left out, and a
  trace with none has no token confidence: only its mean logprob.
- **mean confidence**: `(1/T) * sum_i C_i`.
- **group confidence** over a sliding window of `w` tokens: `G_s = (1/w) * sum_{i=s..s+w-1}
  C_i` for each start `s = 1..T-w+1`. DeepConf's window is 2048 tokens; a trace shorter
  than the window has one group, the whole trace (`G_1` = the mean confidence).
- **lowest group confidence**: `min_s G_s` (DeepConf-low; the signal of its online mode).
- **bottom group confidence**: the mean of the lowest 10% of the `G_s` (at least one).
- **tail confidence**: the mean `C_i` of the last `N` tokens (all of them when `T <= N`;
  DeepConf's `N` is 2048).

Every measure but the mean logprob is at least 0, and higher means more confident, so any of
them can weight a vote. A candidate carries them as one `Confidence` record
(`Candidate["confidence"]`), measured by `think` when the provider returned logprobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from typing_extensions import TypedDict

if TYPE_CHECKING:
    from reasoning_graph.providers.base import TokenLogprob

__all__ = [
    "BOTTOM_SHARE",
    "DEFAULT_TAIL",
    "DEFAULT_TOP_K",
    "DEFAULT_WINDOW",
    "Confidence",
    "ConfidenceMeasure",
    "ConfidenceSettings",
    "bottom_group_confidence",
    "confidence_value",
    "default_settings",
    "group_confidences",
    "lowest_group_confidence",
    "mean_logprob",
    "measure_confidence",
    "tail_confidence",
    "token_confidence",
    "token_confidences",
]

DEFAULT_WINDOW = 2048
"""DeepConf's group size: tokens per sliding window."""
DEFAULT_TAIL = 2048
"""DeepConf's tail: the last tokens the tail confidence averages."""
DEFAULT_TOP_K = 20
"""DeepConf's `k`: alternatives per token (`logprobs=20`); also OpenAI's and vLLM's cap."""
BOTTOM_SHARE = 0.1
"""The share of lowest groups the bottom group confidence averages (DeepConf's 10%)."""

ConfidenceMeasure = Literal["mean", "lowest_group", "bottom_group", "tail"]
"""Which measure of a `Confidence` record ranks and weights candidates: the mean token
confidence, the lowest group confidence, the mean of the lowest 10% of group confidences, or
the tail confidence (see the module docstring for the formulas)."""


class ConfidenceSettings(TypedDict):
    """How confidence is measured: the window, the tail and `k` alternatives per token."""

    window: int
    tail: int
    top_k: int


class Confidence(TypedDict):
    """A candidate's token confidence (see the module docstring for each formula)."""

    tokens: int
    """Positions measured (`T`): the trace's tokens that came with alternatives."""
    mean: float
    lowest_group: float
    bottom_group: float
    tail: float
    window: int
    """The window used: the setting, or `T` when the trace is shorter."""
    top_k: int
    """The most alternatives a position had (`k`)."""


def mean_logprob(logprobs: Sequence[TokenLogprob]) -> float | None:
    """The sampled tokens' mean log-probability; `None` for no tokens.

    Example:
        ```python
        mean_logprob([TokenLogprob(token="a", logprob=-1.0), TokenLogprob(token="b", logprob=0.0)])
        # -0.5
        ```
    """
    if not logprobs:
        return None
    return sum(t.logprob for t in logprobs) / len(logprobs)


def token_confidence(token: TokenLogprob, top_k: int = DEFAULT_TOP_K) -> float | None:
    """`C_i`: the negative mean of the `top_k` largest alternatives' logprobs at one position;
    `None` when the provider gave no alternatives there.

    Example:
        ```python
        token_confidence(TokenLogprob(token="4", logprob=-0.1, top_logprobs={"4": -0.1, "5": -2.3}))
        # 1.2
        ```
    """
    top = sorted(token.top_logprobs.values(), reverse=True)[: max(top_k, 1)]
    if not top:
        return None
    return -sum(top) / len(top)


def token_confidences(logprobs: Sequence[TokenLogprob], top_k: int = DEFAULT_TOP_K) -> list[float]:
    """`C_i` for every position of a trace that has alternatives, in order."""
    return [c for token in logprobs if (c := token_confidence(token, top_k)) is not None]


def group_confidences(confidences: Sequence[float], window: int = DEFAULT_WINDOW) -> list[float]:
    """The sliding-window means `G_s` of `window` consecutive token confidences, in order.

    A trace shorter than `window` is one group (its mean), as in DeepConf; no tokens, no
    groups.

    Example:
        ```python
        group_confidences([1.0, 2.0, 3.0, 5.0], window=2)  # [1.5, 2.5, 4.0]
        group_confidences([1.0, 2.0], window=4)  # [1.5]
        ```
    """
    if window < 1:
        raise ValueError(f"window={window!r} must be at least 1")
    if not confidences:
        return []
    if len(confidences) <= window:
        return [sum(confidences) / len(confidences)]
    running = sum(confidences[:window])
    groups = [running / window]
    for end in range(window, len(confidences)):
        running += confidences[end] - confidences[end - window]
        groups.append(running / window)
    return groups


def lowest_group_confidence(confidences: Sequence[float], window: int = DEFAULT_WINDOW) -> float:
    """`min_s G_s`: the least confident stretch of `window` tokens.

    Raises:
        ValueError: `confidences` is empty.
    """
    return min(_groups(confidences, window))


def bottom_group_confidence(
    confidences: Sequence[float], window: int = DEFAULT_WINDOW, share: float = BOTTOM_SHARE
) -> float:
    """The mean of the lowest `share` of the group confidences (at least one group).

    Raises:
        ValueError: `confidences` is empty.
    """
    groups = sorted(_groups(confidences, window))
    count = max(1, int(len(groups) * share))
    return sum(groups[:count]) / count


def tail_confidence(confidences: Sequence[float], tail: int = DEFAULT_TAIL) -> float:
    """The mean token confidence of the last `tail` tokens (all when the trace is shorter).

    Raises:
        ValueError: `confidences` is empty.
    """
    if not confidences:
        raise ValueError("no token confidences to measure")
    last = confidences[-tail:]
    return sum(last) / len(last)


def measure_confidence(
    logprobs: Sequence[TokenLogprob] | None, settings: ConfidenceSettings | None = None
) -> Confidence | None:
    """Every measure of one trace as a `Confidence` record; `None` without logprobs, or when
    no position has alternatives (a provider asked for none, or ignoring `top_logprobs`).

    An empty trace (logprobs given, no tokens) measures 0 everywhere, the least confident, as
    DeepConf scores a trace with no confidences.

    Args:
        logprobs: The completion's token logprobs, as the provider returned them.
        settings: Window, tail and `k`; defaults to DeepConf's (2048, 2048, 20).

    Example:
        ```python
        record = measure_confidence(completion.logprobs, {"window": 64, "tail": 64, "top_k": 20})
        record["lowest_group"] if record else None
        ```
    """
    if logprobs is None:
        return None
    if not logprobs:
        return {
            "tokens": 0,
            "mean": 0.0,
            "lowest_group": 0.0,
            "bottom_group": 0.0,
            "tail": 0.0,
            "window": 0,
            "top_k": 0,
        }
    settings = settings or default_settings()
    confidences = token_confidences(logprobs, settings["top_k"])
    if not confidences:
        return None
    return {
        "tokens": len(confidences),
        "mean": sum(confidences) / len(confidences),
        "lowest_group": lowest_group_confidence(confidences, settings["window"]),
        "bottom_group": bottom_group_confidence(confidences, settings["window"]),
        "tail": tail_confidence(confidences, settings["tail"]),
        "window": min(settings["window"], len(confidences)),
        "top_k": max(min(len(t.top_logprobs), settings["top_k"]) for t in logprobs),
    }


def confidence_value(record: Confidence, measure: ConfidenceMeasure) -> float:
    """The record's value of `measure` (higher: more confident)."""
    return record[measure]


def default_settings() -> ConfidenceSettings:
    """DeepConf's settings: window 2048, tail 2048, `k` 20."""
    return {"window": DEFAULT_WINDOW, "tail": DEFAULT_TAIL, "top_k": DEFAULT_TOP_K}


def _groups(confidences: Sequence[float], window: int) -> list[float]:
    groups = group_confidences(confidences, window)
    if not groups:
        raise ValueError("no token confidences to measure")
    return groups
