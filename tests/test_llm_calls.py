"""One meaning of `llm_calls` everywhere (issue 9, item 3): a call is a generation or a
verifier score, however many of them one request carried; `requests` counts the requests.

A server that answers `n=8` with 8 choices in one response used to be reported as 8 calls by
the live view, 1 by the summary line and 1 in `--json`; `--max-calls 4` made 4 candidates
and reported `llm_calls: 1`. Here one response of `n` choices is checked through `Result`,
`by_node`, `--json`, the summary line and the live view's budget line, with `max_calls`,
with a judge, with verifiers whose scores cost other than one call, and through the cache.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from rich.console import Console

from reasoning_graph import asolve
from reasoning_graph.cli import main
from reasoning_graph.cli.view import LiveView
from reasoning_graph.events import BudgetEvent, describe_event
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.cache import CachingGenerator
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.result import Result
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.usage import TokenUsage, total_usage
from reasoning_graph.verifiers.base import Verdict, Verifier, calls_per_score
from reasoning_graph.verifiers.ensemble import EnsembleVerifier
from reasoning_graph.verifiers.llm_judge import LLMJudge
from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier

BASE = "http://llm.test/v1"
Q = "What is 17 + 25?"
SOLUTION = "17 + 25 = 42. The answer is 42."


def chat_completion(request: httpx.Request) -> httpx.Response:
    """As OpenAI and vLLM answer: `n` choices in one response, 5 completion tokens each; a
    judge request (its own system prompt) gets "Yes"."""
    sent = json.loads(request.content)
    n = sent.get("n", 1)
    judge = sent["messages"][0]["content"] != SOLVE_SYSTEM_PROMPT
    text = "Yes" if judge else SOLUTION
    choices = [
        {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        for i in range(n)
    ]
    usage = {"prompt_tokens": 20, "completion_tokens": 5 * n, "total_tokens": 20 + 5 * n}
    body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m"}
    return httpx.Response(200, json={**body, "choices": choices, "usage": usage})


@pytest.fixture
def server() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock.post("/chat/completions").mock(side_effect=chat_completion)


async def run(**options: Any) -> Result:
    async with httpx.AsyncClient() as http:
        provider = OpenAIProvider("m", base_url=BASE, api_key="sk-x", http_client=http)
        return await asolve(Q, generator=provider, **options)


def assert_by_node_sums_to_total(result: Result) -> None:
    total = total_usage(result.usage.by_node)
    assert total == {
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "llm_calls": result.usage.llm_calls,
        "requests": result.usage.requests,
    }


# -- the Python API ---------------------------------------------------------------------------


async def test_eight_choices_in_one_response_are_eight_calls_and_one_request(
    server: respx.Route,
) -> None:
    """Planted bug: `read_chat_completion` charging `llm_calls: 1` per response (the old
    count) fails this test, the `max_calls` one below and both CLI tests."""
    result = await run(n=8)
    assert len(server.calls) == 1 and len(result.candidates) == 8
    assert result.usage.llm_calls == 8 and result.usage.requests == 1
    assert result.usage.by_node["think"] == {
        "prompt_tokens": 20,
        "completion_tokens": 40,
        "llm_calls": 8,
        "requests": 1,
    }
    assert_by_node_sums_to_total(result)


async def test_max_calls_4_makes_exactly_4_candidates_and_reports_4_calls(
    server: respx.Route,
) -> None:
    result = await run(n=8, max_calls=4)
    [request] = [json.loads(call.request.content) for call in server.calls]
    assert request["n"] == 4
    assert len(result.candidates) == 4
    assert result.usage.llm_calls == 4 and result.usage.requests == 1


async def test_a_judge_score_counts_as_a_call(server: respx.Route) -> None:
    result = await run(strategy="best_of_n", n=4)
    assert all(c.score == 1.0 for c in result.candidates)
    assert result.usage.by_node["verify"]["llm_calls"] == 4  # one verdict per candidate
    assert result.usage.by_node["verify"]["requests"] == 4
    assert result.usage.llm_calls == 4 + 4 and result.usage.requests == 1 + 4
    assert_by_node_sums_to_total(result)


async def test_max_calls_pays_for_each_generation_and_its_judge_score(server: respx.Route) -> None:
    result = await run(strategy="best_of_n", n=8, max_calls=6)
    assert len(result.candidates) == 3  # 3 generations + 3 verdicts
    assert result.usage.llm_calls == 6


class RewardLikeVerifier:
    """Generates nothing (`reserve_tokens` 0), but each score is one model pass, as a reward
    model's is."""

    reserve_tokens = 0
    reserve_calls = 1

    def __init__(self) -> None:
        self.calls = 0

    async def score(self, question: str, solution: str) -> Verdict:
        self.calls += 1
        usage: TokenUsage = {
            "prompt_tokens": 30,
            "completion_tokens": 0,
            "llm_calls": 1,
            "requests": 1,
        }
        return Verdict(score=0.9, usage=usage)


async def best_of_8(verifier: Verifier, *, max_calls: int) -> Result:
    return await asolve(
        Q,
        generator=FakeGenerator([SOLUTION]),
        verifier=verifier,
        strategy="best_of_n",
        n=8,
        max_calls=max_calls,
    )


async def test_max_calls_counts_the_scores_of_a_verifier_that_generates_no_tokens() -> None:
    """Planted bug: the controller took a verifier that reserves no tokens to call no model
    (`calls_per_generation = 1 + (1 if verifier_reserve > 0 else 0)` in
    `strategies/base.py`), so with a reward model `max_calls=4` allowed 4 generations and 4
    scores: `llm_calls` 8. With it planted this test fails on the candidate count."""
    verifier = RewardLikeVerifier()
    result = await best_of_8(verifier, max_calls=4)
    assert len(result.candidates) == 2 and verifier.calls == 2
    assert result.usage.llm_calls == 4 <= 4


async def test_an_ensemble_score_costs_its_members_calls() -> None:
    """Planted bug: an ensemble of two judges was reserved one call per score (its tokens
    said "a model", not how many), so `max_calls=6` allowed 3 generations and 6 verdicts:
    `llm_calls` 9. With it planted this test fails on the candidate count."""
    judges = [FakeVerifier({"42": 0.9}, reserve_tokens=4) for _ in range(2)]
    ensemble = EnsembleVerifier(judges)
    assert calls_per_score(ensemble) == 2
    result = await best_of_8(ensemble, max_calls=6)
    assert len(result.candidates) == 2  # each: 1 generation + 2 verdicts
    assert result.usage.llm_calls == 6
    assert result.usage.by_node["verify"]["llm_calls"] == 4


def test_calls_per_score_of_each_verifier_kind() -> None:
    judge = LLMJudge(FakeGenerator(["Yes"]))
    check = ProgrammaticVerifier(lambda question, solution: True)
    assert calls_per_score(judge) == 1
    assert calls_per_score(check) == 0
    assert calls_per_score(RewardLikeVerifier()) == 1
    assert calls_per_score(FakeVerifier({}, reserve_tokens=0)) == 0
    assert calls_per_score(EnsembleVerifier([judge, check, judge])) == 2

    class Legacy:  # no `reserve_calls`: reserving tokens means calling a model once
        reserve_tokens = 8

    assert calls_per_score(Legacy()) == 1  # type: ignore[arg-type]


async def test_a_cache_hit_is_a_call_but_not_a_request(tmp_path: Path) -> None:
    inner = FakeGenerator([SOLUTION])
    with CachingGenerator(inner, tmp_path / "cache.sqlite") as cache:
        recorded = await asolve(Q, generator=cache, n=8)
    with CachingGenerator(None, tmp_path / "cache.sqlite", mode="replay") as replay:
        replayed = await asolve(Q, generator=replay, n=8)
    assert recorded.usage.llm_calls == replayed.usage.llm_calls == 8
    assert recorded.usage.requests == 1 and replayed.usage.requests == 0
    assert replayed.usage.completion_tokens == recorded.usage.completion_tokens


# -- the CLI ----------------------------------------------------------------------------------


def cli(server: OpenAIStubServer) -> list[str]:
    return ["solve", Q, "--provider", "openai", "--model", "m", "--base-url", server.base_url]


def test_json_summary_and_live_view_agree_on_calls_and_requests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with OpenAIStubServer(SOLUTION, honour_n=True) as server:
        assert main([*cli(server), "--n", "8", "--json"]) == 0
        assert len(server.requests) == 1
        out, _ = capsys.readouterr()
        usage = json.loads(out)["usage"]
        assert usage["llm_calls"] == 8 and usage["requests"] == 1
        assert usage["by_node"]["think"]["llm_calls"] == 8

        server.reset()
        assert main([*cli(server), "--n", "8"]) == 0
        out, err = capsys.readouterr()
    assert "in 8 calls (1 requests)" in out
    budget_lines = [line for line in err.splitlines() if line.startswith("budget: ")]
    assert "8 calls in 1 requests" in budget_lines[-1]


def test_cli_max_calls_4_makes_4_candidates_and_reports_4_calls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with OpenAIStubServer(SOLUTION, honour_n=True) as server:
        assert main([*cli(server), "--n", "8", "--max-calls", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["candidates"]) == 4
    assert result["usage"]["llm_calls"] == 4 and result["usage"]["requests"] == 1


def test_the_live_views_budget_line_and_spinner_show_calls_made() -> None:
    event: BudgetEvent = {
        "type": "budget",
        "spent_tokens": 40,
        "llm_calls": 8,
        "requests": 1,
        "spent_calls": 9,  # one failed generation: counted by max_calls, not made
        "budget_tokens": None,
        "max_calls": 12,
        "launched": 9,
        "next": "select",
        "generations": 0,
    }
    assert describe_event(event) == (
        "budget: 40 completion tokens, 8 calls in 1 requests (9/12 counted by max_calls); "
        "next: select"
    )
    assert "(9/12" not in describe_event({**event, "max_calls": None})  # no cap: not shown
    view = LiveView(Console(file=io.StringIO()))
    view(event)
    assert str(view._status.status) == "thinking: 0 candidate(s), 40 completion tokens, 8 calls"
