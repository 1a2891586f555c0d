"""LangChain's standard `ChatModelUnitTests` conformance suite for `ReasoningChatModel`."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from reasoning_graph import ReasoningConfig
from reasoning_graph.chat_model import ReasoningChatModel
from reasoning_graph.providers.fake import FakeGenerator


class TestReasoningChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ReasoningChatModel]:
        return ReasoningChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "generator": FakeGenerator(["The answer is 4."], model_name="fake-7b"),
            "config": ReasoningConfig(n=2),
        }

    @property
    def has_tool_calling(self) -> bool:
        # `bind_tools` is overridden only to raise a clear error: the graph writes a text
        # answer and never calls tools (tool-using agents take the agent middleware).
        return False

    @property
    def has_structured_output(self) -> bool:
        # Structured output needs a chat model as generator to format the answer; the
        # suite's model has a scripted FakeGenerator, which has none.
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True
