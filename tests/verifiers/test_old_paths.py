"""The verifiers' old import paths under `reasoning_graph.providers` still work for one release:
each name read through them warns with a `DeprecationWarning` naming the new path, and is the
very object the new path holds.

Planted bugs these tests catch: a shim pointed at the wrong module or a name dropped from the
new module's `__all__` (`AttributeError`), a shim that returns a copy or another object (`is`
fails), a shim that forwards silently (no warning), a warning that names the wrong place or
blames the shim's line instead of the importer's, and a package import that warns by itself.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import reasoning_graph.providers
import reasoning_graph.providers.base
import reasoning_graph.verifiers

MODULES = [
    "ensemble",
    "llm_judge",
    "programmatic",
    "reward_model",
    "step_scoring",
    "transformers_reward",
    "vllm_pooling",
]
BASE_NAMES = ["StepVerdict", "StepVerifier", "Verdict", "Verifier"]


@pytest.mark.parametrize("name", sorted(reasoning_graph.verifiers.__all__))
def test_the_providers_package_forwards_every_verifier_with_a_warning(name: str) -> None:
    new = getattr(reasoning_graph.verifiers, name)
    with pytest.warns(DeprecationWarning, match=rf"providers\.{name} moved to .*verifiers\.{name}"):
        old = getattr(reasoning_graph.providers, name)
    assert old is new


@pytest.mark.parametrize("name", BASE_NAMES)
def test_providers_base_forwards_the_verifier_protocols(name: str) -> None:
    new = getattr(importlib.import_module("reasoning_graph.verifiers.base"), name)
    with pytest.warns(DeprecationWarning, match=rf"verifiers\.base\.{name}"):
        old = getattr(reasoning_graph.providers.base, name)
    assert old is new


@pytest.mark.parametrize("module", MODULES)
def test_every_old_module_forwards_every_name(module: str) -> None:
    new = importlib.import_module(f"reasoning_graph.verifiers.{module}")
    old = importlib.import_module(f"reasoning_graph.providers.{module}")
    assert old.__all__ == new.__all__ and new.__all__
    for name in new.__all__:
        with pytest.warns(DeprecationWarning, match=rf"verifiers\.{module}\.{name}"):
            value = getattr(old, name)
        assert value is getattr(new, name), name


def test_the_import_statement_warns_and_points_at_the_importer() -> None:
    namespace: dict[str, object] = {}
    with pytest.warns(DeprecationWarning) as caught:
        exec(  # a real `from ... import`, compiled as if written in this file
            compile(
                "from reasoning_graph.providers.reward_model import RewardModelVerifier\n"
                "from reasoning_graph.providers import LLMJudge\n",
                __file__,
                "exec",
            ),
            namespace,
        )
    assert namespace["RewardModelVerifier"] is reasoning_graph.verifiers.RewardModelVerifier
    assert namespace["LLMJudge"] is reasoning_graph.verifiers.LLMJudge
    assert {w.filename for w in caught} == {__file__}  # the user's line, not the shim's


def test_names_that_never_existed_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchVerifier"):
        reasoning_graph.providers.NoSuchVerifier  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_name"):
        importlib.import_module("reasoning_graph.providers.llm_judge").no_such_name  # noqa: B018


def test_importing_the_packages_and_the_generators_does_not_warn() -> None:
    code = (
        "import reasoning_graph, reasoning_graph.providers, reasoning_graph.verifiers\n"
        "from reasoning_graph.providers import *\n"
        "from reasoning_graph.providers.base import *\n"
        "from reasoning_graph.verifiers import *\n"
    )
    subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        check=True,
        capture_output=True,
        timeout=120,
    )
