"""Per-run configuration: the graph's nodes for the `ReasoningConfig` each run asks for.

`create_reasoning_graph` gives its graph `context_schema=ReasoningConfig`, LangGraph's way to
configure one run: `graph.ainvoke(input, context={"n": 8})`, or on LangGraph Platform a
run's or an assistant's `context` (or its `configurable`, which the server passes on as the
context). The fields a context sets override the graph's own config; the others keep it. A
bad value fails the run before any node runs: LangGraph builds a `ReasoningConfig` from the
context, and pydantic names the field and the accepted range.

The first controller visit stores the fields the context set in the state (`run_config`), and
`budget`, `verify` and `select` read them from there: the whole thread runs under the config
it started with, so a run resumed after a review interrupt keeps `review` on even when the
resume brings no context. `think` and `revise` (which get a `Send` payload, not the state)
take the context of the run they belong to. A context of another type (a parent graph's own,
when this graph is its subgraph) is not this graph's and is left alone.

Each distinct config gets its nodes built once (the default verifier too), kept in a small
least-recently-used cache.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

from langgraph.config import get_config
from langgraph.runtime import Runtime

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.nodes import NodeFunction
from reasoning_graph.nodes.budget import BudgetNode, make_budget_node
from reasoning_graph.nodes.revise import make_revise_node
from reasoning_graph.nodes.select import make_select_node
from reasoning_graph.nodes.think import make_think_node
from reasoning_graph.nodes.verify import make_verify_node
from reasoning_graph.options import build_config
from reasoning_graph.providers.base import Generator
from reasoning_graph.state import ReasoningState, ReviseTask, ThinkTask
from reasoning_graph.strategies import strategy_spec
from reasoning_graph.verifiers.base import StepVerifier, Verifier, calls_per_score
from reasoning_graph.verifiers.llm_judge import LLMJudge

__all__ = ["GraphNodes", "PerRunNodes", "build_nodes", "context_overrides"]

Overrides = dict[str, Any]
"""The `ReasoningConfig` fields a run's context set, as JSON values."""


class GraphNodes(NamedTuple):
    """The five nodes of a graph built for one config."""

    budget: BudgetNode
    think: NodeFunction[ThinkTask]
    verify: NodeFunction[ReasoningState]
    revise: NodeFunction[ReviseTask]
    select: NodeFunction[ReasoningState]


def build_nodes(
    generator: Generator, verifier: Verifier | None, config: ReasoningConfig
) -> GraphNodes:
    """The nodes for `config`; without a `verifier`, an `LLMJudge` over `generator` when the
    strategy needs scores (its registry row says `needs_verifier`)."""
    if verifier is None and strategy_spec(config.strategy).needs_verifier:
        verifier = LLMJudge(generator)
    return GraphNodes(
        budget=make_budget_node(
            config,
            verifier_reserve=verifier.reserve_tokens if verifier else 0,
            has_verifier=verifier is not None,
            step_verify=isinstance(verifier, StepVerifier),
            verifier_calls=calls_per_score(verifier) if verifier else 0,
        ),
        think=make_think_node(generator, system_prompt=config.system_prompt),
        verify=make_verify_node(verifier),
        revise=make_revise_node(generator, system_prompt=config.system_prompt),
        select=make_select_node(review=config.review),
    )


def context_overrides(runtime: Runtime[Any]) -> Overrides:
    """The fields the run's context sets, when the context is a `ReasoningConfig`."""
    context = runtime.context
    if not isinstance(context, ReasoningConfig) or not context.model_fields_set:
        return {}
    return context.model_dump(mode="json", include=context.model_fields_set)


class PerRunNodes:
    """Nodes that run each run with the graph's config overridden by the run's context.

    Raises:
        ConfigurationError: The graph's own config cannot build its nodes (an unreadable
            policy file); this is checked when the object is made.
    """

    def __init__(
        self,
        generator: Generator,
        *,
        verifier: Verifier | None,
        config: ReasoningConfig,
        cache_size: int = 16,
    ) -> None:
        self._generator = generator
        self._verifier = verifier
        self._config = config
        self._cache_size = cache_size
        self._cache: OrderedDict[str, GraphNodes] = OrderedDict()
        self.nodes({})

    def nodes(self, overrides: Mapping[str, Any]) -> GraphNodes:
        """The nodes for the graph's config with `overrides` applied.

        Raises:
            ConfigurationError: The overrides make a config that cannot run.
        """
        key = json.dumps(overrides, sort_keys=True)
        built = self._cache.pop(key, None)
        if built is None:
            config = build_config(self._config, overrides) if overrides else self._config
            built = build_nodes(self._generator, self._verifier, config)
        self._cache[key] = built
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return built

    def _of_thread(self, state: ReasoningState, runtime: Runtime[Any]) -> GraphNodes:
        stored = state.get("run_config")
        return self.nodes(context_overrides(runtime) if stored is None else stored)

    async def budget(self, state: ReasoningState, runtime: Runtime[Any]) -> dict[str, Any]:
        """The controller; its first visit stores the run's overrides in the state."""
        stored = state.get("run_config")
        overrides = context_overrides(runtime) if stored is None else stored
        update = await self.nodes(overrides).budget(state, get_config())
        return update if stored is not None else {**update, "run_config": overrides}

    async def think(self, state: ThinkTask, runtime: Runtime[Any]) -> dict[str, Any]:
        """`think` under the run's config."""
        return await self.nodes(context_overrides(runtime)).think(state)

    async def verify(self, state: ReasoningState, runtime: Runtime[Any]) -> dict[str, Any]:
        """`verify` under the thread's config."""
        return await self._of_thread(state, runtime).verify(state)

    async def revise(self, state: ReviseTask, runtime: Runtime[Any]) -> dict[str, Any]:
        """`revise` under the run's config."""
        return await self.nodes(context_overrides(runtime)).revise(state)

    async def select(self, state: ReasoningState, runtime: Runtime[Any]) -> dict[str, Any]:
        """`select` under the thread's config (a resumed review keeps `review` on)."""
        return await self._of_thread(state, runtime).select(state)
