"""The call budget (`max_calls`) and the wall-clock deadline (`deadline_s`), through the
Python API, a graph compiled by hand and the CLI.

Timing assertions are generous guards only: what is checked is how many completions were
made and that an answer came back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from reasoning_graph import (
    BudgetError,
    DeadlineExceededError,
    ProviderUnavailableError,
    ReasoningConfig,
    asolve,
    create_reasoning_graph,
)
from reasoning_graph.cli import main
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.verifiers.llm_judge import LLMJudge

Q = "What is 3 + 4?"
GUARD_S = 15.0  # far above anything these runs should take; only catches a run that hangs


def is_judge(messages: Sequence[ChatMessage]) -> bool:
    return messages[0]["content"] != SOLVE_SYSTEM_PROMPT


class SlowGenerator(FakeGenerator):
    """Replies `answers[seed]`; the seeds in `slow` wait `slow_s` first, every call `each_s`.

    The judge (its own system prompt) says Yes at once, or fails when `judge_fails`.
    """

    def __init__(
        self,
        answers: Sequence[str] = ("7",),
        *,
        slow: Sequence[int] = (),
        slow_s: float = 60.0,
        each_s: float = 0.0,
        judge_fails: bool = False,
    ) -> None:
        super().__init__(self._reply)
        self.answers = list(answers)
        self.slow = set(slow)
        self.slow_s = slow_s
        self.each_s = each_s
        self.judge_fails = judge_fails
        self.started: list[int | None] = []
        self.judged = 0
        self._seed = 0  # the seed of the call being answered (set just before it is)

    def _reply(self, messages: Sequence[ChatMessage], index: int) -> str:
        if is_judge(messages):
            return "Yes"
        answer = self.answers[self._seed % len(self.answers)]
        return f"3 + 4 = {answer}. The answer is {answer}."

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        if is_judge(messages):
            self.judged += 1
            if self.judge_fails:
                raise ProviderUnavailableError("the judge's server is down (503)")
            return await super().generate(messages, **kwargs)
        seed = kwargs.get("seed")
        self.started.append(seed)
        if seed in self.slow:
            await asyncio.sleep(self.slow_s)
        elif self.each_s:
            await asyncio.sleep(self.each_s)
        self._seed = seed or 0
        return await super().generate(messages, **kwargs)


# -- the deadline ---------------------------------------------------------------------------


async def test_deadline_returns_the_best_answer_so_far_mid_wave() -> None:
    # Eight branches in one wave; three answer at once, five would take a minute each.
    generator = SlowGenerator(["7", "7", "8"], slow=[3, 4, 5, 6, 7])
    started = time.monotonic()

    result = await asolve(Q, generator=generator, n=8, share_prompt=False, deadline_s=0.5)

    assert time.monotonic() - started < GUARD_S
    assert generator.completions_made == 3
    assert result.answer == "7"  # the majority of the three that finished
    assert [c.id for c in result.candidates] == ["c0", "c1", "c2"]
    [cancelled] = result.failures
    assert cancelled.error == "DeadlineExceededError"
    assert cancelled.candidate_ids == ["c3", "c4", "c5", "c6", "c7"]
    assert result.usage.llm_calls == 3


async def test_deadline_with_no_candidate_yet_raises() -> None:
    generator = SlowGenerator(slow=range(4))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="deadline_s=0.2"):
        await asolve(Q, generator=generator, n=4, share_prompt=False, deadline_s=0.2)
    assert time.monotonic() - started < GUARD_S
    assert generator.completions_made == 0


async def test_controller_checks_the_deadline_between_waves() -> None:
    # A graph compiled by hand has no asolve timeout: the controller stops between waves.
    generator = SlowGenerator(each_s=0.05)
    config = ReasoningConfig(strategy="revision", n=200, deadline_s=0.3)
    graph = create_reasoning_graph(generator, config=config).compile()
    started = time.monotonic()

    state = await graph.ainvoke({"question": Q}, {"recursion_limit": 1000})

    assert time.monotonic() - started < GUARD_S
    assert state["answer"] == "7"
    assert 1 <= len(state["candidates"]) < 200
    assert len(state["candidates"]) == generator.completions_made
    decisions = [e["data"] for e in state["events"] if e["kind"] == "decision"]
    assert decisions[-1]["reason"].startswith("deadline passed")


async def test_controller_raises_when_the_deadline_passes_with_no_candidate() -> None:
    class Failing(SlowGenerator):
        async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
            await asyncio.sleep(0.2)
            raise ProviderUnavailableError("503")

    config = ReasoningConfig(n=8, early_stop="settled", wave_size=2, deadline_s=0.1)
    graph = create_reasoning_graph(Failing(), config=config).compile()
    with pytest.raises(DeadlineExceededError, match="before any candidate"):
        await graph.ainvoke({"question": Q})


async def test_a_run_that_beats_its_deadline_is_untouched() -> None:
    result = await asolve(Q, generator=SlowGenerator(), n=4, deadline_s=30)
    assert result.answer == "7" and len(result.candidates) == 4 and result.failures == []


# -- the call budget ------------------------------------------------------------------------


async def test_max_calls_counts_generations_and_judge_scores() -> None:
    generator = SlowGenerator()
    result = await asolve(
        Q, generator=generator, strategy="best_of_n", n=8, max_calls=6, share_prompt=False
    )
    assert len(result.candidates) == 3 and generator.judged == 3
    assert result.usage.llm_calls == 6


async def test_max_calls_counts_every_sample_of_a_shared_request() -> None:
    generator = SlowGenerator()
    result = await asolve(Q, generator=generator, n=8, max_calls=5, share_prompt=True)
    assert len(result.candidates) == 5
    assert [call.n for call in generator.calls] == [5]
    assert result.usage.llm_calls == 5  # every sample is a call ...
    assert result.usage.requests == 1  # ... though one request carried them all


async def test_a_verifier_that_calls_no_model_costs_no_calls() -> None:
    verifier = FakeVerifier({"is 7": 1.0}, reserve_tokens=0)
    result = await asolve(
        Q, generator=SlowGenerator(), verifier=verifier, strategy="best_of_n", n=4, max_calls=4
    )
    assert len(result.candidates) == 4 and verifier.calls == 4


async def test_failed_judge_calls_count_against_max_calls() -> None:
    generator = SlowGenerator(judge_fails=True)
    result = await asolve(
        Q, generator=generator, verifier=LLMJudge(generator), strategy="revision", n=6, max_calls=5
    )
    # c0 + its score, c1 + its score: four calls; a third attempt and its score would be six.
    assert len(generator.started) == 2 and generator.judged == 2
    assert len(result.candidates) == 2
    assert [f.node for f in result.failures] == ["verify", "verify"]


async def test_failed_generations_count_against_max_calls() -> None:
    class FailFirstTwo(SlowGenerator):
        async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
            if kwargs.get("seed") in (0, 1):
                self.started.append(kwargs.get("seed"))
                raise ProviderUnavailableError("503")
            return await super().generate(messages, **kwargs)

    generator = FailFirstTwo()
    result = await asolve(Q, generator=generator, n=6, share_prompt=False, max_calls=4)
    assert sorted(s for s in generator.started if s is not None) == [0, 1, 2, 3]
    assert len(result.candidates) == 2 and len(result.failures) == 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"strategy": "best_of_n", "max_calls": 1}, "max_calls=1"),
        ({"max_calls": 0}, "max_calls"),
        ({"deadline_s": 0}, "deadline_s"),
        ({"deadline_s": -5}, "deadline_s"),
    ],
)
async def test_budgets_too_small_or_invalid_are_clear_errors(
    options: dict[str, Any], named: str
) -> None:
    generator = SlowGenerator()
    with pytest.raises((BudgetError, ValueError), match=named):
        await asolve(Q, generator=generator, n=4, **options)
    assert generator.calls == []


# -- the CLI --------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_max_calls(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    with OpenAIStubServer() as server:
        argv = ["solve", "What is 17 + 25?", "--base-url", server.base_url, "--model", "m"]
        code, out, err = run_cli([*argv, "--n", "8", "--max-calls", "3", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert len(result["candidates"]) == 3 and result["answer"] == "42"
    assert [r.get("n") for r in server.requests] == [3]


def test_cli_deadline_with_no_answer_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with OpenAIStubServer(latency_s=5.0) as server:
        argv = ["solve", "What is 17 + 25?", "--base-url", server.base_url, "--model", "m"]
        started = time.monotonic()
        code, out, err = run_cli([*argv, "--deadline-s", "0.3", "--quiet"], capsys)
        assert time.monotonic() - started < GUARD_S
    assert code == 2 and out == ""
    assert "deadline" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--max-calls", "0"], "max_calls"),
        (["--max-calls", "x"], "invalid int value"),
        (["--deadline-s", "0"], "deadline_s"),
        (["--deadline-s", "-1"], "deadline_s"),
        (["--deadline-s", "soon"], "invalid float value"),
    ],
)
def test_cli_bad_limits_are_one_line(
    flags: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["solve", "2 + 2?", *flags], capsys)
    assert code == 2 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1


def test_bench_passes_the_limits_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from reasoning_graph.bench import commands

    seen: dict[str, Any] = {}

    def fake_bench(**kwargs: Any) -> int:
        seen.update(kwargs["options"])
        return 0

    monkeypatch.setattr(commands, "bench_command", fake_bench)
    argv = ["bench", "--data", "gsm8k:x.jsonl", "--out", str(tmp_path)]
    code, _, err = run_cli([*argv, "--max-calls", "12", "--deadline-s", "2.5"], capsys)
    assert code == 0, err
    assert seen["max_calls"] == 12 and seen["deadline_s"] == 2.5
