"""`solve` / `asolve`: answer one question with a reasoning graph and return a `Result`.

They compile the graph of their (generator, verifier, config) once and reuse it for later
calls with the same three objects (a weak, bounded cache: `reasoning_graph.graph_cache`);
to hold the compiled graph yourself, use `reasoning_graph.reasoner.Reasoner`.

With a checkpointer and a `thread_id` the run is durable: every step is saved, and a later
call with the same `thread_id` resumes an unfinished run (a crash, a deadline) where it
stopped, or returns a finished run's stored result. With `deadline_s` the run returns the
best answer so far when the deadline passes, cancelling the generations still in flight.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, closing
from pathlib import Path
from typing import Any, Unpack

from langgraph.checkpoint.base import BaseCheckpointSaver

from reasoning_graph.blocking import run_blocking
from reasoning_graph.config import ReasoningConfig, clean_question
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.graph_cache import cached_reasoner
from reasoning_graph.options import ReasoningOptions, build_config
from reasoning_graph.providers.base import Generator
from reasoning_graph.reasoner import (
    EventCallback,
    ProgressCallback,
    Reasoner,
    check_call,
    default_generator,
)
from reasoning_graph.result import Result
from reasoning_graph.verifiers.base import Verifier

__all__ = ["asolve", "build_config", "run_blocking", "solve", "sqlite_checkpointer"]

_SQLITE_HINT = "pip install langgraph-checkpoint-sqlite"


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
    **options: Unpack[ReasoningOptions],
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
            is resumed: branches that had finished are not run again, and the thread keeps
            the settings it started with; options of this call that differ from them are
            not applied and are listed in `Result.ignored_options`. A finished thread
            returns its stored result without calling any model. Defaults to none (needs
            `checkpointer`).
        **options: Any `ReasoningConfig` field (`ReasoningOptions` lists them with their
            types), e.g. `strategy="best_of_n"`, `n=8`, `budget_tokens=4000`,
            `max_calls=20`, `deadline_s=30`.

    Deadline: `deadline_s` counts from this call (a resumed run gets a fresh one). The
    controller checks it between waves and then starts nothing new; when it passes during a
    wave, the wave is cancelled and the best answer among the candidates finished so far is
    returned, its cancelled branches listed in `failures` as `DeadlineExceededError`.

    Compiling: the graph of a (generator, verifier, config) is compiled on the first call
    and reused by later calls with the same objects and an equal config; the cache holds
    them weakly (it keeps no generator alive) and at most 8 configs per generator.

    Raises:
        ConfigurationError: An empty or too long question, an invalid or unknown option
            (the message lists the accepted ones), a checkpointer without a `thread_id` (or
            the reverse), a thread that holds another question, or `review=True` (a person
            resumes a reviewed run through a compiled graph and `Command(resume=...)`, not
            through `solve`).
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
    check_call(settings, checkpointer, thread_id)
    if generator is None:  # a new model per call: nothing to reuse, so nothing to cache
        reasoner = Reasoner(default_generator(), verifier=verifier, config=settings)
    else:  # the cached graph holds `generator` weakly; this frame keeps it alive meanwhile
        reasoner = cached_reasoner(generator, verifier, settings)
    return await reasoner.ainvoke(
        question,
        checkpointer=checkpointer,
        thread_id=thread_id,
        on_progress=on_progress,
        on_event=on_event,
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
    **options: Unpack[ReasoningOptions],
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
