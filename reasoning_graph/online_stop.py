"""Online trace termination (DeepConf online): stop a trace once its confidence falls.

DeepConf's online mode (Fu et al. 2025; facebookresearch/deepconf, `deepconf-online.py`)
draws a few warm-up traces whole, sets a threshold from them, then stops every later trace
whose group confidence falls below it:

- **threshold**: the `(1 - keep)` quantile of the warm-up traces' lowest group confidence
  (`confidence_vote.confidence_cut`): `keep` = 0.9 is DeepConf-high (90% of the warm-up
  would have survived), 0.1 DeepConf-low.
- **check**: after each token with alternatives, the mean token confidence `C_i` of the last
  `window` such tokens (`reasoning_graph.confidence`); once `window` tokens are in, a mean
  below the threshold stops the trace. A trace shorter than the window is never stopped, as
  in DeepConf, so set `confidence_window` below `max_tokens` for short traces.
- **a stopped trace** keeps its tokens in the usage (they were generated) and its text, but
  its answer abstains (`answer` is `None`, `finish_reason` is `"low_confidence"`), as DeepConf
  leaves stopped traces out of its vote: its text was cut mid-thought, so an answer read from
  it would be an accident.

A provider can stop a trace only if it sees each token as it is generated: `LlamaCppProvider`
(a logits processor that makes the model end) and `OpenAIProvider` (a stream it closes);
`FakeGenerator` for tests. They say so with `stops_online` (`can_stop_online`); with any
other provider the samples run to the end, are marked `unsupported`, and `online_stop_note`
says so in one line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from reasoning_graph.confidence import token_confidence
from reasoning_graph.confidence_vote import applies_to, confidence_cut, confidence_note
from reasoning_graph.state import Candidate, OnlineStopPlan, OnlineStopSettings, ThinkTask

if TYPE_CHECKING:
    from reasoning_graph.providers.base import TokenLogprob

__all__ = [
    "STOP_REASON",
    "run_notes",
    "StoppableGenerator",
    "TraceMonitor",
    "can_stop_online",
    "mark_online",
    "online_stop_note",
    "online_threshold",
    "watch_after_warmup",
]

STOP_REASON = "low_confidence"
"""The `finish_reason` of a completion a provider stopped online."""


class TraceMonitor:
    """Watches one trace's tokens and says when its group confidence fell too low.

    Sticky: once stopped, it stays stopped (llama.cpp asks its stopping criteria twice).

    Example:
        ```python
        monitor = TraceMonitor({"threshold": 1.5, "window": 2, "top_k": 20})
        monitor.observe(token)  # True once the last 2 tokens' mean confidence is below 1.5
        ```
    """

    def __init__(self, settings: OnlineStopSettings) -> None:
        self._threshold = settings["threshold"]
        self._window = settings["window"]
        self._top_k = settings["top_k"]
        self._recent: deque[float] = deque(maxlen=self._window)
        self._sum = 0.0
        self.tokens = 0
        """Tokens observed, with or without alternatives."""
        self.stopped = False

    def observe(self, token: TokenLogprob) -> bool:
        """Take the next token; return whether the trace should stop now."""
        self.tokens += 1
        if self.stopped:
            return True
        confidence = token_confidence(token, self._top_k)
        if confidence is None:
            return False
        if len(self._recent) == self._window:
            self._sum -= self._recent[0]
        self._recent.append(confidence)
        self._sum += confidence
        full = len(self._recent) == self._window
        self.stopped = full and self._sum / self._window < self._threshold
        return self.stopped


@runtime_checkable
class StoppableGenerator(Protocol):
    """A generator whose `generate` takes `online_stop=OnlineStopSettings` and stops each
    completion whose `TraceMonitor` says so, with `finish_reason="low_confidence"`."""

    @property
    def stops_online(self) -> bool:
        """Whether `generate(online_stop=...)` can stop a trace while it generates."""
        ...


def can_stop_online(generator: object) -> bool:
    """Whether `generator` can stop a trace while it generates (see `StoppableGenerator`)."""
    return isinstance(generator, StoppableGenerator) and generator.stops_online


def _index(candidate: Candidate) -> int | None:
    number = candidate["id"][1:]
    return int(number) if candidate["id"].startswith("c") and number.isdigit() else None


def online_threshold(candidates: Sequence[Candidate], plan: OnlineStopPlan) -> float | None:
    """The threshold the warm-up samples set: the `(1 - keep)` quantile of their lowest
    group confidence; `None` when no warm-up sample carries a confidence.

    Example:
        ```python
        online_threshold(candidates, {"keep": 0.9, "warmup": 4})  # 10th percentile
        ```
    """
    values = [
        record["lowest_group"]
        for c in candidates
        if c["node"] == "think"
        and (index := _index(c)) is not None
        and index < plan["warmup"]
        and (record := c.get("confidence")) is not None
    ]
    return confidence_cut(values, plan["keep"]) if values else None


def watch_after_warmup(
    tasks: list[ThinkTask], plan: Mapping[str, Any], candidates: Sequence[Candidate], first: int
) -> list[ThinkTask]:
    """`tasks` (fresh samples from `c{first}` on) with the warm-up's threshold to stop by,
    when the plan asks for online termination and the warm-up is over; else unchanged."""
    settings: OnlineStopPlan | None = plan.get("online_stop")
    confidence = plan.get("confidence")
    if settings is None or confidence is None or first < settings["warmup"]:
        return tasks
    threshold = online_threshold(candidates, settings)
    if threshold is None:
        return tasks
    stop: OnlineStopSettings = {
        "threshold": threshold,
        "window": confidence["window"],
        "top_k": confidence["top_k"],
    }
    return [{**task, "online_stop": stop} for task in tasks]


def mark_online(candidate: Candidate, *, supported: bool) -> Candidate:
    """A sample drawn under online termination, marked; a stopped one's answer abstains."""
    if not supported:
        return {**candidate, "online_stop": "unsupported"}
    if candidate["finish_reason"] == STOP_REASON:
        return {**candidate, "online_stop": "stopped", "answer": None}
    return {**candidate, "online_stop": "watched"}


def online_stop_note(plan: Mapping[str, Any], candidates: Sequence[Candidate]) -> str | None:
    """One line when online termination was asked but could not watch the samples after the
    warm-up, or `None` when it ran as asked (or was not asked, or had nothing to watch)."""
    settings: OnlineStopPlan | None = plan.get("online_stop")
    sampled = [c for c in candidates if c["node"] == "think"]
    if settings is None or not sampled:
        return None
    if not applies_to(plan):
        return (
            "online trace termination not applied: the plan revises chains or searches "
            "steps instead of drawing fresh samples"
        )
    unsupported = sum(1 for c in sampled if c.get("online_stop") == "unsupported")
    if unsupported:
        return (
            "online trace termination not applied: the provider cannot stop a trace while "
            f"it generates (the embedded llama.cpp and OpenAI-compatible providers can); "
            f"{unsupported} sample(s) ran to the end"
        )
    later = [c for c in sampled if (index := _index(c)) is not None and index >= settings["warmup"]]
    if later and not any("online_stop" in c for c in later):
        return (
            "online trace termination not applied: the warm-up samples carry no token "
            "confidence to set the threshold from"
        )
    return None


def run_notes(plan: Mapping[str, Any], candidates: Sequence[Candidate]) -> list[str]:
    """Every one-line note on what did not run as asked (`Result.notes`): token confidence
    (`confidence_vote.confidence_note`), then online termination (`online_stop_note`)."""
    notes = (confidence_note(plan, candidates), online_stop_note(plan, candidates))
    return [note for note in notes if note]
