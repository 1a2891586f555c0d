"""`Reasoner`: one compiled reasoning graph with its model, verifier and config, reused.

Compiling a LangGraph graph is the costly part of a short run (LangGraph scans every node's
closure for subgraphs), so everything that answers many questions with one configuration
holds a `Reasoner`: `solve`/`asolve` (through a weak cache, see
`reasoning_graph.graph_cache`), `ReasoningChatModel`, `ReasoningMiddleware` and
`reasoning_tool`. A checkpointer is given per call and lent to a cheap copy of the graph.

With a checkpointer and a `thread_id` the run is durable: every step is saved, and a later
call with the same `thread_id` resumes an unfinished run (a crash, a deadline) where it
stopped, or returns a finished run's stored result. A thread keeps the settings it started
with; the options of a later call that differ are listed in `Result.ignored_options`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StreamMode

from reasoning_graph.blocking import run_blocking
from reasoning_graph.config import ReasoningConfig, clean_question
from reasoning_graph.errors import ConfigurationError, DeadlineExceededError
from reasoning_graph.events import ReasoningEvent
from reasoning_graph.graph import create_reasoning_graph
from reasoning_graph.nodes.budget import DEADLINE_KEY
from reasoning_graph.nodes.select import select_answer
from reasoning_graph.providers.base import Generator
from reasoning_graph.result import Result
from reasoning_graph.state import Failure, InputState, OutputState, ReasoningState, apply_updates
from reasoning_graph.strategies import round_bound
from reasoning_graph.threads import PER_CALL, SETTINGS_KEY, ignored_options, read_thread
from reasoning_graph.verifiers.base import Verifier

__all__ = [
    "CompiledGraph",
    "EventCallback",
    "ProgressCallback",
    "Reasoner",
    "check_call",
    "default_generator",
]

ProgressCallback = Callable[[Mapping[str, Any]], None]
"""Called with the graph's state after every step."""
EventCallback = Callable[[ReasoningEvent], None]
"""Called with each live event as it happens (see `reasoning_graph.events`)."""
CompiledGraph = CompiledStateGraph[ReasoningState, None, InputState, OutputState]
_log = logging.getLogger(__name__)


class Reasoner:
    """A compiled reasoning graph over one generator, verifier and config, for many questions.

    Build it once and call `ainvoke` (or `invoke`) per question: the graph is compiled here,
    not per call. It holds no state between calls, so concurrent calls are fine.

    Args:
        generator: The model; defaults to the embedded SmolLM2-135M-Instruct on llama.cpp
            (needs the `local` extra).
        verifier: Scores candidates; defaults to an LLM judge over `generator` for the
            strategies that need scores.
        config: What to spend and how; defaults to `ReasoningConfig()`.

    Raises:
        ConfigurationError: `config.review` is on (a person resumes a reviewed run through
            a compiled graph and `Command(resume=...)`, which a `Reasoner` does not do).

    Example:
        ```python
        from reasoning_graph import ReasoningConfig
        from reasoning_graph.reasoner import Reasoner

        reasoner = Reasoner(generator, config=ReasoningConfig(strategy="best_of_n", n=8))
        results = [await reasoner.ainvoke(question) for question in questions]
        ```
    """

    def __init__(
        self,
        generator: Generator | None = None,
        *,
        verifier: Verifier | None = None,
        config: ReasoningConfig | None = None,
    ) -> None:
        self.config = config or ReasoningConfig()
        """What to spend and how (read-only)."""
        check_call(self.config, None, None)
        self.generator = generator if generator is not None else default_generator()
        """The model that writes the solutions."""
        self.verifier = verifier
        """The verifier given, or `None` (the graph then builds its default)."""
        started = time.perf_counter()
        self.graph: CompiledGraph = create_reasoning_graph(
            self.generator, verifier=verifier, config=self.config
        ).compile()
        """The compiled graph, without a checkpointer (calls lend theirs to a copy)."""
        _log.debug(
            "compiled the graph for %s in %.1f ms: %s",
            self.generator.model_name,
            (time.perf_counter() - started) * 1000,
            self.config.model_dump(exclude_defaults=True),
        )

    async def ainvoke(
        self,
        question: str,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        thread_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_event: EventCallback | None = None,
    ) -> Result:
        """Answer `question`; see `reasoning_graph.asolve` for the arguments and errors.

        Raises:
            ConfigurationError: An empty or too long question, a checkpointer without a
                `thread_id` (or the reverse), or a thread that holds another question.
            BudgetError: The token or call budget cannot pay for one generation.
            DeadlineExceededError: The deadline passed before any candidate was ready.
            NoCandidatesError: Every branch failed; the first failure is named.
        """
        question = clean_question(question, max_chars=self.config.max_question_chars)
        check_call(self.config, checkpointer, thread_id)
        if checkpointer is None or thread_id is None:
            return await self._run(self.graph, {"question": question}, None, on_progress, on_event)
        graph = self.graph.copy(update={"checkpointer": checkpointer})
        thread = await read_thread(graph, thread_id, question)
        runner, ignored = self, ignored_options(self.config, thread.settings)
        _log.debug("thread %r: %s", thread_id, thread)
        if ignored and thread.settings is not None:  # the run keeps the settings it began with
            _log.debug("thread %r keeps its settings; not applied: %s", thread_id, ignored)
            kept = {name: getattr(self.config, name) for name in PER_CALL}
            runner = Reasoner(
                self.generator,
                verifier=self.verifier,
                config=thread.settings.model_copy(update=kept),
            )
            graph = runner.graph.copy(update={"checkpointer": checkpointer})
        if thread.pending:  # resume the pending work; finished branches are kept
            result = await runner._run(graph, None, thread_id, on_progress, on_event)
        elif thread.finished and thread.values is not None:
            result = Result.from_state(thread.values)  # finished: nothing to run
        else:
            result = await runner._run(
                graph, {"question": question}, thread_id, on_progress, on_event
            )
        return result.model_copy(update={"ignored_options": ignored}) if ignored else result

    def invoke(
        self,
        question: str,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        thread_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_event: EventCallback | None = None,
    ) -> Result:
        """Blocking `ainvoke` on a new event loop; closes the backends' clients of that loop.

        Raises:
            RuntimeError: Called inside a running event loop (await `ainvoke` instead).
        """
        return run_blocking(
            lambda: self.ainvoke(
                question,
                checkpointer=checkpointer,
                thread_id=thread_id,
                on_progress=on_progress,
                on_event=on_event,
            ),
            self.generator,
            self.verifier,
        )

    def run_config(self, thread_id: str | None) -> RunnableConfig:
        """The LangGraph config of one run: recursion bound, thread, deadline, settings."""
        settings = self.config
        # Each round is budget -> think/revise -> verify: bound the steps by the strategy's
        # round bound (its registry row; step search runs one round per step), not by luck.
        rounds = round_bound(settings)
        run_config: RunnableConfig = {"recursion_limit": 4 * rounds + 16, "configurable": {}}
        if thread_id is not None:
            run_config["configurable"]["thread_id"] = thread_id
            # Saved with every checkpoint, so a resumed run can keep the settings it began with.
            run_config["configurable"][SETTINGS_KEY] = settings.model_dump_json()
        if settings.deadline_s is not None:
            run_config["configurable"][DEADLINE_KEY] = time.time() + settings.deadline_s
        return run_config

    async def _run(
        self,
        graph: CompiledGraph,
        graph_input: InputState | None,
        thread_id: str | None,
        on_progress: ProgressCallback | None,
        on_event: EventCallback | None,
    ) -> Result:
        """Stream the graph to its end, or to the deadline and the best answer so far."""
        deadline_s = self.config.deadline_s
        final: Mapping[str, Any] = {}
        latest: dict[str, Any] = {}  # `final` plus the updates of the branches finished since
        timeout = asyncio.timeout(deadline_s)
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
                        self.run_config(thread_id),
                        stream_mode=modes,
                        # Save each step before the next starts: a crash loses nothing finished.
                        durability="sync" if thread_id is not None else None,
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
                            apply_updates(latest, chunk)
        except TimeoutError:
            if not timeout.expired():
                raise
            return _best_so_far(latest, deadline_s)
        return Result.from_state(final)


def default_generator() -> Generator:
    """The embedded SmolLM2-135M-Instruct on llama.cpp (needs the `local` extra)."""
    from reasoning_graph.providers.llama_cpp import LlamaCppProvider

    return LlamaCppProvider()


def check_call(
    config: ReasoningConfig,
    checkpointer: BaseCheckpointSaver[Any] | None,
    thread_id: str | None,
) -> None:
    """Refuse what a `Reasoner` cannot run, before any model is loaded.

    Raises:
        ConfigurationError: `config.review` is on, or only one of `checkpointer` and
            `thread_id` is given.
    """
    if config.review:
        raise ConfigurationError(
            "review=True pauses the run for a person, which solve/asolve and a Reasoner "
            "cannot do; compile create_reasoning_graph(...) with a checkpointer and resume "
            "with Command(resume=...)"
        )
    if (checkpointer is None) != (thread_id is None):
        raise ConfigurationError(
            "checkpointer and thread_id go together: pass both to save (and resume) a run, "
            "or neither"
        )


def _best_so_far(state: Mapping[str, Any], deadline_s: float | None) -> Result:
    """The result of a run cut by its deadline: select among the finished candidates."""
    candidates = list((state.get("candidates") or {}).values())
    plan = state.get("plan")
    if not candidates or plan is None:
        raise DeadlineExceededError(
            f"the deadline (deadline_s={deadline_s}) passed before any candidate was ready; "
            "raise deadline_s, or use a faster model or a smaller max_tokens"
        )
    selected = select_answer(candidates, plan["selection"], plan=plan)
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
