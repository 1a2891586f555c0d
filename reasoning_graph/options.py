"""`ReasoningOptions`: the `ReasoningConfig` fields as typed keyword arguments.

`solve(question, n=8, strategy="best_of_n")` keeps the short call style while mypy and
editors see every option: `solve`, `asolve`, `ReasoningChatModel.arun` and
`ReasoningMiddleware` take `**options: Unpack[ReasoningOptions]`. `build_config` lays those
options over a `ReasoningConfig` and validates them once. A test keeps this dict's keys and
types equal to the config's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from typing_extensions import TypedDict

from reasoning_graph.confidence import ConfidenceMeasure
from reasoning_graph.config import EarlyStop, ReasoningConfig, Strategy
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.steps import StepAggregation

__all__ = ["ExtraOptions", "ReasoningOptions", "build_config"]


class ExtraOptions(TypedDict, total=False):
    """The `ReasoningOptions` but `strategy` and `n`, for signatures that name those two."""

    chains: int | None
    budget_tokens: int | None
    max_tokens: int
    temperature: float
    seed: int
    share_prompt: bool
    revision_context: int
    system_prompt: str | None
    early_stop: EarlyStop
    stop_confidence: float
    wave_size: int | None
    logprobs: bool
    top_logprobs: int
    confidence_vote: bool
    confidence_filter: float | None
    confidence_measure: ConfidenceMeasure
    confidence_window: int
    confidence_tail: int
    online_stop: float | None
    policy: str | None
    max_calls: int | None
    deadline_s: float | None
    beam_width: int | None
    max_steps: int
    lookahead: int
    step_tokens: int | None
    step_separator: str
    step_aggregation: StepAggregation
    max_question_chars: int
    review: bool


class ReasoningOptions(ExtraOptions, total=False):
    """Every `ReasoningConfig` field, each optional; see `ReasoningConfig` for their meaning."""

    strategy: Strategy
    n: int


def build_config(config: ReasoningConfig | None, options: Mapping[str, Any]) -> ReasoningConfig:
    """Apply keyword `options` on top of `config`, validated, as one `ConfigurationError`.

    Args:
        config: The base; defaults to `ReasoningConfig()`. Only the fields it set explicitly
            are kept under `options`.
        options: `ReasoningConfig` fields (see `ReasoningOptions`).

    Raises:
        ConfigurationError: An invalid value, or an unknown option (the message lists the
            accepted ones).

    Example:
        ```python
        build_config(None, {"strategy": "best_of_n", "n": 8}).n  # 8
        ```
    """
    if not options and config is not None:
        return config
    base = (config or ReasoningConfig()).model_dump(exclude_unset=True)
    try:
        return ReasoningConfig.model_validate({**base, **options})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            + (f" (got {e['input']!r})" if e["type"] != "extra_forbidden" else "")
            for e in error.errors()
        )
        accepted = ", ".join(ReasoningConfig.model_fields)
        hint = f"; accepted options: {accepted}" if "extra_forbidden" in str(error) else ""
        raise ConfigurationError(f"invalid options: {problems}{hint}") from None
