"""Generators: backends that sample chat completions from a model.

Every name is imported on first use (`reasoning_graph.lazy`): `reasoning_graph.providers.base`
does not import the openai SDK or LangChain, and `import reasoning_graph.providers` is cheap.
The verifiers moved to `reasoning_graph.verifiers`; reading them from here still works for
one release, with a `DeprecationWarning` naming the new path.
"""

import typing

from reasoning_graph.lazy import lazy_exports as _lazy_exports
from reasoning_graph.providers._moved import moved_to as _moved_to

if typing.TYPE_CHECKING:
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
else:
    _lazy_exports(
        __name__,
        {
            "ChatMessage": "reasoning_graph.providers.base",
            "Completion": "reasoning_graph.providers.base",
            "FakeGenerator": "reasoning_graph.providers.fake",
            "FakeVerifier": "reasoning_graph.providers.fake",
            "Generation": "reasoning_graph.providers.base",
            "Generator": "reasoning_graph.providers.base",
            "LangChainProvider": "reasoning_graph.providers.langchain_chat",
            "LlamaCppProvider": "reasoning_graph.providers.llama_cpp",
            "OpenAIProvider": "reasoning_graph.providers.openai",
            "TokenLogprob": "reasoning_graph.providers.base",
            "TransformersProvider": "reasoning_graph.providers.hf_transformers",
            "VLLMProvider": "reasoning_graph.providers.vllm_local",
            "make_generator": "reasoning_graph.providers.registry",
        },
    )

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

# Checked by Python before the lazy names (`LazyPackage.__getattr__`): the verifiers' old path.
__getattr__ = _moved_to(__name__, "reasoning_graph.verifiers")
