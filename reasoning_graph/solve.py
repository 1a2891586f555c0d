"""`solve` / `asolve`: compile a reasoning graph, run it on one question, return a `Result`.

With a checkpointer and a `thread_id` the run is durable: every step is saved, and a later
call with the same `thread_id` resumes an unfinished run (a crash, a deadline) where it
stopped, or returns a finished run's stored result. With `deadline_s` the run returns the
best answer so far when the deadline passes, cancelling the generations still in flight.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, aclosing, asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StreamMode
from pydantic import ValidationError

from reasoning_graph.config import ReasoningConfig, clean_question
from reasoning_graph.errors import ConfigurationError, DeadlineExceededError
from reasoning_graph.events import ReasoningEvent
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.nodes.budget import DEADLINE_KEY
from reasoning_graph.nodes.select import select_answer
from reasoning_graph.providers.base import Generator, Verifier
from reasoning_graph.result import Result
from reasoning_graph.state import (
    Failure,
    InputState,
    OutputState,
    ReasoningState,
    merge_candidates,
)
from reasoning_graph.strategies import round_bound
from reasoning_graph.usage import merge_node_usage

__all__ = ["asolve", "build_config", "run_blocking", "solve", "sqlite_checkpointer"]

ProgressCallback = Callable[[Mapping[str, Any]], None]
EventCallback = Callable[[ReasoningEvent], None]
CompiledGraph = CompiledStateGraph[ReasoningState, None, InputState, OutputState]
T = TypeVar("T")

_SQLITE_HINT = "pip install langgraph-checkpoint-sqlite"


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
    on_event: EventCallback | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    **options: Any,
) -> Result:
    """Answer `question` by spending test-time compute; the async twin of `solve`.

    Args:
        question: The question to answer. It is cleaned, not rejected, when it holds control
            characters or invalid UTF-8 (see `reasoning_graph.config.clean_question`).
        generator: The model; defaults to the embedded SmolLM2-135M-Instruct on llama.cpp
            (needs the `local` extra).
        verifier: Scores candidates; defaults to an LLM judge over `generator` for the
            strategies that need scores.
        config: A `ReasoningConfig`; `options` override its fields.
        on_progress: Called with the graph's state after every step (for progress views).
        on_event: Called with each live event as it happens (plan, difficulty, candidate,
            scored, early stop, budget, selected; see `reasoning_graph.events`).
        checkpointer: Saves every step of the run (e.g. `AsyncSqliteSaver`, see
            `sqlite_checkpointer`); needs `thread_id`. It must have async methods: the sync
            `SqliteSaver` does not. Defaults to none: the run is not saved.
        thread_id: Names the saved run. A thread with unfinished work (a crash, a deadline)
            is resumed: branches that had finished are not run again, and the plan stored
            with the thread is kept. A finished thread returns its stored result without
            calling any model. Defaults to none (needs `checkpointer`).
        **options: Any `ReasoningConfig` field, e.g. `strategy="best_of_n"`, `n=8`,
            `budget_tokens=4000`, `max_calls=20`, `deadline_s=30`.

    Deadline: `deadline_s` counts from this call (a resumed run gets a fresh one). The
    controller checks it between waves and then starts nothing new; when it passes during a
    wave, the wave is cancelled and the best answer among the candidates finished so far is
    returned, its cancelled branches listed in `failures` as `DeadlineExceededError`.

    Raises:
        ConfigurationError: An empty or too long question, an invalid option, or a
            checkpointer without a `thread_id` (or the reverse), or a thread that holds
            another question, or `review=True` (a person resumes a reviewed run through a
            compiled graph and `Command(resume=...)`, not through `solve`).
        BudgetError: The token or call budget cannot pay for one generation.
        DeadlineExceededError: The deadline passed before any candidate was ready.
        NoCandidatesError: Every branch failed; the first failure is named.

    Example:
        ```python
        result = await asolve("What is 17 + 25?", strategy="self_consistency", n=8)
        result.answer, result.usage.completion_tokens
        ```
    """
    settings = build_config(config, options)
    question = clean_question(question, max_chars=settings.max_question_chars)
    if settings.review:
        raise ConfigurationError(
            "review=True pauses the run for a person, which solve/asolve cannot do; compile "
            "create_reasoning_graph(...) with a checkpointer and resume with "
            "Command(resume=...)"
        )
    if (checkpointer is None) != (thread_id is None):
        raise ConfigurationError(
            "checkpointer and thread_id go together: pass both to save (and resume) a run, "
            "or neither"
        )
    graph = create_reasoning_graph(
        generator or _default_generator(), verifier=verifier, config=settings
    ).compile(checkpointer=checkpointer)
    # Each round is budget -> think/revise -> verify: bound the steps by the strategy's round
    # bound (its registry row; step search runs one round per step), not by luck.
    rounds = round_bound(settings)
    run_config: RunnableConfig = {"recursion_limit": 4 * rounds + 16, "configurable": {}}
    if thread_id is not None:
        run_config["configurable"]["thread_id"] = thread_id
    if settings.deadline_s is not None:
        run_config["configurable"][DEADLINE_KEY] = time.time() + settings.deadline_s
    graph_input: InputState | None = {"question": question}
    if checkpointer is not None:
        stored, pending = await _stored_state(graph, run_config, question, thread_id)
        if pending:
            graph_input = None  # resume the pending work; finished branches are kept
        elif stored is not None:
            return Result.from_state(stored)  # finished: nothing to run
    return await _run(graph, graph_input, run_config, settings, on_progress, on_event, checkpointer)


async def _stored_state(
    graph: CompiledGraph, run_config: RunnableConfig, question: str, thread_id: str | None
) -> tuple[Mapping[str, Any] | None, bool]:
    """A saved thread's state if it finished or has pending work, and whether it has."""
    try:
        snapshot = await graph.aget_state(run_config)
    except NotImplementedError:
        raise ConfigurationError(
            "the checkpointer has no async methods (the sync SqliteSaver has none); use "
            "AsyncSqliteSaver, InMemorySaver or another async saver"
        ) from None
    values: Mapping[str, Any] = snapshot.values or {}
    if not values:
        return None, False  # a new thread
    if values.get("question") != question:
        raise ConfigurationError(
            f"thread {thread_id!r} holds a run for another question; pass a new thread_id"
        )
    if snapshot.next:
        return values, True
    return (values if "selected_id" in values else None), False


async def _run(
    graph: CompiledGraph,
    graph_input: InputState | None,
    run_config: RunnableConfig,
    settings: ReasoningConfig,
    on_progress: ProgressCallback | None,
    on_event: EventCallback | None,
    checkpointer: BaseCheckpointSaver[Any] | None,
) -> Result:
    """Stream the graph to its end, or to the deadline and the best answer so far."""
    final: Mapping[str, Any] = {}
    latest: dict[str, Any] = {}  # `final` plus the updates of the branches finished since
    timeout = asyncio.timeout(settings.deadline_s)
    try:
        async with timeout:
            # With several stream modes, astream yields (mode, chunk) pairs.
            modes: list[StreamMode] = ["values", "updates"]
            if on_event is not None:
                modes.append("custom")
            stream = cast(
                AsyncGenerator[tuple[str, Any], None],
                graph.astream(
                    graph_input,
                    run_config,
                    stream_mode=modes,
                    # Save each step before the next starts: a crash loses nothing finished.
                    durability="sync" if checkpointer is not None else None,
                ),
            )
            async with aclosing(stream):
                async for mode, chunk in stream:
                    if mode == "values":
                        final, latest = chunk, dict(chunk)
                        if on_progress is not None:
                            on_progress(chunk)
                    elif mode == "custom":
                        if on_event is not None:
                            on_event(chunk)
                    else:
                        _apply_updates(latest, chunk)
    except TimeoutError:
        if not timeout.expired():
            raise
        return _best_so_far(latest, settings.deadline_s)
    return Result.from_state(final)


def _apply_updates(state: dict[str, Any], chunk: Mapping[str, Any]) -> None:
    """Apply one streamed `updates` chunk to `state` with the graph's reducers."""
    for update in chunk.values():
        if not isinstance(update, Mapping):
            continue
        for key, value in update.items():
            if key == "candidates":
                state[key] = merge_candidates(state.get(key), value)
            elif key == "usage":
                state[key] = merge_node_usage(state.get(key), value)
            elif key in ("failures", "events"):
                state[key] = [*state.get(key, []), *value]
            else:
                state[key] = value


def _best_so_far(state: Mapping[str, Any], deadline_s: float | None) -> Result:
    """The result of a run cut by its deadline: select among the finished candidates."""
    candidates = list((state.get("candidates") or {}).values())
    plan = state.get("plan")
    if not candidates or plan is None:
        raise DeadlineExceededError(
            f"the deadline (deadline_s={deadline_s}) passed before any candidate was ready; "
            "raise deadline_s, or use a faster model or a smaller max_tokens"
        )
    selected = select_answer(candidates, plan["selection"])
    action = state.get("action") or {}
    failed = {i for f in state.get("failures") or [] for i in f["candidate_ids"]}
    started = [i for t in action.get("think", []) for i in t["ids"]]
    started += [t["id"] for t in action.get("revise", [])]
    cancelled = [i for i in started if i not in state["candidates"] and i not in failed]
    failures: list[Failure] = list(state.get("failures") or [])
    if cancelled:
        failures.append(
            {
                "node": "revise" if action.get("kind") == "revise" else "think",
                "candidate_ids": cancelled,
                "error": DeadlineExceededError.__name__,
                "message": f"cancelled in flight: the deadline (deadline_s={deadline_s}) passed",
            }
        )
    return Result.from_state(
        {
            **state,
            "answer": selected.answer,
            "selected_id": selected.candidate_id,
            "failures": failures,
        }
    )


def solve(
    question: str,
    *,
    generator: Generator | None = None,
    verifier: Verifier | None = None,
    config: ReasoningConfig | None = None,
    on_progress: ProgressCallback | None = None,
    on_event: EventCallback | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    thread_id: str | None = None,
    **options: Any,
) -> Result:
    """Answer `question` by spending test-time compute: sample, verify, revise, select.

    Blocking wrapper of `asolve` (same arguments); inside a running event loop, use
    `await asolve(...)` instead. A `checkpointer` must have async methods and work on the
    event loop this call starts (`InMemorySaver` does; open an `AsyncSqliteSaver` inside
    `asolve`'s loop, as `sqlite_checkpointer` does).

    Example:
        ```python
        from reasoning_graph import solve

        result = solve("What is 17 + 25?", n=4)  # the embedded SmolLM2 model
        print(result.answer, result.difficulty.bin, result.usage.completion_tokens)
        ```
    """
    return run_blocking(
        lambda: asolve(
            question,
            generator=generator,
            verifier=verifier,
            config=config,
            on_progress=on_progress,
            on_event=on_event,
            checkpointer=checkpointer,
            thread_id=thread_id,
            **options,
        ),
        generator,
        verifier,
    )


def run_blocking(main: Callable[[], Awaitable[T]], *backends: object) -> T:
    """Run `main()` on a new event loop, then close what `backends` hold for that loop.

    Raises:
        RuntimeError: Called inside a running event loop (await the coroutine instead).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("solve() cannot run inside a running event loop; use await asolve()")

    async def run() -> T:
        try:
            return await main()
        finally:
            # Providers keep one HTTP client per event loop; this loop ends here.
            await _close_loop_clients(*backends)

    return asyncio.run(run())


async def _close_loop_clients(*backends: object) -> None:
    for backend in backends:
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()


@asynccontextmanager
async def sqlite_checkpointer(path: str | Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Open an `AsyncSqliteSaver` on the SQLite file `path` (created if missing).

    Needs the `langgraph-checkpoint-sqlite` package, imported here.

    Raises:
        ConfigurationError: The package is missing, or the file cannot be opened as a
            checkpoint database.

    Example:
        ```python
        async with sqlite_checkpointer("runs.sqlite") as saver:
            result = await asolve(question, checkpointer=saver, thread_id="q1")
        ```
    """
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        raise ConfigurationError(
            f"checkpoint files need the langgraph-checkpoint-sqlite package: {_SQLITE_HINT}"
        ) from None
    async with AsyncExitStack() as stack:
        try:
            # Open it once synchronously first: aiosqlite reports a failed connect from its
            # worker thread, which can outlive the event loop it reports to.
            with closing(sqlite3.connect(path)) as probe:
                probe.execute("PRAGMA schema_version")
            saver = await stack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(path)))
            await saver.setup()
        except (sqlite3.Error, OSError) as error:
            raise ConfigurationError(
                f"cannot open checkpoint database {path}: {error}; pass a writable SQLite file"
            ) from None
        yield saver
