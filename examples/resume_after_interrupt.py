"""Durable runs: a run that dies half-way resumes from its SQLite checkpoint.

`asolve(..., checkpointer=..., thread_id=...)` saves every step. The first run here samples
in waves of one and is "killed" (an exception from `on_progress`) as soon as the first
candidate is saved; the second call with the same `thread_id` resumes it: the finished
candidate is kept, not generated again, and only the rest is sampled.

Runs on the embedded SmolLM2-135M-Instruct (the `local` extra), no key:

    python examples/resume_after_interrupt.py
"""

import asyncio
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reasoning_graph import asolve
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.llama_cpp import LlamaCppProvider
from reasoning_graph.solve import sqlite_checkpointer

QUESTION = "What is 17 + 25?"
OPTIONS: dict[str, Any] = {"n": 3, "max_tokens": 48, "wave_size": 1, "early_stop": "settled"}


class Crash(Exception):
    """Stands in for a killed process."""


class Counting:
    """The embedded model, counting the completions it generates."""

    def __init__(self) -> None:
        self.inner = LlamaCppProvider()
        self.completions = 0

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        generation = await self.inner.generate(messages, **kwargs)
        self.completions += len(generation.completions)
        return generation


def crash_after_first_candidate(state: Mapping[str, Any]) -> None:
    if state.get("candidates"):
        raise Crash("killed after the first candidate was saved")


async def main() -> None:
    generator = Counting()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.sqlite"
        async with sqlite_checkpointer(path) as saver:
            try:
                await asolve(
                    QUESTION,
                    generator=generator,
                    checkpointer=saver,
                    thread_id="q1",
                    on_progress=crash_after_first_candidate,
                    **OPTIONS,
                )
            except Crash as crash:
                print(f"first run: {crash} ({generator.completions} completion(s) generated)")

        before = generator.completions
        async with sqlite_checkpointer(path) as saver:  # a new process would reopen the file
            result = await asolve(
                QUESTION, generator=generator, checkpointer=saver, thread_id="q1", **OPTIONS
            )
        print(f"resumed: {generator.completions - before} more completion(s) generated")
        print(f"answer: {result.answer} from candidates {[c.id for c in result.candidates]}")


if __name__ == "__main__":
    asyncio.run(main())
