"""Fixtures shared across the test folders."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def graph_builds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments of every reasoning graph a `Reasoner` builds during the test (one per
    compile): `generator`, `verifier` and `config`."""
    import reasoning_graph.reasoner

    built: list[dict[str, Any]] = []
    original = reasoning_graph.reasoner.create_reasoning_graph

    def recording(generator: Any, *, verifier: Any = None, config: Any = None) -> Any:
        built.append({"generator": generator, "verifier": verifier, "config": config})
        return original(generator, verifier=verifier, config=config)

    monkeypatch.setattr(reasoning_graph.reasoner, "create_reasoning_graph", recording)
    return built
