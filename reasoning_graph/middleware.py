"""`ReasoningMiddleware`: test-time scaling for a `langchain.agents.create_agent` agent.

One argument gives an existing agent self-consistency (or any other strategy) on its final
answers, while its tool calls run as before:

```python
agent = create_agent(model, tools, middleware=[ReasoningMiddleware("self_consistency", n=4)])
```

The middleware wraps the agent's model calls (`wrap_model_call` / `awrap_model_call`). A reply
that calls tools (or fills a `response_format`) is passed through untouched: the graph votes on
answers, not on tool calls. A reply that is a final answer is replaced by the reasoning
graph's answer, sampled from the same model (through `LangChainProvider`, without tools) on
the same conversation. Needs the `langchain` package (for `langchain.agents`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeAlias, Unpack, get_args

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import add_usage

from reasoning_graph.chat_model import ReasoningChatModel
from reasoning_graph.config import ReasoningConfig, Strategy
from reasoning_graph.conversation import conversation_question
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.graph_cache import BoundedCache
from reasoning_graph.options import ExtraOptions, build_config
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import Generator
from reasoning_graph.providers.langchain_chat import LangChainProvider
from reasoning_graph.verifiers.base import Verifier

__all__ = ["ReasoningMiddleware", "When"]

When: TypeAlias = Literal["final", "always"] | Callable[[ModelRequest[Any]], bool]
"""Which model calls of the agent the reasoning graph answers.

- `"final"`: the model is called as usual first; when its reply calls no tool, that reply is
  replaced by the graph's answer. Turns that call tools cost nothing extra; each final turn
  costs one plain call more than the graph (its usage is counted in the answer's).
- `"always"`: every model call is eligible. A call that binds no tools (and no
  `response_format`) is answered by the graph directly, without the plain call; a call that
  binds tools still makes the plain call first, because only the model can say whether it
  wants a tool, and tool-calling turns are never voted on. For an agent with tools, it
  behaves like `"final"`.
- a callable `(request) -> bool`: the graph is used (as with `"final"`) only for the calls
  it accepts, e.g. `lambda request: len(request.messages) > 4`; other calls pass through.

To spend compute only on hard questions, use `strategy="compute_optimal"`: a probe of a few
samples estimates the difficulty and an easy question stops there (see
docs/compute-optimal.md).
"""

_WHEN_VALUES: tuple[str, ...] = get_args(get_args(When)[0])


class ReasoningMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Answer an agent's final turns by test-time compute: sample, verify, vote.

    Args:
        strategy: The strategy to run (see `Strategy`); defaults to `config.strategy`, or
            `"self_consistency"` without a config.
        n: Generations per answer; defaults to `config.n` (4 without a config).
        when: Which calls to answer (see `When`); defaults to `"final"`.
        generator: The model to sample; defaults to the agent's own model, sampled through
            `LangChainProvider` (without tools, on the same conversation).
        verifier: Scores candidates; defaults to an LLM judge over the generator for the
            strategies that need scores.
        config: A `ReasoningConfig`; `strategy`, `n` and `options` override its fields.
        **options: Any other `ReasoningConfig` field, e.g. `max_tokens=256`,
            `budget_tokens=4000`.

    The graph runs through `ReasoningChatModel`, so the replacing `AIMessage` is the one it
    writes: the answer as text after a standard `reasoning` content block (the selected
    candidate's solution), and its `response_metadata` (strategy, difficulty, plan, usage
    per node, `llm_calls`, selected id). The middleware adds the plain call that preceded
    it, once: to `usage_metadata`, `llm_calls` and `requests`, and keeps its `name`.

    Streaming: the graph's sampling calls are tagged `nostream`, so an agent streamed with
    `stream_mode="messages"` shows the final answer once; with `when="final"` it also shows
    the plain reply's tokens before that reply is replaced.

    Raises:
        ConfigurationError: An unknown `when` or an invalid option (at construction).

    Example:
        ```python
        from langchain.agents import create_agent
        from reasoning_graph.middleware import ReasoningMiddleware

        agent = create_agent(
            model,
            [get_weather],
            middleware=[ReasoningMiddleware(strategy="self_consistency", n=4, when="final")],
        )
        agent.invoke({"messages": [{"role": "user", "content": "Warmer in Paris or Rome?"}]})
        ```
    """

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        n: int | None = None,
        when: When = "final",
        generator: Generator | None = None,
        verifier: Verifier | None = None,
        config: ReasoningConfig | None = None,
        **options: Unpack[ExtraOptions],
    ) -> None:
        super().__init__()
        fields: dict[str, Any] = dict(options)
        if strategy is not None:
            fields["strategy"] = strategy
        if n is not None:
            fields["n"] = n
        if not callable(when) and when not in _WHEN_VALUES:
            raise ConfigurationError(
                f"unknown when={when!r}; choose one of: {', '.join(_WHEN_VALUES)}, "
                "or pass a callable (request) -> bool"
            )
        self.config = build_config(config, fields)
        self.when = when
        self.generator = generator
        self.verifier = verifier
        # One provider per agent model, so the graph compiled for it is reused per call.
        self._providers: BoundedCache[int, LangChainProvider] = BoundedCache(8)

    # -- the hooks ------------------------------------------------------------------------

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Answer `request` with the graph when it is a final turn; see `When`."""
        if not self._eligible(request):
            return handler(request)
        plain = None if self._skips_plain_call(request) else handler(request)
        if plain is not None and not _is_final(plain):
            return plain
        model, question = self._reasoning_model(request)
        return _replace(plain, model.invoke(question))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async twin of `wrap_model_call`."""
        if not self._eligible(request):
            return await handler(request)
        plain = None if self._skips_plain_call(request) else await handler(request)
        if plain is not None and not _is_final(plain):
            return plain
        model, question = self._reasoning_model(request)
        return _replace(plain, await model.ainvoke(question))

    # -- helpers --------------------------------------------------------------------------

    def _eligible(self, request: ModelRequest[Any]) -> bool:
        if request.response_format is not None:
            return False  # structured output is parsed, not voted on
        if callable(self.when):
            return bool(self.when(request))
        return True

    def _skips_plain_call(self, request: ModelRequest[Any]) -> bool:
        return self.when == "always" and not request.tools

    def _reasoning_model(
        self, request: ModelRequest[Any]
    ) -> tuple[ReasoningChatModel, list[BaseMessage]]:
        """The chat model that runs the graph for `request`, and the one message it answers."""
        generator = self.generator or self._provider(request.model)
        config = self.config
        if request.system_prompt and config.system_prompt is None:
            # Keep the agent's instructions, and the graph's request for a stated answer.
            system_prompt = f"{request.system_prompt}\n\n{SOLVE_SYSTEM_PROMPT}"
            config = config.model_copy(update={"system_prompt": system_prompt})
        model = ReasoningChatModel(generator=generator, verifier=self.verifier, config=config)
        return model, [HumanMessage(conversation_question(request.messages))]

    def _provider(self, model: Any) -> LangChainProvider:
        """The `LangChainProvider` over the agent's `model`, made once per model object."""
        provider = self._providers.get(id(model))
        if provider is None or provider.model is not model:
            provider = LangChainProvider(model)
            self._providers.put(id(model), provider)
        return provider


def _is_final(response: ModelResponse[Any]) -> bool:
    """Whether the reply is a final answer: one AI message that calls no tool."""
    replies = [m for m in response.result if isinstance(m, AIMessage)]
    return len(response.result) == 1 and len(replies) == 1 and not replies[0].tool_calls


def _replace(plain: ModelResponse[Any] | None, answer: AIMessage) -> ModelResponse[Any]:
    """The graph's answer as the model call's response, the plain call's usage added once."""
    before = plain.result[0] if plain is not None else None
    if not isinstance(before, AIMessage):
        return ModelResponse(result=[answer])
    usage = answer.usage_metadata
    if before.usage_metadata is not None:
        usage = before.usage_metadata if usage is None else add_usage(usage, before.usage_metadata)
    metadata = dict(answer.response_metadata)
    metadata["llm_calls"] = metadata.get("llm_calls", 0) + 1
    metadata["requests"] = metadata.get("requests", 0) + 1
    update = {"usage_metadata": usage, "response_metadata": metadata, "name": before.name}
    return ModelResponse(result=[answer.model_copy(update=update)])
