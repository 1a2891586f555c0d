"""Verifiers: what scores a candidate solution, or each of its steps, in [0, 1].

An LLM judge over any generator, reward models (served by vLLM or run with transformers), a
Python check, and an ensemble of these. Generators live in `reasoning_graph.providers`.
Every name is imported on first use (`reasoning_graph.lazy`), so importing one verifier does
not import the others' backends (httpx for reward models, torch for transformers).
"""

import typing

from reasoning_graph.lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from reasoning_graph.verifiers.base import StepVerdict, StepVerifier, Verdict, Verifier
    from reasoning_graph.verifiers.ensemble import EnsembleVerifier
    from reasoning_graph.verifiers.llm_judge import LLMJudge
    from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier, answer_checker
    from reasoning_graph.verifiers.reward_model import RewardModelVerifier
    from reasoning_graph.verifiers.transformers_reward import TransformersRewardVerifier
else:
    _lazy_exports(
        __name__,
        {
            "EnsembleVerifier": "reasoning_graph.verifiers.ensemble",
            "LLMJudge": "reasoning_graph.verifiers.llm_judge",
            "ProgrammaticVerifier": "reasoning_graph.verifiers.programmatic",
            "RewardModelVerifier": "reasoning_graph.verifiers.reward_model",
            "StepVerdict": "reasoning_graph.verifiers.base",
            "StepVerifier": "reasoning_graph.verifiers.base",
            "TransformersRewardVerifier": "reasoning_graph.verifiers.transformers_reward",
            "Verdict": "reasoning_graph.verifiers.base",
            "Verifier": "reasoning_graph.verifiers.base",
            "answer_checker": "reasoning_graph.verifiers.programmatic",
        },
    )

__all__ = [
    "EnsembleVerifier",
    "LLMJudge",
    "ProgrammaticVerifier",
    "RewardModelVerifier",
    "StepVerdict",
    "StepVerifier",
    "TransformersRewardVerifier",
    "Verdict",
    "Verifier",
    "answer_checker",
]
