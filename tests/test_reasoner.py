"""Compile once: `Reasoner`, the weak bounded cache behind `asolve`, and resumed settings."""

from __future__ import annotations

import asyncio
import gc
import operator
import typing
import weakref
from collections.abc import Sequence
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from langgraph.checkpoint.memory import InMemorySaver

import reasoning_graph.config
import reasoning_graph.reasoner
from reasoning_graph import ConfigurationError, ReasoningConfig, asolve
from reasoning_graph.graph_cache import BoundedCache, ReasonerCache
from reasoning_graph.options import ReasoningOptions
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.reasoner import Reasoner
from reasoning_graph.state import _REDUCERS, ReasoningState, apply_updates

Q = "What is 2 + 2?"
SCRIPT = ["The answer is 4.", "The answer is 5.", "The answer is 4."]


async def test_asolve_compiles_once_per_generator_and_config(graph_builds):
    generator = FakeGenerator(SCRIPT)
    for _ in range(3):
        result = await asolve(Q, generator=generator, n=3)
        assert result.answer == "4"
    assert len(graph_builds) == 1
    await asolve(Q, generator=generator, n=2)  # another config: its own graph
    await asolve(Q, generator=generator, config=ReasoningConfig(n=3))  # an equal config
    assert [build["config"].n for build in graph_builds] == [3, 2]
    await asolve(Q, generator=FakeGenerator(SCRIPT), n=3)  # another generator object
    assert len(graph_builds) == 3


async def test_a_verifier_gets_its_own_graph_and_is_not_kept_alive(graph_builds):
    generator = FakeGenerator(SCRIPT)
    first = FakeVerifier({"4": 1.0})
    await asolve(Q, generator=generator, verifier=first, strategy="best_of_n", n=2)
    await asolve(Q, generator=generator, verifier=first, strategy="best_of_n", n=2)
    assert len(graph_builds) == 1
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None  # the cache held it weakly
    second = FakeVerifier({"4": 1.0})
    await asolve(Q, generator=generator, verifier=second, strategy="best_of_n", n=2)
    assert len(graph_builds) == 2


async def test_the_cache_keeps_no_generator_alive():
    generator = FakeGenerator(SCRIPT)
    await asolve(Q, generator=generator, strategy="weighted_vote", n=2)  # a default judge too
    gone = weakref.ref(generator)
    del generator
    gc.collect()
    assert gone() is None


async def test_the_cache_is_bounded_per_generator_and_in_generators():
    cache = ReasonerCache(generators=2, per_generator=2)
    generators = [FakeGenerator(SCRIPT) for _ in range(3)]
    first = cache.get(generators[0], None, ReasoningConfig(n=1))
    assert cache.get(generators[0], None, ReasoningConfig(n=1)) is first
    cache.get(generators[0], None, ReasoningConfig(n=2))
    cache.get(generators[0], None, ReasoningConfig(n=3))  # drops n=1, the oldest
    assert cache.get(generators[0], None, ReasoningConfig(n=1)) is not first
    cache.get(generators[1], None, ReasoningConfig(n=1))
    cache.get(generators[2], None, ReasoningConfig(n=1))
    assert len(cache._by_generator) == 2


def test_bounded_cache_drops_the_least_recently_used():
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    with pytest.raises(ValueError, match="size=0"):
        BoundedCache(0)


class Unreferenceable:
    """A generator that cannot be weakly referenced: it is not cached, and still works."""

    __slots__ = ("inner",)

    def __init__(self) -> None:
        self.inner = FakeGenerator(SCRIPT)

    @property
    def model_name(self) -> str:
        return "slots"

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        return await self.inner.generate(messages, **kwargs)


async def test_an_object_without_weak_references_is_compiled_per_call(graph_builds):
    generator = Unreferenceable()
    for _ in range(2):
        assert (await asolve(Q, generator=generator, n=3)).answer == "4"  # type: ignore[arg-type]
    assert len(graph_builds) == 2


async def test_a_reasoner_runs_many_questions_and_lends_each_call_its_checkpointer(graph_builds):
    reasoner = Reasoner(FakeGenerator(SCRIPT), config=ReasoningConfig(n=3))
    results = await asyncio.gather(*(reasoner.ainvoke(Q) for _ in range(3)))
    assert [r.answer for r in results] == ["4", "4", "4"]
    first, second = InMemorySaver(), InMemorySaver()
    await reasoner.ainvoke(Q, checkpointer=first, thread_id="t")
    await reasoner.ainvoke(Q, checkpointer=second, thread_id="t")
    assert len(graph_builds) == 1
    assert reasoner.graph.checkpointer is None  # each call's saver went to a copy
    for saver in (first, second):
        assert (await saver.aget_tuple({"configurable": {"thread_id": "t"}})) is not None


def test_reasoner_refuses_review_and_a_lone_thread_id():
    with pytest.raises(ConfigurationError, match="review"):
        Reasoner(FakeGenerator(SCRIPT), config=ReasoningConfig(review=True))
    reasoner = Reasoner(FakeGenerator(SCRIPT))
    with pytest.raises(ConfigurationError, match="go together"):
        reasoner.invoke(Q, thread_id="t")


class SlowSeeds(FakeGenerator):
    """Answers "4"; the samples whose seed is in `slow` take 30 s (a deadline cuts them)."""

    def __init__(self, slow: Sequence[int] = ()) -> None:
        super().__init__(["The answer is 4."])
        self.slow = set(slow)
        self.seeds: list[int] = []

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        self.seeds.append(kwargs.get("seed", -1))
        if kwargs.get("seed") in self.slow:
            await asyncio.sleep(30)
        return await super().generate(messages, **kwargs)


async def test_a_finished_thread_lists_the_options_it_did_not_apply():
    saver = InMemorySaver()
    first = await asolve(Q, generator=SlowSeeds(), n=2, checkpointer=saver, thread_id="t")
    assert first.ignored_options == []
    again = SlowSeeds()
    stored = await asolve(
        Q, generator=again, n=4, temperature=0.2, checkpointer=saver, thread_id="t"
    )
    assert again.seeds == [] and len(stored.candidates) == 2
    assert [(o.name, o.given, o.kept) for o in stored.ignored_options] == [
        ("n", 4, 2),
        ("temperature", 0.2, 0.7),
    ]
    same = await asolve(Q, generator=again, n=2, checkpointer=saver, thread_id="t")
    assert same.ignored_options == []  # deadline_s and max_question_chars are per call


async def test_a_resumed_run_keeps_its_strategy_and_size():
    """Resumed with other options, the run finishes the plan it began with (the graph is
    built from the thread's settings), and the result names the options it did not apply."""
    saver = InMemorySaver()
    verifier = FakeVerifier({"4": 1.0})
    options: dict[str, Any] = {"share_prompt": False, "checkpointer": saver, "thread_id": "t"}
    options["verifier"] = verifier
    cut = await asolve(
        Q,
        generator=SlowSeeds(slow=[3]),
        strategy="best_of_n",
        n=4,
        deadline_s=0.5,
        **options,
    )
    assert len(cut.candidates) == 3
    second = SlowSeeds()
    resumed = await asolve(Q, generator=second, strategy="self_consistency", n=8, **options)
    assert second.seeds == [3]  # only the cancelled branch, as planned at first
    assert resumed.strategy == "best_of_n" and len(resumed.candidates) == 4
    assert all(c.score is not None for c in resumed.candidates)  # still verified
    assert {o.name: (o.given, o.kept) for o in resumed.ignored_options} == {
        "strategy": ("self_consistency", "best_of_n"),
        "n": (8, 4),
    }


def test_apply_updates_uses_the_reducers_the_state_declares():
    hints = get_type_hints(ReasoningState, include_extras=True)
    declared = {
        key: hint.__metadata__[0]
        for key, hint in hints.items()
        if get_origin(hint) is typing.Annotated
    }
    assert _REDUCERS == declared
    state: dict[str, Any] = {"failures": [{"node": "think"}], "launched": 2}
    apply_updates(state, {"think": {"failures": [{"node": "verify"}], "launched": 4}})
    apply_updates(state, {"__interrupt__": ()})  # not a node's update: skipped
    assert state == {"failures": [{"node": "think"}, {"node": "verify"}], "launched": 4}
    assert _REDUCERS["failures"] is operator.add


def test_reasoning_options_are_the_config_fields_with_their_types():
    hints = get_type_hints(ReasoningOptions)
    fields = reasoning_graph.config.ReasoningConfig.model_fields
    assert list(sorted(hints)) == sorted(fields)
    for name, field in fields.items():
        assert get_args(hints[name]) == get_args(field.annotation), name
        assert hints[name] == field.annotation, name


def test_a_collected_generators_entry_is_dropped_at_the_next_lookup():
    cache = ReasonerCache()
    first = FakeGenerator(SCRIPT)
    cache.get(first, None, ReasoningConfig(n=1))
    del first
    gc.collect()
    assert len(cache._dead) == 1  # noted by the weak reference's callback, nothing else
    second = FakeGenerator(SCRIPT)
    cache.get(second, None, ReasoningConfig(n=1))
    assert len(cache._by_generator) == 1 and cache._dead == []


async def test_asolve_without_a_generator_keeps_its_default_alive(monkeypatch, graph_builds):
    """The default generator is made per call and held by nothing else: a cached graph,
    which holds generators weakly, lost it before the first generation."""
    import importlib

    module = importlib.import_module("reasoning_graph.solve")  # the attribute is solve()
    monkeypatch.setattr(module, "default_generator", lambda: FakeGenerator(SCRIPT))
    for _ in range(2):
        assert (await asolve(Q, n=3)).answer == "4"
    assert len(graph_builds) == 2  # a new model each call: nothing to reuse
