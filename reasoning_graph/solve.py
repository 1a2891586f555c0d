"""`solve` / `asolve`: compile a reasoning graph, run it on one question, return a `Result`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.providers.base import Generator, Verifier
from reasoning_graph.result import Result

__all__ = ["asolve", "build_config", "solve"]

ProgressCallback = Callable[[Mapping[str, Any]], None]


def build_config(config: ReasoningConfig | None, options: Mapping[str, Any]) -> ReasoningConfig:
    """Apply keyword `options` on top of `config`, validated, as one `ConfigurationError`.

    Example:
        ```python
        build_config(None, {"strategy": "best_of_n", "n": 8}).n  # 8
        ```
    """
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


def _default_generator() -> Generator:
    from reasoning_graph.providers.llama_cpp import LlamaCppProvider

    return LlamaCppProvider()


async def asolve(
    question: str,
    *,
    generator: Generator | None = None,
    verifier: Verifier | None = None,
    config: ReasoningConfig | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Result:
    """Answer `question` by spending test-time compute; the async twin of `solve`.

    Args:
        question: The question to answer.
        generator: The model; defaults to the embedded SmolLM2-135M-Instruct on llama.cpp
            (needs the `local` extra).
        verifier: Scores candidates; defaults to an LLM judge over `generator` for the
            strategies that need scores.
        config: A `ReasoningConfig`; `options` override its fields.
        on_progress: Called with the graph's state after every step (for progress views).
        **options: Any `ReasoningConfig` field, e.g. `strategy="best_of_n"`, `n=8`,
            `budget_tokens=4000`.

    Raises:
        ConfigurationError: An empty question or an invalid option.
        BudgetError: The budget cannot pay for one generation.
        NoCandidatesError: Every branch failed; the first failure is named.

    Example:
        ```python
        result = await asolve("What is 17 + 25?", strategy="self_consistency", n=8)
        result.answer, result.usage.completion_tokens
        ```
    """
    if not isinstance(question, str) or not question.strip():
        raise ConfigurationError("the question is empty; pass the text of a question")
    settings = build_config(config, options)
    graph = create_reasoning_graph(
        generator or _default_generator(), verifier=verifier, config=settings
    ).compile()
    # Each round is budget -> think/revise -> verify: bound the steps by the plan, not by luck.
    run_config: RunnableConfig = {"recursion_limit": 4 * settings.n + 16}
    final: Mapping[str, Any] = {}
    async for state in graph.astream({"question": question}, run_config, stream_mode="values"):
        final = state
        if on_progress is not None:
            on_progress(state)
    return Result.from_state(final)


def solve(
    question: str,
    *,
    generator: Generator | None = None,
    verifier: Verifier | None = None,
    config: ReasoningConfig | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Result:
    """Answer `question` by spending test-time compute: sample, verify, revise, select.

    Blocking wrapper of `asolve` (same arguments); inside a running event loop, use
    `await asolve(...)` instead.

    Example:
        ```python
        from reasoning_graph import solve

        result = solve("What is 17 + 25?", n=4)  # the embedded SmolLM2 model
        print(result.answer, result.difficulty.bin, result.usage.completion_tokens)
        ```
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("solve() cannot run inside a running event loop; use await asolve()")

    async def run() -> Result:
        try:
            return await asolve(
                question,
                generator=generator,
                verifier=verifier,
                config=config,
                on_progress=on_progress,
                **options,
            )
        finally:
            # Providers keep one HTTP client per event loop; this loop ends here.
            await _close_loop_clients(generator, verifier)

    return asyncio.run(run())


async def _close_loop_clients(*backends: object) -> None:
    for backend in backends:
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()
