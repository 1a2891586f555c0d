"""Verifiers: what scores a candidate solution, or each of its steps, in [0, 1].

An LLM judge over any generator, reward models (served by vLLM or run with transformers), a
Python check, and an ensemble of these. Generators live in `reasoning_graph.providers`.
"""

from reasoning_graph.verifiers.base import StepVerdict, StepVerifier, Verdict, Verifier
from reasoning_graph.verifiers.ensemble import EnsembleVerifier
from reasoning_graph.verifiers.llm_judge import LLMJudge
from reasoning_graph.verifiers.programmatic import ProgrammaticVerifier, answer_checker
from reasoning_graph.verifiers.reward_model import RewardModelVerifier
from reasoning_graph.verifiers.transformers_reward import TransformersRewardVerifier

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
