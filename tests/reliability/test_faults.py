"""Reliability under injected faults: `OpenAIProvider` and the whole graph against a faulty stub.

Every fault kind of `OpenAIStubServer` is retried or kept as the brief says (a `length` cut is
a normal answer); at 20% injected faults, runs of `asolve` all finish with the right answer,
and every completion the server sent is in the result, with its usage; branches that fail
after their retries are recorded in `failures`; only when none survives does the run raise.
The 20% runs cover the sampling graph, `best_of_n` whose LLM judge meets the faults too, a
revision strategy and a step search, with shared prompts and mixed answers.

Timeouts are virtual (`VirtualTimeouts`): a request times out exactly when the server starts
holding it for a `timeout` fault, and a slow answer on a loaded machine never does, so every
count below is exact however busy the machine is.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from reasoning_graph import NoCandidatesError, ReasoningConfig, Result, asolve
from reasoning_graph.bench.datasets import Example, MathDataset
from reasoning_graph.bench.runner import arun_bench
from reasoning_graph.errors import ProviderResponseError, ProviderUnavailableError
from reasoning_graph.prompts import REVISE_INSTRUCTIONS, SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.steps import split_steps
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.testing.openai_server import FAULT_KINDS, FaultKind, Faults

QUESTION = "What is 17 + 25?"
MESSAGES: list[ChatMessage] = [{"role": "user", "content": QUESTION}]
TIMEOUT_S = 60.0  # the client's real timeout, never reached: `VirtualTimeouts` cuts held requests
HANG_S = 120.0  # how long a `timeout` fault would hold a request the client did not give up on

# What each fault kind is retried as (see `retry_reason`); `length` is never retried.
REASON: dict[FaultKind, str] = {
    "429_retry_after": "http_429",
    "429": "http_429",
    "500": "http_500",
    "503": "http_503",
    "timeout": "timeout",
    "reset": "connection",
    "truncated_json": "invalid_json",
    "malformed_json": "invalid_json",
    "empty_choices": "no_choices",
}


def numbered(request: Mapping[str, Any], index: int) -> str:
    """A reply naming its sample, so that every completion sent is told apart."""
    return f"Sample {request.get('seed', 0) + index}: 17 + 25 = 42. The answer is 42."


class VirtualTimeouts(httpx.AsyncBaseTransport):
    """A client transport whose timeouts are virtual: a request times out (`httpx.ReadTimeout`,
    as a real read timeout would) at the moment the stub server starts holding it for a
    `timeout` fault, told by `Faults(on_hold=timeouts.on_hold)`; any other request waits for
    its answer however slow the machine makes it.

    Each request is tagged with a header naming it, which the server hands to `on_hold`.
    """

    HEADER = "x-test-request"

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._lock = threading.Lock()
        self._waiting: dict[str, Callable[[], None]] = {}
        self._names = itertools.count()
        self.timeouts = 0

    def on_hold(self, headers: Mapping[str, str]) -> None:
        """The server holds the request named in `headers` (called on the server's thread)."""
        with self._lock:
            wake = self._waiting.get(headers.get(self.HEADER, ""))
        if wake is not None:
            wake()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = str(next(self._names))
        request.headers[self.HEADER] = name
        loop = asyncio.get_running_loop()
        held = asyncio.Event()
        with self._lock:
            self._waiting[name] = lambda: loop.call_soon_threadsafe(held.set)
        sending = asyncio.ensure_future(self._inner.handle_async_request(request))
        holding = asyncio.ensure_future(held.wait())
        try:
            await asyncio.wait({sending, holding}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            sending.cancel()
            raise
        finally:
            holding.cancel()
            with self._lock:
                del self._waiting[name]
        if sending.done():
            return sending.result()
        sending.cancel()  # drops the connection: the server's handler is cancelled too
        await asyncio.gather(sending, return_exceptions=True)
        self.timeouts += 1
        raise httpx.ReadTimeout("held by an injected `timeout` fault", request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def faults_with(timeouts: VirtualTimeouts, **options: Any) -> Faults:
    """`Faults(**options)` whose `timeout` faults the client gives up on at once."""
    return Faults(hang_s=HANG_S, on_hold=timeouts.on_hold, **options)


def provider_for(
    server: OpenAIStubServer, timeouts: VirtualTimeouts, **options: Any
) -> OpenAIProvider:
    settings = {"max_attempts": 6, "retry_backoff_s": 0.001, "timeout_s": TIMEOUT_S, **options}
    client = httpx.AsyncClient(transport=timeouts)
    return OpenAIProvider(
        "m", base_url=server.base_url, api_key="test", http_client=client, **settings
    )


async def solve_against(
    server: OpenAIStubServer, timeouts: VirtualTimeouts, **options: Any
) -> tuple[Result, OpenAIProvider]:
    provider = provider_for(server, timeouts, **options)
    try:
        result = await asolve(
            QUESTION, generator=provider, strategy="self_consistency", n=8, share_prompt=False
        )
    finally:
        await provider.aclose()
        await timeouts.aclose()
    return result, provider


# -- one fault at a time, through the provider ------------------------------------------------


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "length"])
async def test_each_fault_is_retried_once_then_answered(kind: FaultKind) -> None:
    timeouts = VirtualTimeouts()
    first_try_only = faults_with(
        timeouts, rate=1.0, kinds=[kind], where=lambda body, arrival: arrival == 0
    )
    with OpenAIStubServer(reply=numbered, faults=first_try_only) as server:
        provider = provider_for(server, timeouts)
        try:
            generation = await provider.generate(MESSAGES, n=2, seed=0)
        finally:
            await provider.aclose()
            await timeouts.aclose()

    assert [c.text for c in generation.completions] == [numbered({}, 0), numbered({}, 1)]
    assert server.injected == {kind: 1} and len(server.requests) == 2
    assert provider.retries.total == 1
    assert provider.retries.by_reason == {REASON[kind]: 1}
    assert timeouts.timeouts == (1 if kind == "timeout" else 0)
    [sent] = server.responses
    assert generation.usage == {
        "prompt_tokens": sent["usage"]["prompt_tokens"],
        "completion_tokens": sent["usage"]["completion_tokens"],
        "llm_calls": 2,  # the two choices of the one answered request
        "requests": 1,  # the faulty attempt is not charged
    }


async def test_429_waits_as_long_as_retry_after_asks() -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(seconds)

    timeouts = VirtualTimeouts()
    faults = Faults(rate=1.0, kinds=["429_retry_after"], where=lambda body, arrival: arrival < 3)
    with OpenAIStubServer(faults=faults) as server:
        provider = provider_for(server, timeouts, sleep=sleep, retry_backoff_s=5.0)  # no backoff
        try:
            await provider.generate(MESSAGES)
        finally:
            await provider.aclose()
            await timeouts.aclose()

    assert len(delays) == 3 and all(0.01 <= delay <= 0.05 for delay in delays)


async def test_a_length_cut_is_an_answer_kept_with_its_finish_reason() -> None:
    timeouts = VirtualTimeouts()
    with OpenAIStubServer(faults=Faults(rate=1.0, kinds=["length"])) as server:
        provider = provider_for(server, timeouts)
        try:
            generation = await provider.generate(MESSAGES)
        finally:
            await provider.aclose()
            await timeouts.aclose()

    [completion] = generation.completions
    assert completion.finish_reason == "length"
    assert completion.text == "17 + 25 ="  # 4 of the 9 words of "17 + 25 = 42. The answer is 42."
    assert provider.retries.total == 0 and len(server.requests) == 1


@pytest.mark.parametrize(
    ("kind", "error", "says"),
    [
        ("503", ProviderUnavailableError, "InternalServerError"),
        ("reset", ProviderUnavailableError, "APIConnectionError"),
        ("malformed_json", ProviderResponseError, "JSONDecodeError"),
        ("empty_choices", ProviderResponseError, "no choices"),
    ],
)
async def test_a_fault_that_never_clears_fails_after_max_attempts(
    kind: FaultKind, error: type[Exception], says: str
) -> None:
    timeouts = VirtualTimeouts()
    with OpenAIStubServer(faults=Faults(rate=1.0, kinds=[kind])) as server:
        provider = provider_for(server, timeouts, max_attempts=3)
        try:
            with pytest.raises(error, match="3 attempt") as caught:
                await provider.generate(MESSAGES)
        finally:
            await provider.aclose()
            await timeouts.aclose()

    assert says in str(caught.value)
    assert len(server.requests) == 3 and provider.retries.total == 2


# -- the whole graph at 20% faults ------------------------------------------------------------


async def one_faulty_run(seed: int) -> tuple[Result, OpenAIProvider, OpenAIStubServer]:
    timeouts = VirtualTimeouts()
    with OpenAIStubServer(
        reply=numbered, faults=faults_with(timeouts, rate=0.2, seed=seed)
    ) as server:
        result, provider = await solve_against(server, timeouts)
    assert timeouts.timeouts == server.injected.get("timeout", 0)
    return result, provider, server


async def test_runs_at_20_percent_faults_all_finish_right_and_lose_nothing() -> None:
    """24 runs x 8 branches, each branch up to 6 attempts.

    A branch fails only when all 6 attempts draw a fault (0.2^6 per branch): seed 5 draws
    that for its branch c1, which is recorded as a failure while the run goes on.

    Load-proof: with a real 1 s client timeout this flaked on a busy machine (a healthy but
    slow answer timed out: one retry more than the faults explain); timeouts are now
    virtual (`VirtualTimeouts`), cut exactly when a `timeout` fault holds a request.
    """
    runs = await asyncio.gather(*(one_faulty_run(seed) for seed in range(24)))

    injected: Counter[str] = Counter()
    exhausted = 0
    for result, provider, server in runs:
        assert result.answer == "42"
        failed = [i for f in result.failures for i in f.candidate_ids]
        assert sorted([c.id for c in result.candidates] + failed) == [f"c{i}" for i in range(8)]
        assert all(f.node == "think" and "6 attempt" in f.message for f in result.failures)
        exhausted += len(failed)
        # No completed branch lost: every completion the server sent is a candidate ...
        sent = server.responses
        assert sorted(c.text for c in result.candidates) == sorted(
            choice["message"]["content"] for response in sent for choice in response["choices"]
        )
        # ... and is charged exactly once, failed attempts not at all.
        assert result.usage.llm_calls == sum(len(r["choices"]) for r in sent)
        assert result.usage.requests == len(sent)
        assert result.usage.prompt_tokens == sum(r["usage"]["prompt_tokens"] for r in sent)
        assert result.usage.completion_tokens == sum(r["usage"]["completion_tokens"] for r in sent)
        # Every injected fault but a length cut cost one retry of its own kind, except the
        # last fault of a branch that ran out of attempts.
        expected: Counter[str] = Counter()
        for kind, count in server.injected.items():
            if kind != "length":
                expected[REASON[kind]] += count  # type: ignore[index]
        if not failed:
            assert provider.retries.by_reason == dict(sorted(expected.items()))
        assert provider.retries.total == expected.total() - len(failed)
        cut = [c for c in result.candidates if c.finish_reason == "length"]
        assert len(cut) == server.injected.get("length", 0)
        injected.update(server.injected)

    requests = sum(len(server.requests) for _, _, server in runs)
    assert 0.1 * requests <= sum(injected.values()) <= 0.3 * requests
    assert set(injected) == set(FAULT_KINDS)  # every kind was met at least once
    assert exhausted == 1  # deterministic: seed 5, branch c1 (six faults in a row)


# -- 20% faults across strategies: a judge, revision chains, a step search ---------------------


def mixed(request: Mapping[str, Any], index: int) -> str:
    """Every request of every node, told apart by its prompt: a sample answers 41 when its
    number is 1 mod 3 and 42 otherwise; a revision answers 42 (first, so that a `length` cut
    keeps it); the next step of a partial solution follows its first step's sum; a judge
    (whole solution or one step) says No exactly when what it reads reaches 41."""
    messages = request["messages"]
    sample = request.get("seed", 0) + index
    if messages[0]["content"] != SOLVE_SYSTEM_PROMPT:
        return "No" if "41." in messages[-1]["content"] else "Yes"
    if REVISE_INSTRUCTIONS in messages[-1]["content"]:
        return f"The answer is 42. Revision {sample}: 17 + 25 = 42."
    if len(messages) == 4:  # a step search's next step of a partial solution
        return f"So the answer is {41 if '= 41.' in messages[2]['content'] else 42}."
    answer = 41 if sample % 3 == 1 else 42
    return f"Sample {sample}: 17 + 25 = {answer}.\n\nThe answer is {answer}."


ACROSS = {
    "best_of_n": {"strategy": "best_of_n", "n": 8},
    "parallel_revision": {"strategy": "parallel_revision", "n": 6, "chains": 2},
    "beam_search": {"strategy": "beam_search", "n": 4, "max_steps": 3},
}


async def one_faulty_strategy_run(
    options: Mapping[str, Any], seed: int
) -> tuple[Result, OpenAIProvider, OpenAIStubServer]:
    timeouts = VirtualTimeouts()
    with OpenAIStubServer(reply=mixed, faults=faults_with(timeouts, rate=0.2, seed=seed)) as server:
        provider = provider_for(server, timeouts)
        try:
            result = await asolve(QUESTION, generator=provider, share_prompt=True, **options)
        finally:
            await provider.aclose()
            await timeouts.aclose()
    assert timeouts.timeouts == server.injected.get("timeout", 0)
    return result, provider, server


@pytest.mark.parametrize("name", list(ACROSS))
async def test_20_percent_faults_across_strategies_lose_nothing(name: str) -> None:
    """12 runs of `best_of_n` (its default LLM judge on the same faulty server), of
    `parallel_revision` (2 chains of 3 attempts) and of `beam_search` (judge-graded steps),
    every request of every node facing 20% faults, prompts shared (`n` choices per request).

    Each run answers 42 though a third of the samples say 41; every completion the server
    sent is in the result once (a sample, a revision or a step of a candidate; a verdict as
    a candidate's score) and charged once; every fault cost exactly one retry.

    Plant caught, which the one-choice-per-request run above misses: `read_chat_completion`
    dropping the `length`-cut choices of a multi-choice response (the partial-`n` fallback
    then asks again, and a completion the server sent is lost)."""
    runs = await asyncio.gather(*(one_faulty_strategy_run(ACROSS[name], s) for s in range(12)))

    injected: Counter[str] = Counter()
    for result, provider, server in runs:
        assert result.answer == "42"
        assert result.failures == []  # no branch ran out of its 6 attempts at these seeds
        sent = server.responses
        texts = [c["message"]["content"] for r in sent for c in r["choices"]]
        verdicts = [t for t in texts if t in ("Yes", "No")]
        written = [t for t in texts if t not in ("Yes", "No")]
        if name == "beam_search":  # a beam is its parent's text and one more step
            steps = [split_steps(c.text)[-1] for c in result.candidates]
            assert sorted(steps) == sorted(split_steps(t)[0] for t in written)
            graded = sum(len(split_steps(c.text)) for c in result.candidates)
            assert len(verdicts) == graded  # each step of each beam graded once
        else:
            assert sorted(c.text for c in result.candidates) == sorted(written)
            assert len(verdicts) == sum(1 for c in result.candidates if c.score is not None)
        if name != "parallel_revision":  # the judge scores every candidate
            assert all(c.score is not None for c in result.candidates)
        assert result.usage.llm_calls == len(texts)  # every choice a call, verdicts included
        assert result.usage.requests == len(sent)
        assert result.usage.prompt_tokens == sum(r["usage"]["prompt_tokens"] for r in sent)
        assert result.usage.completion_tokens == sum(r["usage"]["completion_tokens"] for r in sent)
        retried = sum(count for kind, count in server.injected.items() if kind != "length")
        assert provider.retries.total == retried
        injected.update(server.injected)
    # The faults did hit: both the samples' and the judge's requests, most kinds.
    assert sum(injected.values()) >= 10 and len(injected) >= 6
    wrong = [c for r, _, _ in runs for c in r.candidates if "= 41." in c.text]
    assert wrong  # the answers were mixed, and the wrong ones kept as candidates


# -- partial and total failure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error"),
    [("503", "ProviderUnavailableError"), ("empty_choices", "ProviderResponseError")],
)
async def test_branches_that_fail_after_retries_are_recorded_and_the_run_goes_on(
    kind: FaultKind, error: str
) -> None:
    always_seeds_2_and_5 = Faults(
        rate=1.0, kinds=[kind], where=lambda body, arrival: body.get("seed") in (2, 5)
    )
    with OpenAIStubServer(reply=numbered, faults=always_seeds_2_and_5) as server:
        result, provider = await solve_against(server, VirtualTimeouts(), max_attempts=3)

    assert result.answer == "42"
    failed = sorted((f.node, tuple(f.candidate_ids), f.error) for f in result.failures)
    assert failed == [("think", ("c2",), error), ("think", ("c5",), error)]
    assert all("3 attempt" in f.message for f in result.failures)
    assert sorted(c.id for c in result.candidates) == ["c0", "c1", "c3", "c4", "c6", "c7"]
    assert [c.seed for c in result.candidates] == [0, 1, 3, 4, 6, 7]
    assert result.usage.llm_calls == result.usage.requests == len(server.responses) == 6
    assert provider.retries.total == 2 * 2


async def test_no_surviving_candidate_raises_naming_the_cause() -> None:
    with OpenAIStubServer(faults=Faults(rate=1.0, kinds=["500"])) as server:
        with pytest.raises(NoCandidatesError) as caught:
            await solve_against(server, VirtualTimeouts(), max_attempts=2)

    message = str(caught.value)
    assert "no candidate survived (8 branch(es) failed)" in message
    assert "first failure: ProviderUnavailableError" in message
    assert "still failing after 2 attempt(s): InternalServerError: Error code: 500" in message
    assert len(server.requests) == 8 * 2 and server.responses == []


# -- the concurrency limit holds across a bench's parallel questions ---------------------------


@pytest.mark.parametrize(
    "faults",
    [None, Faults(rate=0.2, kinds=[k for k in FAULT_KINDS if k != "timeout"], seed=1)],
    ids=["clean", "faults"],
)
async def test_max_concurrency_is_a_global_limit_across_bench_questions(
    tmp_path: Path, faults: Faults | None
) -> None:
    """8 questions at once x 8 parallel branches want 64 requests in flight; 5 may be."""
    questions = [Example(id=f"q{i}", question=QUESTION, gold="42") for i in range(8)]
    timeouts = VirtualTimeouts()
    with OpenAIStubServer(reply=numbered, latency_s=0.05, faults=faults) as server:
        provider = provider_for(server, timeouts, max_concurrency=5)
        try:
            records = await arun_bench(
                MathDataset("toy", questions),
                strategies=["self_consistency"],
                ns=[8],
                generator=provider,
                base_config=ReasoningConfig(share_prompt=False),
                out_dir=tmp_path,
                concurrency=8,
                progress=False,
            )
        finally:
            await provider.aclose()
            await timeouts.aclose()

    assert all(r.correct for r in records) and len(records) == 8
    assert server.peak_in_flight == 5  # reached, never passed
    assert len(server.responses) == sum(r.requests or 0 for r in records)
    assert sum(len(r["choices"]) for r in server.responses) == sum(r.llm_calls for r in records)
