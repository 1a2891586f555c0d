"""`reasoning-graph solve` shows live events on stderr, and keeps stdout clean for `--json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from reasoning_graph.cli import main
from reasoning_graph.testing import OpenAIStubServer

QUESTION = "What is 17 + 25?"


def reply(request: Mapping[str, Any], choice_index: int) -> str:
    sample = request.get("seed", 0) + choice_index
    return "The answer is 41." if sample % 4 == 1 else "17 + 25 = 42. The answer is 42."


def argv(server: OpenAIStubServer, *extra: str) -> list[str]:
    return [
        "solve",
        QUESTION,
        "--provider",
        "openai",
        "--model",
        "m",
        "--base-url",
        server.base_url,
        *extra,
    ]


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "reasoning_graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_live_view_on_stderr(capsys):
    with OpenAIStubServer(reply) as server:
        code = main(argv(server, "--n", "8", "--early-stop", "settled"))
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("plan: self_consistency (fixed), 8 generations, majority")
    assert any(line.startswith("difficulty: bin ") for line in lines)
    candidates = [line for line in lines if line.startswith("  think c")]
    assert "  think c0: 42" in candidates and "  think c1: 41" in candidates
    assert any(line.startswith("budget: ") and "completion tokens" in line for line in lines)
    assert lines[-1] == "selected: 42 (c0)"
    assert "Answer: 42" in out and "plan:" not in out


def test_live_view_shows_early_stop(capsys):
    always_42 = "17 + 25 = 42. The answer is 42."
    with OpenAIStubServer(always_42) as server:
        code = main(argv(server, "--n", "16", "--early-stop", "settled"))
    _, err = capsys.readouterr()
    assert code == 0, err
    assert any(line.startswith("early stop (settled): ") for line in err.splitlines())


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_json_and_quiet_have_no_live_view(flag):
    with OpenAIStubServer(reply) as server:
        completed = run(argv(server, "--n", "4", flag))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    if flag == "--json":
        assert json.loads(completed.stdout)["answer"] == "42"


def test_live_view_in_a_subprocess_keeps_stdout_for_the_answer():
    with OpenAIStubServer(reply) as server:
        completed = run(argv(server, "--n", "4"))
    assert completed.returncode == 0, completed.stderr
    assert "plan: self_consistency" in completed.stderr
    assert "selected: 42" in completed.stderr
    assert completed.stdout.startswith("Answer: 42")
