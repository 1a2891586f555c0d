"""Test helpers: a local OpenAI-compatible stub server with fault injection (needs the `dev`
extra for aiohttp)."""

from reasoning_graph.testing.faults import FAULT_KINDS, FaultKind, Faults
from reasoning_graph.testing.openai_server import DEFAULT_REPLY, OpenAIStubServer, Reply

__all__ = ["DEFAULT_REPLY", "FAULT_KINDS", "FaultKind", "Faults", "OpenAIStubServer", "Reply"]
