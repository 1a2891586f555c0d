"""`ReasoningConfig`: what to spend and how, validated once at the edge."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reasoning_graph.confidence import (
    DEFAULT_TAIL,
    DEFAULT_TOP_K,
    DEFAULT_WINDOW,
    ConfidenceMeasure,
)
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.steps import DEFAULT_STEP_SEPARATOR, StepAggregation
from reasoning_graph.strategies import (
    DEFAULT_STRATEGY,
    REGISTRY,
    STRATEGIES,
    StrategyName,
    strategy_spec,
)

__all__ = [
    "DEFAULT_MAX_QUESTION_CHARS",
    "STRATEGIES",
    "ReasoningConfig",
    "Strategy",
    "clean_question",
]

Strategy = StrategyName
"""How the graph spends its samples: a name in the strategy registry
(`reasoning_graph.strategies.REGISTRY`, whose rows say what each does; the README and
docs/architecture.md list them), a `Literal` that `ReasoningConfig` and type checkers check.
"""

EarlyStop = Literal["none", "settled", "confidence", "consensus"]
"""When voting strategies stop sampling early: never, once the leader cannot be overturned
by the samples left, also once the leader is `stop_confidence` likely to be the majority
(Adaptive-Consistency's Beta rule), or also once the leader holds `stop_confidence` of the
confidence-weighted vote (DeepConf's consensus rule; it turns `logprobs` on)."""

DEFAULT_MAX_QUESTION_CHARS = 100_000
"""The longest question accepted by default: about 25k tokens, far above any benchmark
question, far below what would make one run cost a fortune."""


class ReasoningConfig(BaseModel):
    """How much test-time compute to spend on a question, and how.

    Example:
        ```python
        from reasoning_graph import ReasoningConfig

        config = ReasoningConfig(strategy="weighted_vote", n=8, budget_tokens=4000)
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    strategy: Strategy = DEFAULT_STRATEGY
    n: int = Field(default=4, ge=1, le=1024)
    """Generations to spend: samples for voting strategies, attempts for revision."""
    chains: int | None = Field(default=None, ge=1, le=1024)
    """Parallel chains for `parallel_revision`; `None` means round(sqrt(n))."""
    budget_tokens: int | None = Field(default=None, ge=1)
    """Hard cap on completion tokens across all calls; `None` means no cap."""
    max_tokens: int = Field(default=512, ge=1, le=131072)
    """Most completion tokens one generation may use."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    seed: int = 0
    """Base seed; sample `i` of a run uses `seed + i`, so runs are reproducible."""
    share_prompt: bool = True
    """Ask for all samples of one prompt in one request (the server's `n`)."""
    revision_context: int = Field(default=4, ge=1, le=64)
    """How many earlier attempts of its chain a revision sees."""
    system_prompt: str | None = None
    """Replaces the default system prompt of the generator."""
    early_stop: EarlyStop = "none"
    """Early stopping for `self_consistency`; `compute_optimal` takes it from its policy."""
    stop_confidence: float = Field(default=0.95, gt=0.5, le=1.0)
    """`early_stop="confidence"`: how likely the leader must be to be the majority;
    `"consensus"`: the share of the confidence-weighted vote it must hold (DeepConf: 0.95)."""
    wave_size: int | None = Field(default=None, ge=1)
    """Samples per wave when stopping early, and the warm-up samples of `online_stop`;
    `None` means 4 (or the policy's)."""
    logprobs: bool = False
    """Ask for token log-probabilities: each candidate then carries its token confidence
    (`reasoning_graph.confidence`), and the difficulty estimate uses it. The confidence
    options below turn it on themselves."""
    top_logprobs: int = Field(default=DEFAULT_TOP_K, ge=2, le=20)
    """With logprobs: alternatives asked per token, DeepConf's `k` in its token confidence
    (at least 2: the measure needs the distribution's spread)."""
    confidence_vote: bool = False
    """Weight each vote by the candidate's token confidence (`confidence_measure`), as
    DeepConf's confidence-weighted voting does; with a verifier-weighted vote, the weight is
    score times confidence. Sampling strategies only; turns `logprobs` on."""
    confidence_filter: float | None = Field(default=None, gt=0.0, le=1.0)
    """Keep only the most confident share of the candidates (DeepConf's top eta%: 0.1 or 0.9
    in the paper) before the vote or the verifier's pick; `None` keeps all. Sampling
    strategies only; turns `logprobs` on."""
    confidence_measure: ConfidenceMeasure = "lowest_group"
    """Which token-confidence measure filters and weights: `mean`, `lowest_group`,
    `bottom_group` or `tail` (formulas in `reasoning_graph.confidence`)."""
    confidence_window: int = Field(default=DEFAULT_WINDOW, ge=1)
    """Tokens per group of the group confidences (DeepConf: 2048); a shorter trace is one
    group."""
    confidence_tail: int = Field(default=DEFAULT_TAIL, ge=1)
    """Tokens the tail confidence averages, from the end (DeepConf: 2048)."""
    online_stop: float | None = Field(default=None, gt=0.0, le=1.0)
    """DeepConf online trace termination: draw a warm-up of `wave_size` samples whole
    (`compute_optimal`: its probe), then stop every later sample once its group confidence
    (window `confidence_window`) falls below the threshold that this share of the warm-up
    traces' lowest group confidence clears (DeepConf-high: 0.9, DeepConf-low: 0.1). A
    stopped sample's tokens are counted and its answer abstains. Works with the embedded
    llama.cpp provider and OpenAI-compatible servers that stream logprobs; elsewhere a note
    says it did not apply. `None` (the default) never stops a trace. Sampling strategies
    only; turns `logprobs` on (`reasoning_graph.online_stop`)."""
    policy: str | None = None
    """Policy file for `compute_optimal`; `None` means the one shipped with the package."""
    max_calls: int | None = Field(default=None, ge=1)
    """Hard cap on model calls (`llm_calls`): every generation counts one (even when the
    server returns several samples from one request) and every verifier score its model calls
    (one for a judge or a reward model, none for a programmatic check), so the reported
    `llm_calls` never exceeds it; `None` means no cap."""
    deadline_s: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    """Wall-clock seconds a run may take; then the best answer so far is returned, and a
    run with no candidate yet raises `DeadlineExceededError`. The controller checks it
    between waves (every branch of a wave finishes before the controller runs again), so a
    graph you compile yourself stops after the wave in flight, counting from its first
    controller visit; `solve`/`asolve` count from the call and also cancel the wave in
    flight, keeping the branches that had finished. `None` means no deadline."""
    beam_width: int | None = Field(default=None, ge=1, le=1024)
    """Step search (`beam_search`, `lookahead`, `dvts`): next steps sampled per kept beam
    (M); `n / M` beams (or subtrees) are kept. `None` means min(4, round(sqrt(n))): the
    paper's 4 once `n` >= 13, and sqrt(n) below that so small runs still keep several
    beams. Capped at `n`."""
    max_steps: int = Field(default=8, ge=1, le=256)
    """Step search: the most steps a beam may have; a beam at this depth is complete."""
    lookahead: int = Field(default=1, ge=0, le=64)
    """`lookahead`: greedy (temperature 0) rollout steps behind each new step before it is
    scored; 0 makes it `beam_search`."""
    step_tokens: int | None = Field(default=None, ge=1, le=131072)
    """Step search: most completion tokens of one step; `None` means `max_tokens`."""
    step_separator: str = Field(default=DEFAULT_STEP_SEPARATOR, min_length=1)
    """Step search: the text between two steps, and the stop string of every step."""
    step_aggregation: StepAggregation = "last"
    """Step search: how a step verifier's per-step scores become a beam's score."""
    max_question_chars: int = Field(default=DEFAULT_MAX_QUESTION_CHARS, ge=1)
    """The longest question accepted (after cleaning, see `clean_question`)."""
    review: bool = False
    """Pause before the answer is final so a person can approve or override it: `select`
    calls LangGraph's `interrupt()` with the candidates and the proposed answer, and the run
    goes on when resumed with `Command(resume=...)` (see `reasoning_graph.nodes.select`).
    Needs a checkpointer on the compiled graph (or on the parent graph of a subgraph);
    `solve`/`asolve` do not pause and refuse it."""

    @field_validator("strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: object) -> object:
        if isinstance(value, str) and value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; choose one of: {', '.join(STRATEGIES)}")
        return value

    @model_validator(mode="after")
    def _online_stop_fits(self) -> ReasoningConfig:
        if self.online_stop is None or strategy_spec(self.strategy).online_stop:
            return self
        accepted = ", ".join(name for name, spec in REGISTRY.items() if spec.online_stop)
        raise ValueError(
            f"online_stop cuts fresh samples drawn after a warm-up, which strategy "
            f"{self.strategy!r} does not draw; use one of: {accepted}, or drop online_stop"
        )

    @model_validator(mode="after")
    def _confidence_selection_fits(self) -> ReasoningConfig:
        if not self.selects_by_confidence or strategy_spec(self.strategy).confidence_selection:
            return self
        accepted = ", ".join(name for name, spec in REGISTRY.items() if spec.confidence_selection)
        raise ValueError(
            f"confidence_vote and confidence_filter select among sampled solutions, which "
            f"strategy {self.strategy!r} does not vote over; use one of: {accepted}, or drop "
            "the confidence options"
        )

    @property
    def selects_by_confidence(self) -> bool:
        """Whether the confidence options filter or weight the selection."""
        return self.confidence_vote or self.confidence_filter is not None

    @property
    def wants_logprobs(self) -> bool:
        """Whether runs ask for logprobs: `logprobs`, or an option that needs confidence."""
        return (
            self.logprobs
            or self.selects_by_confidence
            or self.early_stop == "consensus"
            or self.online_stop is not None
        )


# C0 controls but tab and newline, DEL, and C1 controls (some terminals read 0x9B as CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_question(question: object, *, max_chars: int = DEFAULT_MAX_QUESTION_CHARS) -> str:
    """Return `question` cleaned for a model, or raise if nothing usable is left.

    Questions are cleaned rather than rejected: `\r\n` and `\r` become `\n`; NUL and the
    other control characters but tab and newline (escape sequences included) are removed;
    lone surrogates, which is how Python carries invalid UTF-8 bytes from `argv` or a file
    read with `surrogateescape`, become U+FFFD. Nothing else changes.

    Raises:
        ConfigurationError: `question` is not a string, is empty or whitespace once cleaned,
            or is longer than `max_chars` characters.

    Example:
        ```python
        clean_question("What is 2 + 2?\x00\x1b[31m")  # "What is 2 + 2?[31m"
        ```
    """
    if not isinstance(question, str):
        raise ConfigurationError(
            f"the question must be a string, not {type(question).__name__}; "
            "pass the text of a question"
        )
    text = question.replace("\r\n", "\n").replace("\r", "\n")
    text = _LONE_SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    if not text.strip():
        raise ConfigurationError("the question is empty; pass the text of a question")
    if len(text) > max_chars:
        raise ConfigurationError(
            f"the question is {len(text):,} characters long, more than max_question_chars="
            f"{max_chars:,}; shorten it, or raise the limit (max_question_chars=... in Python, "
            "--max-question-chars on the command line)"
        )
    return text
