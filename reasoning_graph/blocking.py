"""`run_blocking`: the sync wrappers' event loop, and closing what backends hold for it.

Providers keep one HTTP client per event loop. A blocking call (`solve`, `Reasoner.invoke`,
a chat model's `invoke`, `run_bench`) runs on a loop of its own, which ends with the call:
its clients are closed then, or they would leak.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["close_loop_clients", "run_blocking"]

T = TypeVar("T")


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
            await close_loop_clients(*backends)

    return asyncio.run(run())


async def close_loop_clients(*backends: object) -> None:
    """Close the clients `backends` (generators, verifiers) hold for the running loop, once
    per object."""
    for backend in {id(backend): backend for backend in backends}.values():
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()
