"""Property: whatever the strategy, plan, budgets and failure pattern, a run never spends
more than its token budget, never starts more model calls than its call budget, and never
makes more than `n` generations.

Every row of the strategy registry is drawn, and what the property expects of a strategy
comes from its row (does it need a verifier, does it grow steps), so a new strategy is
covered without editing this file."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoning_graph import (
    BudgetError,
    NoCandidatesError,
    ProviderUnavailableError,
    Result,
    asolve,
)
from reasoning_graph.config import STRATEGIES
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.strategies import REGISTRY
from reasoning_graph.verifiers.llm_judge import LLMJudge

VERIFIED_WHEN_GIVEN = ("revision", "parallel_revision", "compute_optimal")
MAX_STEPS = 8  # ReasoningConfig's default
LOOKAHEAD = 1  # ReasoningConfig's default rollout length
FIXTURES = Path(__file__).parent / "fixtures"
POLICIES = (  # no prior; a difficulty prior; a prior that gives "What is 1 + 1?" up
    FIXTURES / "policy_all_plans.json",
    FIXTURES / "policy_prior.json",
    FIXTURES / "policy_prior_gives_up.json",
)
JUDGE_RESERVE = 4  # LLMJudge's default max_tokens, the default verifier's reserve


def is_judge(messages: Sequence[ChatMessage]) -> bool:
    return messages[0]["content"] != SOLVE_SYSTEM_PROMPT


class FailingGenerator(FakeGenerator):
    """A FakeGenerator whose calls number `fail_at` (0-based, in call order) raise
    `ProviderUnavailableError`, as a server still failing after its retries would."""

    def __init__(self, script: Any, fail_at: frozenset[int], *, logprobs: Any = None) -> None:
        super().__init__(script, logprobs=logprobs)
        self.fail_at = fail_at
        self.attempts: list[tuple[bool, int]] = []  # (is a judge call, n), failed included
        self.failed: list[tuple[bool, int]] = []

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        attempt = (is_judge(messages), kwargs.get("n", 1))
        self.attempts.append(attempt)
        if len(self.attempts) - 1 in self.fail_at:
            self.failed.append(attempt)
            raise ProviderUnavailableError("scripted failure: 503 after every retry")
        return await super().generate(messages, **kwargs)


texts = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3)).map(
        lambda t: " ".join(["step"] * t[0] + ([f"The answer is {t[1]}."] if t[1] else []))
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    strategy=st.sampled_from(STRATEGIES),
    n=st.integers(1, 12),
    chains=st.none() | st.integers(1, 12),
    max_tokens=st.integers(1, 20),
    budget_tokens=st.none() | st.integers(1, 300),
    max_calls=st.none() | st.integers(1, 20),
    share_prompt=st.booleans(),
    script=texts,
    judge_replies=st.lists(
        st.sampled_from(["Yes", "No", "Maybe so", "yes indeed it is"]), min_size=1
    ),
    verifier_reserve=st.none() | st.integers(0, 3),
    explicit_judge=st.booleans(),
    fail_at=st.frozensets(st.integers(0, 24), max_size=6),
    confidence=st.sampled_from(["off", "vote", "filter", "consensus"]),
    policy=st.sampled_from(POLICIES),
)
def test_budgets_and_n_are_never_exceeded(
    strategy: str,
    n: int,
    chains: int | None,
    max_tokens: int,
    budget_tokens: int | None,
    max_calls: int | None,
    share_prompt: bool,
    script: list[str],
    judge_replies: list[str],
    verifier_reserve: int | None,
    explicit_judge: bool,
    fail_at: frozenset[int],
    confidence: str,
    policy: Path,
) -> None:
    def reply(messages: Sequence[ChatMessage], index: int) -> str:
        if is_judge(messages):
            return judge_replies[index % len(judge_replies)]
        return script[index % len(script)]

    # Token logprobs that differ between samples, for the confidence options (drawn for the
    # rows that vote over samples; the consensus early stop for every row).
    generator = FailingGenerator(
        reply, fail_at, logprobs=lambda index: [-0.1 - 0.5 * (index % 3), -3.0]
    )
    confidence_options: dict[str, Any] = {}
    if confidence == "consensus":
        confidence_options = {"early_stop": "consensus", "wave_size": 2}
    elif confidence != "off" and REGISTRY[strategy].confidence_selection:
        confidence_options = (
            {"confidence_vote": True} if confidence == "vote" else {"confidence_filter": 0.5}
        )
    # No verifier (the default: an LLM judge for the strategies that need scores), an
    # explicit LLM judge over the same failing generator, or a scripted verifier.
    verifier: LLMJudge | FakeVerifier | None = None
    if verifier_reserve is not None:
        verifier = FakeVerifier(
            {"is 1": 0.9, "is 2": 0.4}, default=0.1, reserve_tokens=verifier_reserve
        )
    elif explicit_judge:
        verifier = LLMJudge(generator)

    search = REGISTRY[strategy].step_search
    verifies = REGISTRY[strategy].needs_verifier or (
        verifier is not None and strategy in VERIFIED_WHEN_GIVEN
    )
    verifier_share = 0
    if verifies:
        verifier_share = JUDGE_RESERVE if verifier_reserve is None else verifier_reserve
    reserve = max_tokens + verifier_share
    calls_per_generation = 1 + (1 if verifier_share > 0 else 0)
    # Step search: a first step (and its lookahead rollout step) is a generation each; the
    # LLM judge (the default) grades every step of the scored text, a FakeVerifier the text.
    per_step = 1 + (LOOKAHEAD if strategy == "lookahead" else 0)
    if search:
        scores_per_step = per_step if verifier_reserve is None else 1
        reserve = per_step * max_tokens + scores_per_step * verifier_share
        calls_per_generation = per_step + (scores_per_step if verifier_share > 0 else 0)

    async def run() -> Result:
        return await asolve(
            "What is 1 + 1?",
            generator=generator,
            verifier=verifier,
            strategy=strategy,
            n=n,
            chains=chains,
            max_tokens=max_tokens,
            budget_tokens=budget_tokens,
            max_calls=max_calls,
            share_prompt=share_prompt,
            policy=str(policy) if strategy == "compute_optimal" else None,
            **confidence_options,
        )

    too_few_tokens = budget_tokens is not None and budget_tokens < reserve
    too_few_calls = max_calls is not None and max_calls < calls_per_generation
    if too_few_tokens or too_few_calls:
        try:
            asyncio.run(run())
        except BudgetError as error:
            named = f"budget_tokens={budget_tokens}" if too_few_tokens else f"max_calls={max_calls}"
            assert named in str(error)
        else:
            raise AssertionError(f"no BudgetError: reserve {reserve}, {calls_per_generation} calls")
        assert generator.attempts == []
        return

    try:
        result = asyncio.run(run())
    except NoCandidatesError:
        result = None  # every generation failed; the budgets must hold all the same

    # Every generation counts as a call (a shared request of n samples counts n), and so does
    # every score of a verifier that calls a model, failed ones included.
    generations = sum(count for judge, count in generator.attempts if not judge)
    scores = sum(1 for judge, _ in generator.attempts if judge)
    if isinstance(verifier, FakeVerifier) and verifier_reserve:
        scores += verifier.calls
    assert 1 <= generations <= (n * MAX_STEPS * per_step if search else n)
    if max_calls is not None:
        assert generations + scores <= max_calls
    if result is None:
        assert all(not judge for judge, _ in generator.failed)
        assert sum(count for _, count in generator.failed) == generations
        return
    if max_calls is not None:
        assert result.usage.llm_calls <= max_calls

    failed_generations = sum(count for judge, count in generator.failed if not judge)
    unconstrained = budget_tokens is None and max_calls is None and not generator.failed
    stops_early = confidence == "consensus"
    if unconstrained and strategy != "compute_optimal" and not search and not stops_early:
        assert generations == n  # compute_optimal spends what its policy's plan asks, <= n
    if search:  # a lookahead rollout is a generation but not a candidate
        assert len(result.candidates) <= generations - failed_generations
        rounds: dict[int, int] = {}
        for candidate in result.candidates:
            rounds[candidate.round] = rounds.get(candidate.round, 0) + 1
        assert all(count <= n for count in rounds.values())
        assert max(rounds) < MAX_STEPS
    else:
        assert len(result.candidates) == generations - failed_generations
    assert all(
        call.max_tokens == max_tokens for call in generator.calls if not is_judge(call.messages)
    )
    assert all((c.completion_tokens or 0) <= max_tokens for c in result.candidates)

    if budget_tokens is not None:
        assert result.usage.completion_tokens <= budget_tokens
    # The usage the result reports is everything the fakes reported, nothing more or less.
    made = sum(len(text.split()) for text in (c.text for c in result.candidates))
    think_and_revise = sum(
        result.usage.by_node.get(node, {"completion_tokens": 0})["completion_tokens"]
        for node in ("think", "revise")
    )
    if not search:  # a beam's text repeats its parent's steps
        assert think_and_revise == made
    if verifies and result.plan["verify"]:
        # (compute_optimal scores its probe; later samples only if its chosen plan verifies)
        unscored = {i for f in result.failures if f.node == "verify" for i in f.candidate_ids}
        assert all(c.score is not None for c in result.candidates if c.id not in unscored)
    if not verifies:
        assert "verify" not in result.usage.by_node or (
            result.usage.by_node["verify"]["llm_calls"] == 0
        )
    assert result.answer is None or isinstance(result.answer, str)
