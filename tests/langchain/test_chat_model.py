"""`ReasoningChatModel`: a chat model that answers by running the reasoning graph."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.graph import START, MessagesState, StateGraph
from pydantic import BaseModel

from reasoning_graph import ConfigurationError, ReasoningConfig, asolve
from reasoning_graph.chat_model import ReasoningChatModel
from reasoning_graph.conversation import conversation_question
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.providers.langchain_chat import LangChainProvider

SCRIPT = [
    "Two and two make four. The answer is 4.",
    "I think it is five. The answer is 5.",
    "Adding gives 4. The answer is 4.",
]


def make_model(**fields: Any) -> ReasoningChatModel:
    fields.setdefault("config", ReasoningConfig(n=3, share_prompt=False))
    return ReasoningChatModel(generator=FakeGenerator(SCRIPT, model_name="fake-7b"), **fields)


class SamplingChatModel(BaseChatModel):
    """A chat model that answers "The answer is 4." with usage, and can structure output."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "sampling"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        message = AIMessage(
            "Step one. The answer is 4.",
            usage_metadata={"input_tokens": 10, "output_tokens": 6, "total_tokens": 16},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        def structure(messages: list[BaseMessage]) -> Any:
            return schema(value=messages[-1].text.split("FINAL ANSWER>>>\n")[1].split("\n")[0])

        return RunnableLambda(structure)


async def test_reply_has_reasoning_and_text_blocks() -> None:
    message = await make_model().ainvoke("What is 2 + 2?")
    assert message.content == [
        {"type": "reasoning", "reasoning": SCRIPT[0]},
        {"type": "text", "text": "4"},
    ]
    assert message.text == "4"
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]


async def test_usage_metadata_is_the_run_total_counted_once() -> None:
    model = make_model()
    message = await model.ainvoke("What is 2 + 2?")
    result = await asolve(
        "What is 2 + 2?", generator=FakeGenerator(SCRIPT), n=3, share_prompt=False
    )
    usage = message.usage_metadata
    assert usage == {
        "input_tokens": result.usage.prompt_tokens,
        "output_tokens": result.usage.completion_tokens,
        "total_tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
    }
    # three branches of one call each: the completions' own tokens, summed once
    assert usage["output_tokens"] == sum(len(text.split()) for text in SCRIPT)
    assert model.generator.calls and len(model.generator.calls) == 3


async def test_response_metadata_describes_the_run() -> None:
    metadata = (await make_model().ainvoke("What is 2 + 2?")).response_metadata
    assert metadata["model_name"] == "fake-7b"
    assert metadata["strategy"] == "self_consistency"
    assert set(metadata["difficulty"]) == {"score", "bin"}
    assert metadata["difficulty"]["bin"] in range(1, 6)
    assert metadata["plan"]["n"] == 3
    assert metadata["usage_by_node"]["think"]["llm_calls"] == 3
    assert metadata["llm_calls"] == 3
    assert metadata["candidate_count"] == 3
    assert metadata["selected_id"] == "c0"
    assert metadata["answer"] == "4"


def test_sync_invoke() -> None:
    message = make_model().invoke("What is 2 + 2?")
    assert message.text == "4"
    assert message.usage_metadata is not None


async def test_sync_invoke_inside_a_running_loop() -> None:
    message = make_model().invoke("What is 2 + 2?")  # runs on a worker thread's loop
    assert message.text == "4"


async def test_astream_yields_the_answer_with_usage_on_the_last_chunk() -> None:
    model = make_model()
    chunks = [chunk async for chunk in model.astream("What is 2 + 2?")]
    assert [c.usage_metadata is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    invoked = await model.ainvoke("What is 2 + 2?")
    assert merged.text == invoked.text == "4"
    assert merged.usage_metadata == invoked.usage_metadata
    assert [b["type"] for b in merged.content_blocks] == ["reasoning", "text"]


def test_stream_splits_a_long_answer_into_pieces() -> None:
    model = ReasoningChatModel(
        generator=FakeGenerator(["no number here at all"]), config=ReasoningConfig(n=1)
    )
    chunks = list(model.stream("Say something"))
    assert chunks[0].content == [
        {"type": "reasoning", "reasoning": "no number here at all", "index": 0}
    ]
    # no answer extracted: the full text is the answer, streamed word by word
    assert [c.text for c in chunks[1:]] == ["no ", "number ", "here ", "at ", "all"]


async def test_inner_sampling_calls_do_not_stream_in_a_graph() -> None:
    inner = SamplingChatModel()
    model = ReasoningChatModel(generator=inner, config=ReasoningConfig(n=3))

    async def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node(answer).add_edge(START, "answer").compile()
    streamed: list[AIMessageChunk] = []
    async for chunk, _ in graph.astream(
        {"messages": [HumanMessage("What is 2 + 2?")]}, stream_mode="messages"
    ):
        assert isinstance(chunk, AIMessageChunk)  # only the model's own reply streams
        streamed.append(chunk)
    assert inner.calls == 3
    assert "".join(c.text for c in streamed) == "4"  # the final answer only
    usage = [c.usage_metadata for c in streamed if c.usage_metadata]
    assert usage == [{"input_tokens": 30, "output_tokens": 18, "total_tokens": 48}]


async def test_earlier_turns_are_context_for_the_last_question() -> None:
    model = make_model()
    await model.ainvoke(
        [
            SystemMessage("Answer in digits."),
            HumanMessage("I have 2 apples."),
            AIMessage("Noted."),
            HumanMessage("I get 2 more. How many now?"),
        ]
    )
    prompt = model.generator.calls[0].messages[-1]["content"]
    assert prompt.index("System: Answer in digits.") < prompt.index("User: I have 2 apples.")
    assert prompt.index("Assistant: Noted.") < prompt.index("I get 2 more. How many now?")


def test_a_single_question_is_passed_as_is() -> None:
    assert conversation_question([HumanMessage("What is 2 + 2?")]) == "What is 2 + 2?"


async def test_a_conversation_without_a_human_message_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="HumanMessage"):
        await make_model().ainvoke([SystemMessage("hello")])


async def test_stop_cuts_the_answer() -> None:
    model = ReasoningChatModel(
        generator=FakeGenerator(["no number here at all"]), config=ReasoningConfig(n=1)
    )
    assert (await model.ainvoke("Say something", stop=[" here"])).text == "no number"
    assert ReasoningChatModel(generator=model.generator, stop=[" at"]).invoke("x").text == (
        "no number here"
    )


async def test_call_keywords_override_the_config() -> None:
    model = make_model(max_tokens=2)
    message = await model.bind(n=2, strategy="self_consistency").ainvoke("What is 2 + 2?")
    assert message.response_metadata["candidate_count"] == 2
    assert message.response_metadata["plan"]["max_tokens"] == 2
    with pytest.raises(ConfigurationError, match="beams"):
        await model.ainvoke("What is 2 + 2?", beams=3)


def test_a_chat_model_generator_is_wrapped() -> None:
    model = ReasoningChatModel(generator=SamplingChatModel(), verifier=SamplingChatModel())
    assert isinstance(model.generator, LangChainProvider)
    assert model._get_ls_params()["ls_model_name"] == "SamplingChatModel"
    with pytest.raises(ValueError, match="Generator or a LangChain chat model"):
        ReasoningChatModel(generator="gpt-4o")


def test_ls_params_describe_the_wrapped_model() -> None:
    params = make_model(temperature=0.2, stop=["x"])._get_ls_params()
    assert params == {
        "ls_provider": "reasoning-graph",
        "ls_model_name": "fake-7b",
        "ls_model_type": "chat",
        "ls_temperature": 0.2,
        "ls_max_tokens": 512,
        "ls_stop": ["x"],
    }


def test_bind_tools_points_to_the_middleware() -> None:
    with pytest.raises(NotImplementedError, match="reasoning_graph.middleware"):
        make_model().bind_tools([])


class Answer(BaseModel):
    value: str


async def test_with_structured_output_formats_the_graphs_answer() -> None:
    inner = SamplingChatModel()
    model = ReasoningChatModel(generator=inner, config=ReasoningConfig(n=2))
    assert await model.with_structured_output(Answer).ainvoke("What is 2 + 2?") == Answer(value="4")
    assert inner.calls == 2  # the graph's samples; the formatter is the fake's own runnable
    with pytest.raises(NotImplementedError, match="chat model as generator"):
        make_model().with_structured_output(Answer)


def test_asyncio_run_twice_reuses_the_model() -> None:
    model = make_model()
    assert asyncio.run(model.ainvoke("What is 2 + 2?")).text == "4"
    assert asyncio.run(model.ainvoke("What is 2 + 2?")).text == "4"


async def test_the_graph_of_each_config_is_compiled_once(graph_builds):
    model = make_model()
    for _ in range(2):
        assert (await model.ainvoke("What is 2 + 2?")).text == "4"
    assert model.invoke("What is 2 + 2?").text == "4"  # its own event loop: same graph
    await model.ainvoke("What is 2 + 2?", n=1)  # a call option: another config
    await model.ainvoke("What is 2 + 2?", n=1)
    assert [build["config"].n for build in graph_builds] == [3, 1]
