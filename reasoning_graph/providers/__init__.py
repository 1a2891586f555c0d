"""Backends: generators that sample completions and verifiers that score them."""

from reasoning_graph.providers.base import (
    ChatMessage,
    Completion,
    Generation,
    Generator,
    StepVerdict,
    StepVerifier,
    TokenLogprob,
    Verdict,
    Verifier,
)
from reasoning_graph.providers.ensemble import EnsembleVerifier
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.providers.hf_transformers import TransformersProvider
from reasoning_graph.providers.langchain_chat import LangChainProvider
from reasoning_graph.providers.llama_cpp import LlamaCppProvider
from reasoning_graph.providers.llm_judge import LLMJudge
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.providers.programmatic import ProgrammaticVerifier, answer_checker
from reasoning_graph.providers.registry import make_generator
from reasoning_graph.providers.reward_model import RewardModelVerifier
from reasoning_graph.providers.transformers_reward import TransformersRewardVerifier
from reasoning_graph.providers.vllm_local import VLLMProvider

__all__ = [
    "ChatMessage",
    "Completion",
    "EnsembleVerifier",
    "FakeGenerator",
    "FakeVerifier",
    "Generation",
    "Generator",
    "LLMJudge",
    "LangChainProvider",
    "LlamaCppProvider",
    "OpenAIProvider",
    "ProgrammaticVerifier",
    "RewardModelVerifier",
    "StepVerdict",
    "StepVerifier",
    "TokenLogprob",
    "TransformersProvider",
    "TransformersRewardVerifier",
    "VLLMProvider",
    "Verdict",
    "Verifier",
    "answer_checker",
    "make_generator",
]
