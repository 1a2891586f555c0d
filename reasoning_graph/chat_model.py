"""`ReasoningChatModel`: a LangChain chat model that answers by running the reasoning graph.

Drop it in wherever a `BaseChatModel` goes (an LCEL chain, a LangGraph node): each call
samples, verifies, revises and selects under the configured strategy and budget, and returns
one `AIMessage` with the selected candidate's reasoning as a standard `reasoning` content
block, the answer as a `text` block, and the usage of the whole run counted once.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, Unpack

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel
from pydantic import Field, field_validator

from reasoning_graph.blocking import run_blocking
from reasoning_graph.chat_message import message_chunks, result_message
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.conversation import conversation_question, render_transcript
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.graph_cache import cached_reasoner
from reasoning_graph.options import ReasoningOptions, build_config
from reasoning_graph.prompts import fence
from reasoning_graph.providers.base import Generator
from reasoning_graph.providers.langchain_chat import LangChainProvider
from reasoning_graph.result import Result
from reasoning_graph.verifiers.base import Verifier
from reasoning_graph.verifiers.llm_judge import LLMJudge

__all__ = ["ReasoningChatModel"]

T = TypeVar("T")

_FORMAT_PROMPT = (
    "Restate the final answer of the solved problem below in the requested structure. Use "
    "only what the conversation and the answer say; do not solve the problem again."
)


class ReasoningChatModel(BaseChatModel):
    """A chat model that spends test-time compute: it answers by running the reasoning graph.

    The last human message is the question. Earlier (and later) messages of the conversation,
    system messages included, are put before it in the question's text as a transcript for
    context; only their text is read (images and other blocks are dropped).

    The reply is one `AIMessage` whose content is `[{"type": "reasoning", ...}, {"type":
    "text", ...}]`: the selected candidate's full text as reasoning and the selected answer
    as text (the candidate's full text when no answer was extracted), cut at the first `stop`
    string. `usage_metadata` is the run's total, every generation and verifier call counted
    once; `response_metadata` holds `model_name`, `strategy`, `difficulty` (`score`, `bin`),
    `plan`, `usage_by_node`, `llm_calls`, `candidate_count`, `selected_id` and `answer`.

    Streaming yields the finished answer only, after the run, in a few chunks (the
    reasoning block, then the answer word by word, with the usage on the last chunk); the
    sampling calls inside are tagged `nostream`, so LangGraph's `stream_mode="messages"` does
    not show them either.

    Call keywords (`model.invoke(messages, n=8)`, or `model.bind(strategy="best_of_n")`) are
    `ReasoningConfig` fields applied over `config` for that call; an unknown one raises
    `ConfigurationError`. Other standard chat-model arguments (`timeout`, `max_retries`,
    `api_key`) are accepted and ignored: configure them on the wrapped model.

    Tools: `bind_tools` raises `NotImplementedError`, because the graph writes a text answer
    and never calls tools; use the agent middleware (`reasoning_graph.middleware`) to give a
    tool-using agent test-time scaling. `with_structured_output` runs the graph, then asks
    the wrapped chat model to restate the conversation's answer in the schema; it needs a
    `generator` that is a chat model.

    Example:
        ```python
        from langchain_openai import ChatOpenAI
        from reasoning_graph import ReasoningConfig
        from reasoning_graph.chat_model import ReasoningChatModel

        model = ReasoningChatModel(
            generator=ChatOpenAI(model="gpt-4o-mini"),
            config=ReasoningConfig(strategy="self_consistency", n=8),
        )
        message = model.invoke("What is 17 + 25?")
        message.text, message.usage_metadata, message.response_metadata["difficulty"]
        ```
    """

    generator: Any
    """A `Generator`, or a LangChain chat model (wrapped in `LangChainProvider`)."""
    verifier: Any = None
    """A `Verifier`, or a chat model (wrapped as an `LLMJudge`). `None`: the graph's default,
    an `LLMJudge` over the generator for the strategies that need scores."""
    config: ReasoningConfig = Field(default_factory=ReasoningConfig)
    """What to spend and how."""
    temperature: float | None = None
    """Sampling temperature of every generation; `None` keeps `config.temperature`."""
    max_tokens: int | None = None
    """Most completion tokens of one generation; `None` keeps `config.max_tokens`."""
    stop: list[str] | None = None
    """Strings at whose first occurrence the final answer is cut."""

    @field_validator("generator")
    @classmethod
    def _wrap_generator(cls, value: Any) -> Generator:
        if isinstance(value, BaseChatModel):
            return LangChainProvider(value)
        if not isinstance(value, Generator):
            raise ConfigurationError(
                f"generator must be a reasoning_graph Generator or a LangChain chat model, "
                f"not {type(value).__name__}"
            )
        return value

    @field_validator("verifier")
    @classmethod
    def _wrap_verifier(cls, value: Any) -> Verifier | None:
        if value is None or isinstance(value, Verifier):
            return value
        if isinstance(value, BaseChatModel):
            return LLMJudge(LangChainProvider(value))
        raise ConfigurationError(
            f"verifier must be a reasoning_graph Verifier, a LangChain chat model or None, "
            f"not {type(value).__name__}"
        )

    @property
    def _llm_type(self) -> str:
        return "reasoning-graph"

    @property
    def model_name(self) -> str:
        """The wrapped generator's model name."""
        name: str = self.generator.model_name
        return name

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        temperature = kwargs.get("temperature", self.temperature)
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        params = LangSmithParams(
            ls_provider="reasoning-graph",
            ls_model_name=model if isinstance(model, str) else self.model_name,
            ls_model_type="chat",
            ls_temperature=self.config.temperature if temperature is None else temperature,
            ls_max_tokens=self.config.max_tokens if max_tokens is None else max_tokens,
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    async def arun(
        self, messages: Sequence[BaseMessage], **options: Unpack[ReasoningOptions]
    ) -> Result:
        """Run the reasoning graph on a conversation and return the whole `Result`.

        The graph of each config is compiled once and reused (see
        `reasoning_graph.graph_cache`).

        Args:
            messages: The conversation; its last human message is the question.
            **options: `ReasoningConfig` fields for this run, over `config`.

        Raises:
            ConfigurationError: No human message, or an invalid option.
        """
        overrides = {
            key: value
            for key, value in (("temperature", self.temperature), ("max_tokens", self.max_tokens))
            if value is not None
        }
        question = conversation_question(messages)
        config = build_config(self.config, {**overrides, **options})
        return await cached_reasoner(self.generator, self.verifier, config).ainvoke(question)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = await self.arun(messages, **kwargs)
        message = self._message(result, stop)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._blocking(lambda: self._agenerate(messages, stop, **kwargs))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        message = self._message(await self.arun(messages, **kwargs), stop)
        for chunk in message_chunks(message):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        result = self._blocking(lambda: self.arun(messages, **kwargs))
        for chunk in message_chunks(self._message(result, stop)):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Not supported: the reasoning graph writes a text answer and never calls tools.

        Raises:
            NotImplementedError: Always; the message points to the agent middleware.
        """
        raise NotImplementedError(
            "ReasoningChatModel cannot call tools: the reasoning graph samples and selects a "
            "text answer, and binding tools to the wrapped model would not make the graph "
            "call them. For a tool-using agent, keep the agent's own chat model and add "
            "test-time scaling with the agent middleware in reasoning_graph.middleware."
        )

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Run the graph, then have the wrapped chat model restate its answer in `schema`.

        The reasoning is done by the graph; the structuring is one more call of the
        wrapped model's own `with_structured_output` (so `method`, `strict` and
        `include_raw` mean what they mean there; the raw message is that call's), given the
        conversation and the graph's answer.

        Raises:
            NotImplementedError: The generator is not a LangChain chat model, so there is no
                model to structure the answer with.
        """
        if not isinstance(self.generator, LangChainProvider):
            raise NotImplementedError(
                "ReasoningChatModel.with_structured_output needs a LangChain chat model as "
                f"generator to format the answer; this one is {type(self.generator).__name__}. "
                "Parse message.text yourself, or pass a chat model as generator."
            )
        formatter = self.generator.model.with_structured_output(
            schema, include_raw=include_raw, **kwargs
        )
        solve: Runnable[LanguageModelInput, Any] = RunnableParallel(
            conversation=RunnableLambda(self._to_messages), answer=self
        )
        return solve | RunnableLambda(_format_request) | formatter

    def _to_messages(self, value: LanguageModelInput) -> list[BaseMessage]:
        return self._convert_input(value).to_messages()

    def _message(self, result: Result, stop: list[str] | None) -> AIMessage:
        return result_message(result, model_name=self.model_name, stop=stop or self.stop)

    def _blocking(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run `main()` on a fresh event loop: here, or in a worker thread if one is running."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_blocking(main, self.generator, self.verifier)
        context = contextvars.copy_context()  # keep the caller's callbacks and config
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(context.run, run_blocking, main, self.generator, self.verifier)
            return future.result()


def _format_request(inputs: dict[str, Any]) -> list[BaseMessage]:
    """The prompt that asks the wrapped model to restate the graph's answer in a schema."""
    conversation: list[BaseMessage] = inputs["conversation"]
    answer: AIMessage = inputs["answer"]
    transcript = render_transcript(conversation)
    return [
        SystemMessage(_FORMAT_PROMPT),
        HumanMessage(
            f"{fence('conversation', transcript)}\n\n{fence('final answer', answer.text)}"
        ),
    ]
