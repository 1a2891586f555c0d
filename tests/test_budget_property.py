"""Property: whatever the strategy and script, a run never spends more than its token budget
and never makes more than `n` generations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoning_graph import BudgetError, asolve
from reasoning_graph.config import STRATEGIES
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

POLICY = Path(__file__).parent / "fixtures" / "policy_all_plans.json"
JUDGE_RESERVE = 4  # LLMJudge's default max_tokens, the default verifier's reserve


def is_judge(messages: Sequence[ChatMessage]) -> bool:
    return messages[0]["content"] != SOLVE_SYSTEM_PROMPT


texts = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3)).map(
        lambda t: " ".join(["step"] * t[0] + ([f"The answer is {t[1]}."] if t[1] else []))
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60,
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
    share_prompt=st.booleans(),
    script=texts,
    judge_replies=st.lists(
        st.sampled_from(["Yes", "No", "Maybe so", "yes indeed it is"]), min_size=1
    ),
    verifier_reserve=st.none() | st.integers(0, 3),
)
def test_budget_and_n_are_never_exceeded(
    strategy: str,
    n: int,
    chains: int | None,
    max_tokens: int,
    budget_tokens: int | None,
    share_prompt: bool,
    script: list[str],
    judge_replies: list[str],
    verifier_reserve: int | None,
) -> None:
    def reply(messages: Sequence[ChatMessage], index: int) -> str:
        if is_judge(messages):
            return judge_replies[index % len(judge_replies)]
        return script[index % len(script)]

    generator = FakeGenerator(reply)
    verifier = (
        None
        if verifier_reserve is None
        else FakeVerifier({"is 1": 0.9, "is 2": 0.4}, default=0.1, reserve_tokens=verifier_reserve)
    )

    verifies = strategy in ("best_of_n", "weighted_vote") or (
        verifier is not None and strategy in ("revision", "parallel_revision", "compute_optimal")
    )
    verifier_share = 0
    if verifies:
        verifier_share = JUDGE_RESERVE if verifier_reserve is None else verifier_reserve
    reserve = max_tokens + verifier_share

    async def run():  # type: ignore[no-untyped-def]
        return await asolve(
            "What is 1 + 1?",
            generator=generator,
            verifier=verifier,
            strategy=strategy,
            n=n,
            chains=chains,
            max_tokens=max_tokens,
            budget_tokens=budget_tokens,
            share_prompt=share_prompt,
            policy=str(POLICY) if strategy == "compute_optimal" else None,
        )

    if budget_tokens is not None and budget_tokens < reserve:
        try:
            asyncio.run(run())
        except BudgetError as error:
            assert f"budget_tokens={budget_tokens}" in str(error)
        else:
            raise AssertionError(f"no BudgetError for budget {budget_tokens} < reserve {reserve}")
        assert generator.calls == []
        return

    result = asyncio.run(run())

    generations = sum(call.n for call in generator.calls if not is_judge(call.messages))
    assert 1 <= generations <= n
    if budget_tokens is None and strategy != "compute_optimal":
        assert generations == n  # compute_optimal spends what its policy's plan asks, <= n
    assert len(result.candidates) == generations
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
    assert think_and_revise == made
    if verifies and result.plan["verify"]:
        # (compute_optimal scores its probe; later samples only if its chosen plan verifies)
        assert all(c.score is not None for c in result.candidates)
    else:
        assert "verify" not in result.usage.by_node or (
            result.usage.by_node["verify"]["llm_calls"] == 0
        )
    assert result.answer is None or isinstance(result.answer, str)
