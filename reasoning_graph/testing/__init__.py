"""Test helpers: a local OpenAI-compatible stub server with fault injection (needs the `dev`
extra for aiohttp). Names are imported on first use, so `python -m
reasoning_graph.testing.openai_server` runs the server module once, as the command."""

import typing

from reasoning_graph.lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from reasoning_graph.testing.faults import FAULT_KINDS, FaultKind, Faults
    from reasoning_graph.testing.openai_server import DEFAULT_REPLY, OpenAIStubServer, Reply
else:
    _lazy_exports(
        __name__,
        {
            "DEFAULT_REPLY": "reasoning_graph.testing.openai_server",
            "FAULT_KINDS": "reasoning_graph.testing.faults",
            "FaultKind": "reasoning_graph.testing.faults",
            "Faults": "reasoning_graph.testing.faults",
            "OpenAIStubServer": "reasoning_graph.testing.openai_server",
            "Reply": "reasoning_graph.testing.openai_server",
        },
    )

__all__ = ["DEFAULT_REPLY", "FAULT_KINDS", "FaultKind", "Faults", "OpenAIStubServer", "Reply"]
