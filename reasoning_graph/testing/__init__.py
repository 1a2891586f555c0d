"""Test helpers: a local OpenAI-compatible stub server (needs the `dev` extra for aiohttp)."""

from reasoning_graph.testing.openai_server import DEFAULT_REPLY, OpenAIStubServer, Reply

__all__ = ["DEFAULT_REPLY", "OpenAIStubServer", "Reply"]
