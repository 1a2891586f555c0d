"""Backends: generators that sample completions and verifiers that score them.

Every name is imported on first use (`reasoning_graph.lazy`): `reasoning_graph.providers.base`
does not import the openai SDK or LangChain, and `import reasoning_graph.providers` is cheap.
"""

import typing

from reasoning_graph.lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
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
else:
    _lazy_exports(
        __name__,
        {
            "ChatMessage": "reasoning_graph.providers.base",
            "Completion": "reasoning_graph.providers.base",
            "EnsembleVerifier": "reasoning_graph.providers.ensemble",
            "FakeGenerator": "reasoning_graph.providers.fake",
            "FakeVerifier": "reasoning_graph.providers.fake",
            "Generation": "reasoning_graph.providers.base",
            "Generator": "reasoning_graph.providers.base",
            "LLMJudge": "reasoning_graph.providers.llm_judge",
            "LangChainProvider": "reasoning_graph.providers.langchain_chat",
            "LlamaCppProvider": "reasoning_graph.providers.llama_cpp",
            "OpenAIProvider": "reasoning_graph.providers.openai",
            "ProgrammaticVerifier": "reasoning_graph.providers.programmatic",
            "RewardModelVerifier": "reasoning_graph.providers.reward_model",
            "StepVerdict": "reasoning_graph.providers.base",
            "StepVerifier": "reasoning_graph.providers.base",
            "TokenLogprob": "reasoning_graph.providers.base",
            "TransformersProvider": "reasoning_graph.providers.hf_transformers",
            "TransformersRewardVerifier": "reasoning_graph.providers.transformers_reward",
            "VLLMProvider": "reasoning_graph.providers.vllm_local",
            "Verdict": "reasoning_graph.providers.base",
            "Verifier": "reasoning_graph.providers.base",
            "answer_checker": "reasoning_graph.providers.programmatic",
            "make_generator": "reasoning_graph.providers.registry",
        },
    )

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
