"""Tests of record and replay (`reasoning_graph.providers.cache.CachingGenerator`)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reasoning_graph import asolve
from reasoning_graph.errors import ConfigurationError, ProviderError, ProviderResponseError
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, Generator
from reasoning_graph.providers.cache import CacheMissError, CachingGenerator
from reasoning_graph.providers.fake import FakeGenerator

Q: list[ChatMessage] = [{"role": "user", "content": "What is two plus two, exactly?"}]  # 6 tokens
TEXTS = [f"Sample {i}: the answer is {i}." for i in range(32)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cache.sqlite"


def texts(generation: Generation) -> list[str]:
    return [c.text for c in generation.completions]


def calls(fake: FakeGenerator) -> list[tuple[int, int | None]]:
    return [(c.n, c.seed) for c in fake.calls]


async def test_a_repeated_call_is_served_from_the_cache(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        first = await cache.generate(Q, n=3, seed=10)
        second = await cache.generate(Q, n=3, seed=10)
        assert calls(fake) == [(3, 10)]
        assert second.completions == first.completions
        # A hit is the same calls and tokens, but no request was sent for it.
        assert first.usage["requests"] == 1
        assert second.usage == {**first.usage, "requests": 0}
        assert [c.seed for c in second.completions] == [10, 11, 12]
        assert (cache.hits, cache.misses) == (3, 3)
        assert cache.model_name == "fake"
        assert isinstance(cache, Generator)


async def test_a_smaller_n_with_the_same_seed_hits_the_pool(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        pool = await cache.generate(Q, n=8, seed=0)
        four = await cache.generate(Q, n=4, seed=0)
        assert calls(fake) == [(8, 0)]
        assert texts(four) == texts(pool)[:4]
        # 6 prompt tokens over 8 samples: 0 each, the remainder (6) on seed 0; 4 samples are
        # 4 calls, all served from the pool, so no request.
        assert four.usage == {
            "prompt_tokens": 6,
            "completion_tokens": sum(c.completion_tokens or 0 for c in four.completions),
            "llm_calls": 4,
            "requests": 0,
        }
        # Extending the pool generates only the new seeds, in one call.
        twelve = await cache.generate(Q, n=12, seed=0)
        assert calls(fake) == [(8, 0), (4, 8)]
        assert texts(twelve)[:8] == texts(pool)


async def test_non_consecutive_misses_are_generated_per_run_of_seeds(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        await cache.generate(Q, n=1, seed=2)
        await cache.generate(Q, n=1, seed=5)
        generation = await cache.generate(Q, n=8, seed=0)
        assert sorted(calls(fake)[2:]) == [(2, 0), (2, 3), (2, 6)]
        assert [c.seed for c in generation.completions] == list(range(8))
        assert (cache.hits, cache.misses) == (2, 8)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.2},
        {"max_tokens": 64},
        {"stop": ["\n\n"]},
        {"logprobs": True, "top_logprobs": 2},
        {"messages": [{"role": "user", "content": "What is three plus three?"}]},
    ],
)
async def test_a_different_request_misses(path: Path, change: dict[str, Any]) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        await cache.generate(Q, n=2, seed=0)
        options: dict[str, Any] = {"messages": Q, "n": 2, "seed": 0, **change}
        await cache.generate(options.pop("messages"), **options)
        assert len(fake.calls) == 2
        assert cache.misses == 4


async def test_same_options_spelled_differently_hit(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        await cache.generate(Q, seed=0, temperature=1, stop=None, top_logprobs=3)
        await cache.generate(Q, seed=0, temperature=1.0, stop=[], top_logprobs=0)
        assert len(fake.calls) == 1


async def test_replay_reproduces_the_generation_without_a_generator(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        recorded = [await cache.generate(Q, n=3, seed=0), await cache.generate(Q, n=5, seed=0)]
    with CachingGenerator(None, path, mode="replay") as replay:
        assert replay.model_name == "fake"
        replayed = [await replay.generate(Q, n=3, seed=0), await replay.generate(Q, n=5, seed=0)]
        assert [g.completions for g in replayed] == [g.completions for g in recorded]
        # the same tokens and calls, but no request: nothing was sent
        assert [g.usage for g in replayed] == [{**g.usage, "requests": 0} for g in recorded]
        with pytest.raises(CacheMissError, match=r"'fake' with seed 5 .* read_write mode") as err:
            await replay.generate(Q, n=6, seed=0)
        assert isinstance(err.value, ProviderError)
        with pytest.raises(CacheMissError, match="unseeded"):
            await replay.generate(Q, n=1)
        assert (replay.hits, replay.misses) == (8, 0)


async def test_replay_mode_never_calls_a_given_generator(path: Path) -> None:
    with CachingGenerator(FakeGenerator(TEXTS), path) as cache:
        await cache.generate(Q, seed=0)
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path, mode="replay") as replay:
        await replay.generate(Q, seed=0)
        with pytest.raises(CacheMissError):
            await replay.generate(Q, seed=1)
    assert fake.calls == []


class SharedUsageGenerator:
    """Reports usage per request only, like an OpenAI-compatible server answering `n` > 1."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def model_name(self) -> str:
        return "shared"

    async def generate(
        self, messages: Sequence[ChatMessage], *, n: int = 1, seed: int | None = None, **_: Any
    ) -> Generation:
        self.calls += 1
        return Generation(
            completions=[Completion(text=f"text {seed} {i}", seed=seed) for i in range(n)],
            usage={"prompt_tokens": 10, "completion_tokens": 23, "llm_calls": n, "requests": 1},
        )


async def test_usage_shares_add_up_and_replay_exactly(path: Path) -> None:
    inner = SharedUsageGenerator()
    with CachingGenerator(inner, path) as cache:
        fresh = await cache.generate(Q, n=3, seed=0)
        assert fresh.usage == {
            "prompt_tokens": 10,
            "completion_tokens": 23,
            "llm_calls": 3,
            "requests": 1,
        }
        assert [c.completion_tokens for c in fresh.completions] == [None] * 3  # kept as reported
        assert [c.seed for c in fresh.completions] == [0, 1, 2]  # the sample's own seed
        replayed = await cache.generate(Q, n=3, seed=0)
        assert replayed.completions == fresh.completions
        assert replayed.usage == {**fresh.usage, "requests": 0}
        # Shares: prompt 10 -> 4, 3, 3; completion 23 -> 9, 7, 7; one call per sample.
        first = await cache.generate(Q, n=1, seed=0)
        assert first.usage == {
            "prompt_tokens": 4,
            "completion_tokens": 9,
            "llm_calls": 1,
            "requests": 0,
        }
        rest = await cache.generate(Q, n=2, seed=1)
        assert rest.usage == {
            "prompt_tokens": 6,
            "completion_tokens": 14,
            "llm_calls": 2,
            "requests": 0,
        }
        assert inner.calls == 1


async def test_unseeded_calls_pass_through_uncached(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        one = await cache.generate(Q, n=2)
        two = await cache.generate(Q, n=2)
        assert texts(one) != texts(two)
        assert calls(fake) == [(2, None), (2, None)]
        assert (cache.hits, cache.misses) == (0, 0)


async def test_concurrent_identical_requests_generate_once(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    with CachingGenerator(fake, path) as cache:
        results = await asyncio.gather(*(cache.generate(Q, n=4, seed=0) for _ in range(3)))
        assert calls(fake) == [(4, 0)]
        assert all(r.completions == results[0].completions for r in results)
        assert sorted(r.usage["requests"] for r in results) == [0, 0, 1]  # one request in all
        assert (cache.hits, cache.misses) == (8, 4)


async def test_a_failed_inner_call_records_nothing(path: Path) -> None:
    class Short(FakeGenerator):
        async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
            generation = await super().generate(messages, **kwargs)
            return Generation(completions=generation.completions[:1], usage=generation.usage)

    with CachingGenerator(Short(TEXTS), path) as cache:
        with pytest.raises(ProviderResponseError, match="returned 1 completions for n=2"):
            await cache.generate(Q, n=2, seed=0)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (0,)
    db.close()


def test_recordings_persist_and_serve_other_loops_and_threads(path: Path) -> None:
    fake = FakeGenerator(TEXTS)
    cache = CachingGenerator(fake, path)
    recorded = asyncio.run(cache.generate(Q, n=4, seed=0))
    hit = asyncio.run(cache.generate(Q, n=4, seed=0))  # a second event loop
    assert hit.completions == recorded.completions
    assert hit.usage == {**recorded.usage, "requests": 0}
    seen: list[Generation] = []
    threads = [
        threading.Thread(target=lambda: seen.append(asyncio.run(cache.generate(Q, n=4, seed=0))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    assert seen == [hit] * 4
    with CachingGenerator(FakeGenerator(TEXTS), path) as reopened:  # a new process, in effect
        assert asyncio.run(reopened.generate(Q, n=4, seed=0)) == hit
        assert reopened.misses == 0
    assert len(fake.calls) == 1


async def test_end_to_end_replay_gives_the_identical_result(path: Path) -> None:
    script = ["The answer is 4.", "I think 5.", "So it is 4.", "The answer is 4."]
    fake = FakeGenerator(script)
    with CachingGenerator(fake, path) as cache:
        recorded = await asolve("What is 2 + 2?", generator=cache, n=4)
    made = len(fake.calls)
    with CachingGenerator(None, path, mode="replay") as replay:
        replayed = await asolve("What is 2 + 2?", generator=replay, n=4)
        assert replay.misses == 0 and replay.hits == 4
    assert len(fake.calls) == made
    assert replayed.answer == recorded.answer == "4"
    assert replayed.candidates == recorded.candidates
    # The same tokens and calls; the requests are the ones actually sent: none on replay.
    assert recorded.usage.requests == 1 and replayed.usage.requests == 0
    by_node = {node: {**spent, "requests": 0} for node, spent in recorded.usage.by_node.items()}
    same_usage = recorded.usage.model_copy(update={"requests": 0, "by_node": by_node})
    assert replayed.usage == same_usage
    assert replayed == recorded.model_copy(update={"usage": same_usage})


def test_configuration_errors(path: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs a generator"):
        CachingGenerator(None, path)
    with pytest.raises(ConfigurationError, match="accepted: read_write, replay"):
        CachingGenerator(FakeGenerator(TEXTS), path, mode="write")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no cache to replay"):
        CachingGenerator(None, tmp_path / "missing.sqlite", mode="replay")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(ConfigurationError, match="not a usable cache"):
        CachingGenerator(FakeGenerator(TEXTS), not_a_db)


async def test_replay_needs_a_model_name_when_several_were_recorded(path: Path) -> None:
    for name in ("small", "large"):
        with CachingGenerator(FakeGenerator(TEXTS, model_name=name), path) as cache:
            await cache.generate(Q, seed=0)
    with pytest.raises(ConfigurationError, match="recorded: large, small"):
        CachingGenerator(None, path, mode="replay")
    with CachingGenerator(None, path, mode="replay", model_name="large") as replay:
        assert replay.model_name == "large"
        assert (await replay.generate(Q, seed=0)).completions[0].seed == 0
