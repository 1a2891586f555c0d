"""A chat completion request as a reasoning run: the question, the config, the upstream model.

The model name chooses the strategy (the grammar is `parse_model_name`'s); the request's own
fields and `extra_body={"reasoning_graph": {...}}` adjust it, in this order of precedence
(last wins): the server's defaults, the model name, `temperature` / `seed` /
`max_completion_tokens`, then `reasoning_graph`. Anything the server cannot honour is an
`APIError` 400 that names the field, never a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reasoning_graph.config import STRATEGIES, ReasoningConfig, Strategy
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.serve.errors import APIError
from reasoning_graph.serve.messages import Message, question_of
from reasoning_graph.serve.settings import DEFAULT_MODEL_NAME, ServeSettings
from reasoning_graph.solve import build_config

__all__ = ["ChatRequest", "ModelName", "RunRequest", "parse_model_name", "parse_request"]

_MODEL_NAME = re.compile(r"(?P<name>[A-Za-z_-]+)(?:@(?P<n>[0-9]{1,7}))?(?::(?P<upstream>.+))?")
_GRAMMAR = (
    f"STRATEGY[@N][:UPSTREAM_MODEL], e.g. self_consistency@8, compute_optimal@16, "
    f"weighted_vote@8:my-model, or {DEFAULT_MODEL_NAME} for the server's default; "
    f"strategies: {', '.join(STRATEGIES)}"
)
_SERVER_ONLY = {
    "policy": "the policy file is chosen by the server (reasoning-graph serve --policy)",
    "review": "a served run cannot pause for a person",
}
_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


@dataclass(frozen=True)
class ModelName:
    """A parsed model name: the strategy, `n` and upstream model it asks for (`None`: default)."""

    strategy: Strategy | None
    n: int | None
    upstream: str | None


def parse_model_name(name: str) -> ModelName:
    """Read `STRATEGY[@N][:UPSTREAM_MODEL]`, or `reasoning-graph[:UPSTREAM_MODEL]`.

    The upstream model is everything after the first `:`, so it may hold colons itself
    (`self_consistency@8:qwen2.5:1.5b` asks Ollama for `qwen2.5:1.5b`).

    Raises:
        APIError: 400 with `param="model"` when `name` does not follow the grammar.

    Example:
        ```python
        parse_model_name("weighted_vote@8:gpt-4o-mini")
        # ModelName(strategy="weighted_vote", n=8, upstream="gpt-4o-mini")
        ```
    """
    match = _MODEL_NAME.fullmatch(name)
    head = match["name"] if match else None
    if match is None or (head != DEFAULT_MODEL_NAME and head not in STRATEGIES):
        raise APIError(
            400,
            f"unknown model {name!r}; name a strategy: {_GRAMMAR}",
            param="model",
            code="model_not_found",
        )
    if head == DEFAULT_MODEL_NAME and match["n"] is not None:
        raise APIError(
            400,
            f"model {name!r}: @N follows a strategy name; {_GRAMMAR}",
            param="model",
            code="model_not_found",
        )
    strategy: Strategy | None = None if head == DEFAULT_MODEL_NAME else head  # type: ignore[assignment]
    n = int(match["n"]) if match["n"] is not None else None
    return ModelName(strategy, n, match["upstream"])


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat completion request this server reads (others are ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str = Field(min_length=1, max_length=512)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    n: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    stop: str | list[str] | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    reasoning_graph: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRequest:
    """What one request asks the server to run, and how to answer."""

    model: str
    question: str
    config: ReasoningConfig
    upstream: str | None
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]


def parse_request(body: object, settings: ServeSettings) -> RunRequest:
    """Validate a decoded JSON request body and turn it into a `RunRequest`.

    Raises:
        APIError: 400 naming the field at fault.

    Example:
        ```python
        body = {"model": "self_consistency@8", "messages": [{"role": "user", "content": "2+2?"}]}
        parse_request(body, ServeSettings()).config.n  # 8
        ```
    """
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as error:
        raise _validation_error(error) from None
    _refuse_unsupported(request)
    name = parse_model_name(request.model)
    config = _config(request, name, settings)
    question = question_of(request.messages, max_chars=config.max_question_chars)
    stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ())
    return RunRequest(
        model=request.model,
        question=question,
        config=config,
        upstream=name.upstream,
        stream=bool(request.stream),
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        stop=tuple(s for s in stop if s),
    )


def _refuse_unsupported(request: ChatRequest) -> None:
    if request.n is not None and request.n > 1:
        raise APIError(
            400,
            f"n={request.n}: a reasoning run selects one answer, so n must be 1; to spend more "
            "samples on it, name them in the model (self_consistency@8) or send "
            'extra_body={"reasoning_graph": {"n": 8}}',
            param="n",
        )
    if request.tools or request.functions:
        raise APIError(
            400,
            "tools are not supported: the reasoning graph writes a text answer and never "
            "calls tools; call the upstream model directly for tool calls",
            param="tools" if request.tools else "functions",
        )
    if request.response_format and request.response_format.get("type", "text") != "text":
        raise APIError(
            400,
            f"response_format {request.response_format.get('type')!r} is not supported; "
            "the answer is text",
            param="response_format",
        )
    if request.logprobs:
        raise APIError(
            400, "logprobs are not supported: the answer is selected, not sampled", param="logprobs"
        )


def _config(request: ChatRequest, name: ModelName, settings: ServeSettings) -> ReasoningConfig:
    """The run's config: server defaults < model name < request fields < `reasoning_graph`."""
    budget = request.max_completion_tokens or request.max_tokens
    budget_field = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
    chosen = (
        ("strategy", name.strategy, "model"),
        ("n", name.n, "model"),
        ("temperature", request.temperature, "temperature"),
        ("seed", request.seed, "seed"),
        ("budget_tokens", budget, budget_field),
    )
    options: dict[str, Any] = {field: value for field, value, _ in chosen if value is not None}
    source = {field: param for field, value, param in chosen if value is not None}
    extra = request.reasoning_graph or {}
    for field, reason in _SERVER_ONLY.items():
        if field in extra:
            param = f"reasoning_graph.{field}"
            raise APIError(400, f"{param}: {reason}", param=param)
    options.update(extra)
    source.update({field: f"reasoning_graph.{field}" for field in extra})
    if budget is not None and "max_tokens" not in extra:
        # One generation may not outspend the whole run: a short budget shortens them.
        options["max_tokens"] = min(budget, settings.config.max_tokens)
        source["max_tokens"] = budget_field
    if "deadline_s" not in extra:
        options["deadline_s"] = min(
            settings.config.deadline_s or settings.request_timeout_s, settings.request_timeout_s
        )
    try:
        config = build_config(settings.config, options)
    except ConfigurationError as error:
        bad = _bad_option(settings.config, options)
        where = source.get(bad, f"reasoning_graph.{bad}") if bad else None
        raise APIError(400, " ".join(str(error).split()), param=where) from None
    _within_limits(config, settings, source)
    return config


def _bad_option(base: ReasoningConfig, options: dict[str, Any]) -> str | None:
    """The `ReasoningConfig` field at fault among `options`, when one is."""
    try:
        ReasoningConfig.model_validate({**base.model_dump(exclude_unset=True), **options})
    except ValidationError as error:
        return str(error.errors()[0]["loc"][0]) if error.errors()[0]["loc"] else None
    return None


def _within_limits(
    config: ReasoningConfig, settings: ServeSettings, source: dict[str, str]
) -> None:
    deadline = config.deadline_s if config.deadline_s is not None else float("inf")
    limits = (
        ("n", config.n, settings.max_n),
        ("deadline_s", deadline, settings.request_timeout_s),
        ("max_question_chars", config.max_question_chars, settings.config.max_question_chars),
    )
    for field, value, limit in limits:
        if value > limit:
            raise APIError(
                400,
                f"{field}={value} is above this server's limit of {limit}; ask for less",
                param=source.get(field, f"reasoning_graph.{field}"),
            )


def _validation_error(error: ValidationError) -> APIError:
    first = error.errors()[0]
    param = _param(first["loc"])
    problem = first["msg"]
    if first["type"] not in ("missing",):
        problem += f" (got {_short(first.get('input'))})"
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    return APIError(400, f"{param or 'request'}: {problem}{more}", param=param)


def _param(loc: tuple[int | str, ...]) -> str | None:
    """A pydantic error location as a dotted field path, union tags dropped."""
    parts = [str(p) for p in loc if isinstance(p, int) or ("[" not in p and p not in _UNION_TAGS)]
    return ".".join(parts) or None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
