"""Generators: backends that sample chat completions from a model.

The verifiers moved to `reasoning_graph.verifiers`; reading them from here still works for
one release, with a `DeprecationWarning` naming the new path.
"""

from reasoning_graph.providers._moved import moved_to as _moved_to
from reasoning_graph.providers.base import (
    ChatMessage,
    Completion,
    Generation,
    Generator,
    TokenLogprob,
)
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.providers.hf_transformers import TransformersProvider
from reasoning_graph.providers.langchain_chat import LangChainProvider
from reasoning_graph.providers.llama_cpp import LlamaCppProvider
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.providers.registry import make_generator
from reasoning_graph.providers.vllm_local import VLLMProvider

__all__ = [
    "ChatMessage",
    "Completion",
    "FakeGenerator",
    "FakeVerifier",
    "Generation",
    "Generator",
    "LangChainProvider",
    "LlamaCppProvider",
    "OpenAIProvider",
    "TokenLogprob",
    "TransformersProvider",
    "VLLMProvider",
    "make_generator",
]

__getattr__ = _moved_to(__name__, "reasoning_graph.verifiers")
