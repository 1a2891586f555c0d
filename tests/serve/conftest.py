"""Fixtures for the server tests; the helpers they use are in `serve_helpers.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from serve_helpers import Served, serving, stub_settings

from reasoning_graph.testing import OpenAIStubServer


@pytest.fixture
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer() as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """`serve(settings, **uvicorn_config)` starts a server, stopped after the test."""
    with ExitStack() as stack:
        yield lambda settings, **config: stack.enter_context(serving(settings, **config))


@pytest.fixture
def served(stub: OpenAIStubServer, serve: Callable[..., Served]) -> Served:
    """A server in front of the default stub."""
    return serve(stub_settings(stub))
