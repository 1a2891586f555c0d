"""Property: whatever the strategy, plan, budgets and failure pattern, a run never spends
more than its token budget, never starts more model calls than its call budget, and never
makes more than `n` generations.

Every row of the strategy registry is drawn, and what the property expects of a strategy
comes from its row (does it need a verifier, does it grow steps), so a new strategy is
covered without editing this file; each row also gets one `@example` whose token budget pays
for three generations and not a fourth, with every text and verdict using its whole reserve.
A `compute_optimal` policy may choose a step search (`policy_step_searches.json` picks one by
budget: `beam_search` at n=6, `lookahead` at 8, `dvts` at 10, `particle_filtering` at 12);
each gets an `@example` whose beams never finish, so its worst case is spent and must fit in
`n` generations with the probe's (and one with a tight token budget as well).

The spend is counted on the fakes' side, not the library's: `FailingGenerator` records the
completion tokens of every generation and judge verdict it hands out, `FakeVerifier` its
scores, and that sum is held to `budget_tokens` (and the calls started to `max_calls`); the
usage the result reports must then equal it.

Plants caught (each fails the tight examples of every derandomized run):
- one generation more than the budget pays for (`affordable()` in `nodes/spend.py` returning
  `tokens_left // tokens_each + 1`): more tokens handed out than `budget_tokens`;
- the judge's tokens dropped from the verify node's usage (`usage = add_usage(usage,
  verdict.usage)` removed in `nodes/verify.py`): the reported usage falls short of what was
  handed out, and multi-round strategies then overspend;
- the vote returning its representative's text instead of its answer (`nodes/select.py`):
  the answer must be one a candidate stated (this once only checked the answer's type).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
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
POLICIES = (  # no prior; a difficulty prior; a prior that gives "What is 1 + 1?" up; searches
    FIXTURES / "policy_all_plans.json",
    FIXTURES / "policy_prior.json",
    FIXTURES / "policy_prior_gives_up.json",
    FIXTURES / "policy_step_searches.json",
)
SEARCH_BUDGETS = (6, 8, 10, 12)  # the `n` at which policy_step_searches.json picks each search
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
        # (is a judge call, completion tokens, completions) of every call that returned
        self.handed_out: list[tuple[bool, int, int]] = []

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        attempt = (is_judge(messages), kwargs.get("n", 1))
        self.attempts.append(attempt)
        if len(self.attempts) - 1 in self.fail_at:
            self.failed.append(attempt)
            raise ProviderUnavailableError("scripted failure: 503 after every retry")
        generation = await super().generate(messages, **kwargs)
        tokens = sum(c.completion_tokens or 0 for c in generation.completions)
        self.handed_out.append((attempt[0], tokens, len(generation.completions)))
        return generation


texts = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3)).map(
        lambda t: " ".join(["step"] * t[0] + ([f"The answer is {t[1]}."] if t[1] else []))
    ),
    min_size=1,
    max_size=6,
)


@dataclass(frozen=True)
class Reserve:
    """What the property expects one generation of a strategy to reserve and cost."""

    tokens: int  # completion tokens reserved per generation (its verifier share included)
    calls: int  # calls per generation (its scores included)
    per_step: int  # generations per step of a step search (a lookahead rollout adds one)
    verifies: bool  # whether the run's candidates are scored


def reserve_of(
    strategy: str, max_tokens: int, verifier_reserve: int | None, explicit_judge: bool
) -> Reserve:
    search = REGISTRY[strategy].step_search
    has_verifier = verifier_reserve is not None or explicit_judge
    verifies = REGISTRY[strategy].needs_verifier or (
        has_verifier and strategy in VERIFIED_WHEN_GIVEN
    )
    verifier_share = 0
    if verifies:
        verifier_share = JUDGE_RESERVE if verifier_reserve is None else verifier_reserve
    tokens = max_tokens + verifier_share
    calls = 1 + (1 if verifier_share > 0 else 0)
    # Step search: a first step (and its lookahead rollout step) is a generation each; the
    # LLM judge (the default) grades every step of the scored text, a FakeVerifier the text.
    per_step = 1 + (LOOKAHEAD if strategy == "lookahead" else 0)
    if search:
        scores_per_step = per_step if verifier_reserve is None else 1
        tokens = per_step * max_tokens + scores_per_step * verifier_share
        calls = per_step + (scores_per_step if verifier_share > 0 else 0)
    return Reserve(tokens, calls, per_step, verifies)


def tight_examples(test: Callable[..., None]) -> Callable[..., None]:
    """One example per registered strategy whose token budget pays for three generations
    and not a fourth; every text and verdict uses its whole reserve (5 words of a 5-token
    `max_tokens`, a 4-word verdict of the judge's 4 tokens), scored by an LLM judge wherever
    the strategy verifies, so a fourth generation, or a verdict left out of the spend, is
    more than the budget."""
    tight: dict[str, Any] = {
        "max_tokens": 5,
        "max_calls": None,
        "share_prompt": False,
        "judge_replies": ["yes indeed it is"],
        "verifier_reserve": None,
        "fail_at": frozenset(),
        "confidence": "off",
    }
    for strategy in REGISTRY:
        explicit_judge = strategy in VERIFIED_WHEN_GIVEN
        reserve = reserve_of(strategy, 5, None, explicit_judge)
        test = example(
            **tight,
            strategy=strategy,
            n=8,
            chains=2 if strategy == "parallel_revision" else None,
            budget_tokens=4 * reserve.tokens - 1,
            script=["one two three four five six. The answer is 1."],
            explicit_judge=explicit_judge,
            policy=POLICIES[0],
        )(test)
    # compute_optimal choosing each step search, whose beams never end (the step is never
    # final), with no token budget and with one that runs out mid-search.
    for n in SEARCH_BUDGETS:
        for budget_tokens in (None, 8 * reserve_of("lookahead", 5, None, True).tokens - 1):
            test = example(
                **tight,
                strategy="compute_optimal",
                n=n,
                chains=None,
                budget_tokens=budget_tokens,
                script=["one two three four five\n\nsix"],
                explicit_judge=True,
                policy=POLICIES[3],
            )(test)
    return test


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    confidence=st.sampled_from(["off", "vote", "filter", "consensus", "online"]),
    policy=st.sampled_from(POLICIES),
)
@tight_examples
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
    # rows that vote over samples; the consensus early stop for every row; online
    # termination for the rows that sample after a warm-up, cutting the least sure).
    generator = FailingGenerator(
        reply, fail_at, logprobs=lambda index: [-0.1 - 0.5 * (index % 3), -3.0]
    )
    confidence_options: dict[str, Any] = {}
    if confidence == "consensus":
        confidence_options = {"early_stop": "consensus", "wave_size": 2}
    elif confidence == "online" and REGISTRY[strategy].online_stop:
        # DeepConf online: a warm-up of 2, then traces cut once a 2-token window falls.
        confidence_options = {"online_stop": 0.5, "confidence_window": 2, "wave_size": 2}
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
    expected = reserve_of(strategy, max_tokens, verifier_reserve, explicit_judge)
    verifies, per_step = expected.verifies, expected.per_step

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

    too_few_tokens = budget_tokens is not None and budget_tokens < expected.tokens
    too_few_calls = max_calls is not None and max_calls < expected.calls
    if too_few_tokens or too_few_calls:
        try:
            asyncio.run(run())
        except BudgetError as error:
            named = f"budget_tokens={budget_tokens}" if too_few_tokens else f"max_calls={max_calls}"
            assert named in str(error)
        else:
            raise AssertionError(f"no BudgetError: reserve {expected}")
        assert generator.attempts == []
        return

    try:
        result = asyncio.run(run())
    except NoCandidatesError:
        result = None  # every generation failed; the budgets must hold all the same

    # What the fakes handed out: every generation's and judge verdict's completion tokens,
    # and every score of a scripted verifier that reports a model's tokens.
    handed_out = sum(tokens for _, tokens, _ in generator.handed_out)
    scripted_scores = 0
    if isinstance(verifier, FakeVerifier) and verifier_reserve:
        scripted_scores = verifier.calls
        handed_out += verifier.calls * verifier_reserve
    if budget_tokens is not None:
        assert handed_out <= budget_tokens, f"{handed_out} tokens handed out"

    # Every generation counts as a call (a shared request of n samples counts n), and so does
    # every score of a verifier that calls a model, failed ones included.
    generations = sum(count for judge, count in generator.attempts if not judge)
    scores = sum(1 for judge, _ in generator.attempts if judge) + scripted_scores
    assert 1 <= generations <= (n * MAX_STEPS * per_step if search else n)
    if max_calls is not None:
        assert generations + scores <= max_calls
    if result is None:
        assert all(not judge for judge, _ in generator.failed)
        assert sum(count for _, count in generator.failed) == generations
        return

    # The usage the result reports is exactly what the fakes handed out, judge included: the
    # tokens, and a call per completion and per score that came back.
    assert result.usage.completion_tokens == handed_out
    handed_calls = sum(count for _, _, count in generator.handed_out) + scripted_scores
    assert result.usage.llm_calls == handed_calls
    if max_calls is not None:
        assert result.usage.llm_calls <= max_calls

    failed_generations = sum(count for judge, count in generator.failed if not judge)
    unconstrained = budget_tokens is None and max_calls is None and not generator.failed
    stops_early = confidence == "consensus"
    if unconstrained and strategy != "compute_optimal" and not search and not stops_early:
        assert generations == n  # compute_optimal spends what its policy's plan asks, <= n
    searched = REGISTRY[result.plan["base"]].step_search  # compute_optimal may choose one
    if searched and not search:  # after the probe: its samples are round 0, the steps 1...
        assert result.plan["search"]["first_round"] == 1
        assert sum(c.round == 0 for c in result.candidates) <= 2  # the probe's samples
    if searched:  # a lookahead rollout is a generation but not a candidate
        assert len(result.candidates) <= generations - failed_generations
        rounds: dict[int, int] = {}
        for candidate in result.candidates:
            rounds[candidate.round] = rounds.get(candidate.round, 0) + 1
        assert all(count <= n for count in rounds.values())
        assert max(rounds) < MAX_STEPS + (0 if search else 1)
    else:
        assert len(result.candidates) == generations - failed_generations
    assert all(
        call.max_tokens == max_tokens for call in generator.calls if not is_judge(call.messages)
    )
    assert all((c.completion_tokens or 0) <= max_tokens for c in result.candidates)

    # A trace cut online keeps its tokens (counted above) and abstains from the vote.
    for candidate in result.candidates:
        if candidate.online_stop == "stopped":
            assert candidate.answer is None and candidate.finish_reason == "low_confidence"
    made = sum(len(text.split()) for text in (c.text for c in result.candidates))
    think_and_revise = sum(
        result.usage.by_node.get(node, {"completion_tokens": 0})["completion_tokens"]
        for node in ("think", "revise")
    )
    if not searched:  # a beam's text repeats its parent's steps
        assert think_and_revise == made
    judged = sum(tokens for judge, tokens, _ in generator.handed_out if judge)
    verify_usage = result.usage.by_node.get("verify", {"completion_tokens": 0})
    assert verify_usage["completion_tokens"] == judged + scripted_scores * (verifier_reserve or 0)
    if verifies and result.plan["verify"]:
        # (compute_optimal scores its probe; later samples only if its chosen plan verifies)
        unscored = {i for f in result.failures if f.node == "verify" for i in f.candidate_ids}
        assert all(c.score is not None for c in result.candidates if c.id not in unscored)
    if not verifies:
        assert "verify" not in result.usage.by_node or (
            result.usage.by_node["verify"]["llm_calls"] == 0
        )
    # The answer is one a candidate gave: the one the selection picked, or none at all when
    # no candidate states one.
    answers = {c.answer for c in result.candidates if c.answer is not None}
    if result.answer is None:  # a revision chain's last attempts, or a search's last beams
        assert not answers or result.plan["selection"] in ("last", "search")
    else:
        assert result.answer in answers and result.selected is not None


def test_a_failed_step_grade_still_charges_the_steps_graded_before_it() -> None:
    """A beam's steps are graded by one judge call each; when one of them fails, the verify
    node records the failure and must still charge the calls that succeeded: they were
    spent, and the controller budgets from the charged usage.

    The bug this found: `LLMJudge.score_steps` raised the failure and the verify node
    charged nothing for that beam (here 40 of the 44 judge tokens handed out were charged),
    so the controller undercounted and a tight budget could be overspent."""
    generator = FailingGenerator(
        lambda messages, index: "yes indeed it is" if is_judge(messages) else "one two three",
        fail_at=frozenset({5}),  # a judge call grading the second step of a beam
    )
    result = asyncio.run(
        asolve("What is 1 + 1?", generator=generator, strategy="beam_search", n=2, max_steps=3)
    )

    [failure] = result.failures
    assert failure.node == "verify" and generator.failed == [(True, 1)]
    judged = sum(tokens for judge, tokens, _ in generator.handed_out if judge)
    assert result.usage.by_node["verify"]["completion_tokens"] == judged
    assert result.usage.completion_tokens == sum(tokens for _, tokens, _ in generator.handed_out)
    assert result.usage.by_node["verify"]["llm_calls"] == sum(
        1 for judge, _, _ in generator.handed_out if judge
    )
