"""Each completion as it finishes: how a generator tells its caller before `generate` returns.

`Generator.generate` returns its `n` completions together. A caller that wants each one as
soon as it is ready (the `think` node streams a `candidate` event per completion) makes the
call inside `each_completion(listener)`; a generator that makes its completions one by one
(concurrent one-sample requests, llama.cpp's loop, LangChain's concurrent calls) calls
`completion_ready(index, completion)` as each finishes, `index` being the completion's place
in the list `generate` will return. Completions of one batched request (a server's `n`)
finish together and need no report; nor do generators that never report: the caller handles
what was not reported when `generate` returns.

The listener lives in a `ContextVar`, so it reaches the tasks a generator starts (they copy
the context) and no other call. Report from the event loop's thread, not a worker thread:
the listener may write to LangGraph's stream, which is not thread-safe. A generator that
hands part of its `n` to another generator wraps that call in `completions_offset(first)`,
so the inner indices land in place.

Example:
    ```python
    with each_completion(lambda i, completion: print(i, completion.text)):
        generation = await generator.generate(messages, n=4)
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from reasoning_graph.providers.base import Completion

__all__ = ["CompletionListener", "completion_ready", "completions_offset", "each_completion"]

CompletionListener = Callable[[int, Completion], None]
"""Called with a completion's index in the coming `Generation` and the completion."""

_LISTENER: ContextVar[CompletionListener | None] = ContextVar(
    "reasoning_graph_completion_listener", default=None
)


@contextmanager
def each_completion(listener: CompletionListener | None) -> Iterator[None]:
    """Send the completions that generators report inside the block to `listener` (`None`:
    to nobody, which shields a nested call from an outer listener)."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def completion_ready(index: int, completion: Completion) -> None:
    """Report that the completion at `index` of the current `generate` call is finished."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(index, completion)


@contextmanager
def completions_offset(first: int) -> Iterator[None]:
    """Report the completions of an inner `generate` call at `first + index`."""
    outer = _LISTENER.get()
    if outer is None:
        yield
        return
    found: CompletionListener = outer

    def shifted(index: int, completion: Completion) -> None:
        found(first + index, completion)

    with each_completion(shifted):
        yield
