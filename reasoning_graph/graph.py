"""`create_reasoning_graph`: the think / verify / revise / select loop under a controller.

```
START -> budget --Send x k--> think ---> verify --> budget --> ... --> select -> END
               \\--Send x k--> revise --'
```
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.nodes.budget import make_budget_node, route_after_budget
from reasoning_graph.nodes.revise import make_revise_node
from reasoning_graph.nodes.select import make_select_node
from reasoning_graph.nodes.think import make_think_node
from reasoning_graph.nodes.verify import make_verify_node
from reasoning_graph.providers.base import Generator
from reasoning_graph.state import InputState, OutputState, ReasoningState
from reasoning_graph.strategies import strategy_spec
from reasoning_graph.verifiers.base import StepVerifier, Verifier, calls_per_score
from reasoning_graph.verifiers.llm_judge import LLMJudge

__all__ = ["create_reasoning_graph"]

ReasoningGraph = StateGraph[ReasoningState, None, InputState, OutputState]


def create_reasoning_graph(
    generator: Generator,
    *,
    verifier: Verifier | None = None,
    config: ReasoningConfig | None = None,
) -> ReasoningGraph:
    """Build the reasoning graph, uncompiled, so you compile it with your own checkpointer.

    Args:
        generator: The model that writes and revises solutions.
        verifier: Scores candidates for `best_of_n`, `weighted_vote`, the step searches
            (`beam_search`, `lookahead`, `dvts`: per step when it is a `StepVerifier`)
            and, when given, the revision strategies. Defaults to an `LLMJudge` over
            `generator` (which grades each step) for the strategies that need scores (their
            registry row says `needs_verifier`), and to no verifier otherwise.
        config: What to spend and how; defaults to `ReasoningConfig()` (self-consistency
            with 4 samples, no token cap). With `review=True`, `select` pauses with
            `interrupt()` for a person's decision: compile with a checkpointer.

    Returns:
        A `StateGraph` whose input is `{"question": str}` and whose output holds the answer,
        the candidates with their scores, the plan, the difficulty estimate and the usage.
        Its nodes stream live events with `stream_mode="custom"` (`reasoning_graph.events`).
        Compiled, it works as a node of your own `StateGraph` whose state has `question`
        and `answer` keys; it inherits the parent's checkpointer.

    Example:
        ```python
        from reasoning_graph import ReasoningConfig, create_reasoning_graph
        from reasoning_graph.providers import OpenAIProvider

        graph = create_reasoning_graph(
            OpenAIProvider("gpt-4o-mini"), config=ReasoningConfig(n=8)
        ).compile()
        state = await graph.ainvoke({"question": "What is 17 + 25?"})
        state["answer"]  # "42"
        ```
    """
    config = config or ReasoningConfig()
    if verifier is None and strategy_spec(config.strategy).needs_verifier:
        verifier = LLMJudge(generator)
    builder = StateGraph(ReasoningState, input_schema=InputState, output_schema=OutputState)
    builder.add_node(
        "budget",
        make_budget_node(
            config,
            verifier_reserve=verifier.reserve_tokens if verifier else 0,
            has_verifier=verifier is not None,
            step_verify=isinstance(verifier, StepVerifier),
            verifier_calls=calls_per_score(verifier) if verifier else 0,
        ),
    )
    builder.add_node("think", make_think_node(generator, system_prompt=config.system_prompt))
    builder.add_node("verify", make_verify_node(verifier))
    builder.add_node("revise", make_revise_node(generator, system_prompt=config.system_prompt))
    builder.add_node("select", make_select_node(review=config.review))
    builder.add_edge(START, "budget")
    builder.add_conditional_edges("budget", route_after_budget, ["think", "revise", "select"])
    builder.add_edge("think", "verify")
    builder.add_edge("revise", "verify")
    builder.add_edge("verify", "budget")
    builder.add_edge("select", END)
    return builder
