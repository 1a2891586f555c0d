"""`langgraph.json` points `langgraph dev` at a compiled graph that loads no model on import."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from langgraph.graph.state import CompiledStateGraph

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_a_compiled_graph():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    (spec,) = config["graphs"].values()
    path, attribute = spec.split(":")
    assert (ROOT / path).is_file()
    module_name = Path(path).with_suffix("").as_posix().removeprefix("./").replace("/", ".")
    pytest.importorskip("llama_cpp", reason="the studio graph runs the embedded model")
    module = importlib.import_module(module_name)
    graph = getattr(module, attribute)
    assert isinstance(graph, CompiledStateGraph)
    assert set(graph.get_graph().nodes) >= {"budget", "think", "verify", "revise", "select"}
    assert graph.get_input_jsonschema()["required"] == ["question"]
    # Building the graph did not load the model: that waits for the first generation.
    assert module.generator._llm is None


def test_langgraph_cli_accepts_the_config():
    cli_config = pytest.importorskip("langgraph_cli.config")
    validated = cli_config.validate_config_file(ROOT / "langgraph.json")
    assert validated["graphs"] == {"reasoning_graph": "./reasoning_graph/studio.py:graph"}
