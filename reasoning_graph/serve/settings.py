"""`ServeSettings`: everything `reasoning-graph serve` is configured with, validated once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.providers.registry import ProviderName

__all__ = ["DEFAULT_MODEL_NAME", "ServeSettings"]

DEFAULT_MODEL_NAME = "reasoning-graph"
"""The model name that runs the server's default strategy and `n`."""


class ServeSettings(BaseModel):
    """How the server reaches its model, what runs cost by default, and its limits.

    Example:
        ```python
        from reasoning_graph import ReasoningConfig
        from reasoning_graph.serve import ServeSettings, create_app

        settings = ServeSettings(
            provider="openai",
            model="Qwen/Qwen2.5-1.5B-Instruct",
            base_url="http://localhost:8000/v1",
            config=ReasoningConfig(strategy="weighted_vote", n=8),
        )
        app = create_app(settings)  # any ASGI server runs it
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: ProviderName | None = None
    """`llamacpp` or `openai`; `None`: `openai` when `base_url` is set, else the embedded
    SmolLM2-135M-Instruct on llama.cpp."""
    model: str | None = None
    """The upstream model (`openai`, required there) or a GGUF path (`llamacpp`)."""
    base_url: str | None = None
    """The upstream OpenAI-compatible server, e.g. `http://localhost:8000/v1`."""
    upstream_extra_body: dict[str, Any] | None = None
    """More JSON fields in every request to the upstream server, its own sampling options
    (`OpenAIProvider`'s `extra_body`, e.g. `{"repeat_penalty": 1.0}`); `openai` only."""
    upstream_api_key: SecretStr | None = None
    """The upstream's key; `None` falls back to `OPENAI_API_KEY`. Never echoed."""
    api_key: SecretStr | None = None
    """Clients must send `Authorization: Bearer <api_key>`; `None` lets anyone in."""
    config: ReasoningConfig = Field(default_factory=ReasoningConfig)
    """Defaults of every run (strategy, `n`, budgets, policy, question limit); requests
    override them through the model name and `extra_body`."""
    max_in_flight: int = Field(default=64, ge=1)
    """Runs at once; one more gets HTTP 429 with `Retry-After`. Keep it small on the
    embedded model, which runs one generation at a time (`reasoning-graph serve` uses 4)."""
    retry_after_s: int = Field(default=1, ge=0)
    """The `Retry-After` seconds of a 429."""
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    """The largest request body accepted; a larger one gets HTTP 413."""
    max_n: int = Field(default=64, ge=1, le=1024)
    """The most generations (`n`) one request may ask for."""
    request_timeout_s: float = Field(default=300.0, gt=0.0, allow_inf_nan=False)
    """Every run's deadline: then the best answer so far is returned (HTTP 504 when there
    is none yet). A request may ask for a shorter `deadline_s`, not a longer one."""
    upstream_concurrency: int = Field(default=256, ge=1)
    """Most requests in flight to the upstream server at once, per upstream model."""
    max_upstream_models: int = Field(default=32, ge=1)
    """Distinct upstream model names (`strategy@n:MODEL`) kept ready at once."""
