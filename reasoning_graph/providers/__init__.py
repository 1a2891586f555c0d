"""Backends: generators that sample completions and verifiers that score them."""

from reasoning_graph.providers.base import (
    ChatMessage,
    Completion,
    Generation,
    Generator,
    TokenLogprob,
    Verdict,
    Verifier,
)
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.providers.llama_cpp import LlamaCppProvider
from reasoning_graph.providers.llm_judge import LLMJudge
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.providers.registry import make_generator

__all__ = [
    "ChatMessage",
    "Completion",
    "FakeGenerator",
    "FakeVerifier",
    "Generation",
    "Generator",
    "LLMJudge",
    "LlamaCppProvider",
    "OpenAIProvider",
    "TokenLogprob",
    "Verdict",
    "Verifier",
    "make_generator",
]
