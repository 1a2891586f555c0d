"""Build a generator from plain options (`--provider`, `--model`, `--base-url`,
`--extra-body`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.providers.base import Generator

__all__ = ["PROVIDERS", "ProviderName", "make_generator"]

ProviderName = Literal["llamacpp", "openai"]
"""`llamacpp`: a local GGUF on the CPU (default: the embedded SmolLM2-135M-Instruct);
`openai`: any OpenAI-compatible server (OpenAI, vLLM, SGLang, Ollama, llama.cpp server)."""

PROVIDERS: tuple[str, ...] = get_args(ProviderName)


def make_generator(
    provider: str | None = None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> Generator:
    """Return the generator these options describe.

    Args:
        provider: `llamacpp` or `openai`; `None` means `openai` when `base_url` is given and
            the embedded llama.cpp model otherwise.
        model: The served model's name (`openai`, required) or a GGUF path (`llamacpp`,
            default: the embedded SmolLM2-135M-Instruct).
        base_url: The OpenAI-compatible server, e.g. `http://localhost:8000/v1`; `None`
            means OpenAI itself.
        api_key: The key; `None` falls back to the `OPENAI_API_KEY` environment variable.
        extra_body: More JSON fields in every request (`openai` only: the server's own
            sampling options, e.g. `{"repeat_penalty": 1.0}`; see `OpenAIProvider`).

    Raises:
        ConfigurationError: An unknown provider, or options that do not fit it.

    Example:
        ```python
        make_generator("openai", model="qwen2.5-7b", base_url="http://localhost:8000/v1")
        ```
    """
    if provider is None:
        provider = "openai" if base_url else "llamacpp"
    if provider == "llamacpp":
        if base_url is not None:
            raise ConfigurationError(
                "--base-url is for --provider openai; the llamacpp provider runs a local file"
            )
        if extra_body:
            raise ConfigurationError(
                "--extra-body is for --provider openai (fields of an HTTP request); the "
                "llamacpp provider runs a local file"
            )
        from reasoning_graph.providers.llama_cpp import LlamaCppProvider

        return LlamaCppProvider(model)
    if provider == "openai":
        if not model:
            raise ConfigurationError(
                "the openai provider needs a model name: pass --model (e.g. gpt-4o-mini, or "
                "the name your vLLM / Ollama server serves)"
            )
        from reasoning_graph.providers.openai import OpenAIProvider

        return OpenAIProvider(model, base_url=base_url, api_key=api_key, extra_body=extra_body)
    raise ConfigurationError(
        f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}"
    )
