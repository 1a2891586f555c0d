"""End-to-end tests of the reasoning graph with scripted fakes (no model, no network)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph

from reasoning_graph import (
    BudgetError,
    ConfigurationError,
    NoCandidatesError,
    ProviderUnavailableError,
    ReasoningConfig,
    Result,
    asolve,
    create_reasoning_graph,
    solve,
)
from reasoning_graph.prompts import REVISE_INSTRUCTIONS, SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.usage import TokenUsage

Q = "What is 2 + 2?"


def kind_of(messages: Sequence[ChatMessage]) -> str:
    """Which node sent these messages: think, revise or the judge (its own system prompt)."""
    if messages[0]["content"] != SOLVE_SYSTEM_PROMPT:
        return "verify"
    if REVISE_INSTRUCTIONS in messages[-1]["content"]:
        return "revise"
    return "think"


class RecordingGenerator(FakeGenerator):
    """A FakeGenerator that also keeps the usage it reported per call, and can fail calls."""

    def __init__(
        self,
        script: Any,
        *,
        fail: Callable[[Sequence[ChatMessage], int | None], bool] | None = None,
    ) -> None:
        super().__init__(script)
        self.reported: list[tuple[str, TokenUsage]] = []
        self.failed: list[tuple[str, int | None]] = []
        self._fail = fail

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        if self._fail is not None and self._fail(messages, kwargs.get("seed")):
            self.failed.append((kind_of(messages), kwargs.get("seed")))
            raise ProviderUnavailableError("the test server is down (503)")
        generation = await super().generate(messages, **kwargs)
        self.reported.append((kind_of(messages), generation.usage))
        return generation

    def calls_of(self, kind: str) -> list[Any]:
        return [c for c in self.calls if kind_of(c.messages) == kind]


def answers(result: Result) -> list[str | None]:
    return [c.answer for c in result.candidates]


# --- each strategy selects what it should --------------------------------------------------


async def test_self_consistency_takes_the_majority() -> None:
    generator = FakeGenerator(["The answer is 5.", "The answer is 4.", "The answer is 4."])
    result = await asolve(Q, generator=generator, strategy="self_consistency", n=3)
    assert result.answer == "4"
    assert result.strategy == "self_consistency"
    assert answers(result) == ["5", "4", "4"]
    assert result.selected is not None and result.selected.answer == "4"
    assert all(c.score is None for c in result.candidates)  # no verifier was asked


async def test_self_consistency_ignores_a_given_verifier() -> None:
    verifier = FakeVerifier({"is 5": 1.0})
    generator = FakeGenerator(["The answer is 5.", "The answer is 4.", "The answer is 4."])
    result = await asolve(Q, generator=generator, verifier=verifier, n=3)
    assert result.answer == "4"
    assert verifier.calls == 0


SCRIPT_445 = ["The answer is 4.", "The answer is 4.", "The answer is 5."]


async def test_best_of_n_takes_the_highest_verifier_score() -> None:
    verifier = FakeVerifier({"answer is 5": 0.9, "answer is 4": 0.4})
    result = await asolve(
        Q, generator=FakeGenerator(SCRIPT_445), verifier=verifier, strategy="best_of_n", n=3
    )
    assert result.answer == "5"
    assert result.selected_id == "c2"
    assert [c.score for c in result.candidates] == [0.4, 0.4, 0.9]
    assert verifier.calls == 3


async def test_weighted_vote_sums_scores_per_answer() -> None:
    # 4: 0.4 + 0.4 = 0.8 beats 5: 0.7, although 5 has the single best score.
    verifier = FakeVerifier({"answer is 5": 0.7, "answer is 4": 0.4})
    result = await asolve(
        Q, generator=FakeGenerator(SCRIPT_445), verifier=verifier, strategy="weighted_vote", n=3
    )
    assert result.answer == "4"
    best = await asolve(
        Q, generator=FakeGenerator(SCRIPT_445), verifier=verifier, strategy="best_of_n", n=3
    )
    assert best.answer == "5"


async def test_weighted_vote_minority_with_higher_sum_wins() -> None:
    verifier = FakeVerifier({"answer is 5": 0.9, "answer is 4": 0.4})
    result = await asolve(
        Q, generator=FakeGenerator(SCRIPT_445), verifier=verifier, strategy="weighted_vote", n=3
    )
    assert result.answer == "5"


async def test_revision_takes_the_last_attempt_and_shows_earlier_ones() -> None:
    generator = RecordingGenerator(
        ["First try. The answer is 3.", "Second try. The answer is 5.", "Third. The answer is 4."]
    )
    result = await asolve(Q, generator=generator, strategy="revision", n=3)
    assert result.answer == "4"
    assert result.selected_id == "c2"
    assert [(c.id, c.chain, c.round, c.parent_id, c.node) for c in result.candidates] == [
        ("c0", 0, 0, None, "think"),
        ("c1", 0, 1, "c0", "revise"),
        ("c2", 0, 2, "c1", "revise"),
    ]
    assert [kind_of(c.messages) for c in generator.calls] == ["think", "revise", "revise"]
    first, second = (c.messages[-1]["content"] for c in generator.calls_of("revise"))
    assert Q in first and "First try. The answer is 3." in first
    assert "Second try" not in first
    assert "First try. The answer is 3." in second
    assert "Second try. The answer is 5." in second
    assert second.index("First try") < second.index("Second try")


async def test_revision_context_limits_the_attempts_shown() -> None:
    generator = RecordingGenerator(lambda messages, i: f"Attempt{i} says the answer is {i}.")
    result = await asolve(Q, generator=generator, strategy="revision", n=4, revision_context=2)
    assert result.answer == "3"
    last = generator.calls_of("revise")[-1].messages[-1]["content"]
    assert "Attempt0" not in last
    assert "Attempt1" in last and "Attempt2" in last


def chain_script(
    finals: dict[int, str], length: int | None = None
) -> Callable[[Sequence[ChatMessage], int], str]:
    """Think replies name their chain (by index); revisions carry it forward.

    Attempt `length` of chain k (every revision when `length` is None) answers `finals[k]`;
    every other attempt answers 1.
    """

    def script(messages: Sequence[ChatMessage], index: int) -> str:
        content = messages[-1]["content"]
        if REVISE_INSTRUCTIONS not in content:
            return f"Start{index} guess. The answer is 1."
        match = re.search(r"Start(\d+)", content)
        assert match is not None
        chain = int(match.group(1))
        depth = content.count("<<<BEGIN ATTEMPT")
        final = length is None or depth + 1 == length
        answer = finals.get(chain, "1") if final else "1"
        return f"Start{chain} depth{depth}. The answer is {answer}."

    return script


async def test_parallel_revision_runs_k_chains_of_n_over_k() -> None:
    generator = RecordingGenerator(chain_script({0: "7", 1: "8", 2: "7"}, length=3))
    result = await asolve(Q, generator=generator, strategy="parallel_revision", n=9)
    assert result.strategy == "parallel_revision"
    per_chain: dict[int | None, list[Any]] = {}
    for c in result.candidates:
        per_chain.setdefault(c.chain, []).append(c)
    assert sorted(per_chain) == [0, 1, 2]  # round(sqrt(9)) chains
    for attempts in per_chain.values():
        assert [a.round for a in attempts] == [0, 1, 2]
        assert attempts[1].parent_id == attempts[0].id
        assert attempts[2].parent_id == attempts[1].id
        # Each chain only ever saw its own attempts.
        chain_tag = attempts[0].text.split()[0]
        assert all(a.text.startswith(chain_tag) for a in attempts)
    # The last attempts say 7, 8, 7; the earlier six all said 1.
    assert result.answer == "7"
    assert answers(result).count("1") == 6
    assert len(generator.calls_of("think")) == 1
    assert len(generator.calls_of("revise")) == 6


async def test_parallel_revision_explicit_chains() -> None:
    generator = RecordingGenerator(chain_script({0: "2", 1: "3"}))
    result = await asolve(Q, generator=generator, strategy="parallel_revision", n=8, chains=2)
    chains = [c.chain for c in result.candidates]
    assert chains.count(0) == 4 and chains.count(1) == 4
    assert generator.calls_of("think")[0].n == 2


async def test_revision_with_a_verifier_uses_a_weighted_vote() -> None:
    verifier = FakeVerifier({"answer is 3": 1.0}, default=0.1)
    generator = FakeGenerator(["The answer is 3.", "The answer is 6.", "The answer is 6."])
    result = await asolve(Q, generator=generator, verifier=verifier, strategy="revision", n=3)
    assert result.answer == "3"  # 1.0 beats 0.1 + 0.1; the last attempt says 6
    assert verifier.calls == 3


# --- n and share_prompt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy", ["self_consistency", "best_of_n", "weighted_vote", "revision", "parallel_revision"]
)
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("share", [True, False])
async def test_n_generations_are_made(strategy: str, n: int, share: bool) -> None:
    generator = FakeGenerator(["The answer is 4.", "So the answer is 5."])
    result = await asolve(
        Q,
        generator=generator,
        verifier=FakeVerifier({"4": 0.6}),
        strategy=strategy,
        n=n,
        share_prompt=share,
    )
    assert generator.completions_made == n
    assert len(result.candidates) == n
    assert sum(c.n for c in generator.calls) == n
    generated = {node: result.usage.by_node.get(node) for node in ("think", "revise")}
    assert sum(u["llm_calls"] for u in generated.values() if u) == n  # one per generation
    assert sum(u["requests"] for u in generated.values() if u) == len(generator.calls)


async def test_shared_prompt_is_one_call_with_n() -> None:
    generator = FakeGenerator(["The answer is 4."])
    result = await asolve(Q, generator=generator, n=5, seed=40, share_prompt=True)
    assert [(c.n, c.seed) for c in generator.calls] == [(5, 40)]
    assert [c.seed for c in result.candidates] == [40, 41, 42, 43, 44]
    assert result.usage.llm_calls == 5 and result.usage.requests == 1


async def test_unshared_prompt_is_n_calls_with_distinct_seeds() -> None:
    generator = FakeGenerator(["The answer is 4."])
    result = await asolve(Q, generator=generator, n=5, seed=40, share_prompt=False)
    assert [c.n for c in generator.calls] == [1] * 5
    assert sorted(c.seed for c in generator.calls) == [40, 41, 42, 43, 44]
    assert [c.seed for c in result.candidates] == [40, 41, 42, 43, 44]
    assert result.usage.llm_calls == 5 and result.usage.requests == 5


async def test_max_tokens_and_temperature_reach_the_generator() -> None:
    generator = FakeGenerator(["one two three four five six seven The answer is 4."])
    result = await asolve(Q, generator=generator, n=2, max_tokens=3)
    assert [c.max_tokens for c in generator.calls] == [3]
    assert all(c.finish_reason == "length" and c.completion_tokens == 3 for c in result.candidates)


# --- usage ------------------------------------------------------------------------------------


def summed(reported: list[tuple[str, TokenUsage]], kind: str) -> TokenUsage:
    mine = [u for k, u in reported if k == kind]
    return {
        "prompt_tokens": sum(u["prompt_tokens"] for u in mine),
        "completion_tokens": sum(u["completion_tokens"] for u in mine),
        "llm_calls": sum(u["llm_calls"] for u in mine),
        "requests": len(mine),
    }


async def test_usage_is_the_sum_reported_per_node() -> None:
    generator = RecordingGenerator(
        ["a b c The answer is 4.", "The answer is 4.", "x y z w v The answer is 5."]
    )
    verifier = FakeVerifier({"4": 0.5}, reserve_tokens=2)
    result = await asolve(
        Q,
        generator=generator,
        verifier=verifier,
        strategy="parallel_revision",
        n=5,
        chains=2,
        share_prompt=False,
    )
    by_node = result.usage.by_node
    assert set(by_node) == {"think", "verify", "revise"}
    assert by_node["think"] == summed(generator.reported, "think")
    assert by_node["revise"] == summed(generator.reported, "revise")
    assert by_node["verify"] == {
        "prompt_tokens": 0,
        "completion_tokens": 2 * verifier.calls,
        "llm_calls": verifier.calls,
        "requests": verifier.calls,
    }
    assert verifier.calls == 5
    assert by_node["think"]["llm_calls"] == 2
    assert by_node["revise"]["llm_calls"] == 3
    assert result.usage.completion_tokens == sum(u["completion_tokens"] for u in by_node.values())
    assert result.usage.prompt_tokens == sum(u["prompt_tokens"] for u in by_node.values())
    assert result.usage.llm_calls == 2 + 3 + 5
    assert by_node["think"]["completion_tokens"] + by_node["revise"]["completion_tokens"] == sum(
        c.completion_tokens or 0 for c in result.candidates
    )


async def test_usage_with_a_shared_prompt() -> None:
    generator = RecordingGenerator(["one two three", "The answer is 4."])
    result = await asolve(Q, generator=generator, n=4)
    assert result.usage.by_node == {"think": summed(generator.reported, "think")}
    assert result.usage.completion_tokens == 3 + 4 + 3 + 4


# --- the default judge -----------------------------------------------------------------------


def judging_script(good: str) -> Callable[[Sequence[ChatMessage], int], str]:
    def script(messages: Sequence[ChatMessage], index: int) -> str:
        if messages[0]["content"] != SOLVE_SYSTEM_PROMPT:  # the judge has its own prompt
            return "Yes" if f"answer is {good}" in messages[-1]["content"] else "No"
        return ["The answer is 4.", "The answer is 4.", "The answer is 5."][index % 3]

    return script


async def test_best_of_n_without_verifier_uses_the_llm_judge() -> None:
    generator = RecordingGenerator(judging_script("5"))
    result = await asolve(Q, generator=generator, strategy="best_of_n", n=3)
    assert result.answer == "5"
    assert [c.score for c in result.candidates] == [0.0, 0.0, 1.0]
    judge_calls = generator.calls_of("verify")
    assert len(judge_calls) == 3
    assert all(c.n == 1 for c in judge_calls)
    assert all(Q in c.messages[-1]["content"] for c in judge_calls)
    assert result.usage.by_node["verify"] == summed(generator.reported, "verify")
    assert result.usage.by_node["verify"]["llm_calls"] == 3


async def test_weighted_vote_without_verifier_uses_the_llm_judge() -> None:
    generator = RecordingGenerator(judging_script("4"))
    result = await asolve(Q, generator=generator, strategy="weighted_vote", n=3)
    assert result.answer == "4"
    assert len(generator.calls_of("verify")) == 3


async def test_judge_reserve_counts_against_the_budget() -> None:
    # The judge reserves 4 tokens a verdict: 10 + 4 = 14 per generation, so 27 pays for one
    # at first; what the judge and the sample left unspent pays for the next ones.
    generator = RecordingGenerator(judging_script("5"))
    result = await asolve(
        Q, generator=generator, strategy="best_of_n", n=3, max_tokens=10, budget_tokens=27
    )
    assert generator.calls_of("think")[0].n == 1
    assert all(c.max_tokens == 4 for c in generator.calls_of("verify"))
    assert result.usage.completion_tokens <= 27
    with pytest.raises(BudgetError, match="plus the verifier"):
        await asolve(
            Q, generator=generator, strategy="best_of_n", n=3, max_tokens=10, budget_tokens=13
        )


# --- graph shape ------------------------------------------------------------------------------


def test_graph_is_returned_uncompiled_with_the_documented_nodes_and_routes() -> None:
    builder = create_reasoning_graph(FakeGenerator(["The answer is 4."]))
    assert isinstance(builder, StateGraph)
    drawn = builder.compile().get_graph()
    assert set(drawn.nodes) == {
        "__start__",
        "budget",
        "think",
        "verify",
        "revise",
        "select",
        "__end__",
    }
    edges = {(e.source, e.target, e.conditional) for e in drawn.edges}
    assert edges == {
        ("__start__", "budget", False),
        ("budget", "think", True),
        ("budget", "revise", True),
        ("budget", "select", True),
        ("think", "verify", False),
        ("revise", "verify", False),
        ("verify", "budget", False),
        ("select", "__end__", False),
    }


async def test_output_schema_hides_internal_keys() -> None:
    graph = create_reasoning_graph(FakeGenerator(["The answer is 4."])).compile()
    output = await graph.ainvoke({"question": Q})
    assert output["answer"] == "4"
    assert "action" not in output and "launched" not in output
    assert {"question", "answer", "plan", "candidates", "usage", "difficulty"} <= set(output)


async def test_events_trace_the_run() -> None:
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 4."]), config=ReasoningConfig(n=2)
    ).compile()
    output = await graph.ainvoke({"question": Q})
    kinds = [(e["node"], e["kind"]) for e in output["events"]]
    assert kinds[0] == ("budget", "plan")
    assert ("budget", "difficulty") in kinds
    assert kinds.count(("think", "candidate")) == 2
    assert kinds[-1] == ("select", "selected")


# --- difficulty -------------------------------------------------------------------------------


async def test_difficulty_bin_1_when_all_agree() -> None:
    result = await asolve(Q, generator=FakeGenerator(["The answer is 4."]), n=4)
    d = result.difficulty
    assert (d.agreement, d.score, d.bin, d.samples) == (1.0, 0.0, 1, 4)
    assert d.mean_verifier_score is None


async def test_difficulty_from_agreement() -> None:
    script = ["The answer is 4.", "The answer is 5.", "The answer is 4.", "The answer is 6."]
    d = (await asolve(Q, generator=FakeGenerator(script), n=4)).difficulty
    assert d.agreement == 0.5
    assert d.score == 0.5
    assert d.bin == 3


async def test_difficulty_includes_verifier_scores() -> None:
    verifier = FakeVerifier({"4": 0.5})
    d = (
        await asolve(
            Q,
            generator=FakeGenerator(["The answer is 4."]),
            verifier=verifier,
            strategy="best_of_n",
            n=2,
        )
    ).difficulty
    assert d.mean_verifier_score == pytest.approx(0.5)
    assert d.score == pytest.approx(1 - (1.0 + 0.5) / 2)
    assert d.bin == 2


async def test_difficulty_uses_the_first_wave_only() -> None:
    # A budget of 25 with max_tokens 10 pays for two samples first (both say 4), then the
    # rest arrive one by one and disagree.
    script = [
        "The answer is 4.",
        "The answer is 4.",
        "The answer is 5.",
        "The answer is 6.",
    ]
    result = await asolve(Q, generator=FakeGenerator(script), n=4, max_tokens=10, budget_tokens=25)
    assert answers(result) == ["4", "4", "5", "6"]
    assert result.difficulty.samples == 2
    assert result.difficulty.agreement == 1.0
    assert result.difficulty.bin == 1


async def test_difficulty_of_a_single_sample_is_unknown() -> None:
    d = (await asolve(Q, generator=FakeGenerator(["The answer is 4."]), n=1)).difficulty
    assert (d.score, d.bin, d.agreement, d.samples) == (None, None, None, 1)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
async def test_empty_question_raises(question: str) -> None:
    generator = FakeGenerator(["The answer is 4."])
    with pytest.raises(ConfigurationError, match="question"):
        await asolve(question, generator=generator)
    graph = create_reasoning_graph(generator).compile()
    with pytest.raises(ConfigurationError, match="question"):
        await graph.ainvoke({"question": question})
    assert generator.calls == []


@pytest.mark.parametrize(
    ("options", "verifier"),
    [
        ({"max_tokens": 10, "budget_tokens": 9}, None),
        ({"max_tokens": 512, "budget_tokens": 1}, None),
        (
            {"strategy": "best_of_n", "max_tokens": 10, "budget_tokens": 11},
            FakeVerifier({}, reserve_tokens=2),
        ),
        (
            {"strategy": "revision", "max_tokens": 10, "budget_tokens": 11},
            FakeVerifier({}, reserve_tokens=2),
        ),
    ],
)
async def test_budget_too_small_for_one_call_raises(
    options: dict[str, Any], verifier: FakeVerifier | None
) -> None:
    generator = FakeGenerator(["The answer is 4."])
    with pytest.raises(BudgetError, match=f"budget_tokens={options['budget_tokens']}"):
        await asolve(Q, generator=generator, verifier=verifier, **options)
    assert generator.calls == []


async def test_budget_exactly_one_call_is_enough() -> None:
    generator = FakeGenerator(["The answer is 4."])
    result = await asolve(Q, generator=generator, n=3, max_tokens=10, budget_tokens=10)
    assert len(result.candidates) >= 1
    assert result.usage.completion_tokens <= 10


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"n": 0}, "n"),
        ({"n": "many"}, "n"),
        ({"strategy": "beam_me_up"}, "strategy"),
        ({"temperature": 5.0}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"budget_tokens": 0}, "budget_tokens"),
        ({"chains": 0}, "chains"),
        ({"revision_context": 0}, "revision_context"),
        ({"share_prompt": "sometimes"}, "share_prompt"),
        ({"samples": 3}, "samples"),
    ],
)
async def test_invalid_options_raise_configuration_error_naming_the_option(
    options: dict[str, Any], named: str
) -> None:
    generator = FakeGenerator(["The answer is 4."])
    with pytest.raises(ConfigurationError, match=rf"\b{named}\b") as caught:
        await asolve(Q, generator=generator, **options)
    assert isinstance(caught.value, ValueError)
    assert generator.calls == []


async def test_question_that_is_not_text_raises() -> None:
    with pytest.raises(ConfigurationError, match="question"):
        await asolve(None, generator=FakeGenerator(["4"]))  # type: ignore[arg-type]


async def test_options_override_a_given_config() -> None:
    generator = FakeGenerator(["The answer is 4."])
    base = ReasoningConfig(strategy="best_of_n", n=7, max_tokens=9)
    result = await asolve(
        Q, generator=generator, verifier=FakeVerifier({}), config=base, n=2, share_prompt=False
    )
    assert result.strategy == "best_of_n"
    assert [(c.n, c.max_tokens) for c in generator.calls] == [(1, 9), (1, 9)]


async def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="self_consistency") as caught:
        await asolve(Q, generator=FakeGenerator(["4"]), strategy="nope")
    assert "'nope'" in str(caught.value)


# --- failures -----------------------------------------------------------------------------


async def test_failed_branches_are_reported_and_the_rest_selects() -> None:
    generator = RecordingGenerator(["The answer is 4."], fail=lambda messages, seed: seed in (1, 3))
    result = await asolve(Q, generator=generator, n=5, share_prompt=False)
    assert [c.id for c in result.candidates] == ["c0", "c2", "c4"]
    assert result.answer == "4"
    assert result.difficulty.samples == 3
    assert sorted(f.candidate_ids[0] for f in result.failures) == ["c1", "c3"]
    assert all(f.node == "think" for f in result.failures)
    assert all(f.error == "ProviderUnavailableError" for f in result.failures)
    assert all("503" in f.message for f in result.failures)
    assert result.usage.llm_calls == 3
    assert len(generator.failed) == 2  # never retried under another id


async def test_a_failed_shared_request_names_all_its_ids() -> None:
    generator = RecordingGenerator(["The answer is 4."], fail=lambda messages, seed: True)
    with pytest.raises(NoCandidatesError, match="ProviderUnavailableError"):
        await asolve(Q, generator=generator, n=3)
    assert len(generator.failed) == 1


async def test_all_branches_failing_raises_no_candidates_with_the_cause() -> None:
    generator = RecordingGenerator(["The answer is 4."], fail=lambda messages, seed: True)
    with pytest.raises(NoCandidatesError) as caught:
        await asolve(Q, generator=generator, n=3, share_prompt=False)
    message = str(caught.value)
    assert "3 branch(es) failed" in message
    assert "ProviderUnavailableError" in message
    assert "the test server is down (503)" in message


async def test_failing_verifier_branch_is_reported() -> None:
    class FlakyVerifier(FakeVerifier):
        async def score(self, question: str, solution: str) -> Any:
            if "5" in solution:
                raise ProviderUnavailableError("judge down")
            return await super().score(question, solution)

    result = await asolve(
        Q,
        generator=FakeGenerator(SCRIPT_445),
        verifier=FlakyVerifier({"4": 0.3}),
        strategy="best_of_n",
        n=3,
    )
    assert result.answer == "4"
    assert [(f.node, f.candidate_ids) for f in result.failures] == [("verify", ["c2"])]


async def test_parallel_revision_chain_whose_revision_failed_stops() -> None:
    def fail(messages: Sequence[ChatMessage], seed: int | None) -> bool:
        return kind_of(messages) == "revise" and "Start1" in messages[-1]["content"]

    generator = RecordingGenerator(chain_script({0: "3", 1: "9"}), fail=fail)
    result = await asolve(
        Q, generator=generator, strategy="parallel_revision", n=6, chains=2, share_prompt=True
    )
    assert [c.chain for c in result.candidates].count(1) == 1
    assert [c.chain for c in result.candidates].count(0) == 3
    assert len(result.failures) == 1 and result.failures[0].node == "revise"
    assert len(generator.failed) == 1


async def test_revision_whose_only_revision_failed_finishes_with_the_first_attempt() -> None:
    generator = RecordingGenerator(
        ["The answer is 4."], fail=lambda messages, seed: kind_of(messages) == "revise"
    )
    result = await asolve(Q, generator=generator, strategy="revision", n=3)
    assert result.answer == "4"
    assert len(result.failures) == 1
    assert len(generator.failed) == 1


# --- checkpointing and serialisation ------------------------------------------------------


@pytest.mark.parametrize("strategy", ["weighted_vote", "parallel_revision"])
async def test_works_with_a_checkpointer_and_state_serialises(strategy: str) -> None:
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 4.", "The answer is 5.", "The answer is 4."]),
        verifier=FakeVerifier({"4": 0.8}, default=0.2, reserve_tokens=1),
        config=ReasoningConfig(
            strategy=strategy, n=4, share_prompt=False, max_tokens=20, budget_tokens=400
        ),
    ).compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "thread-1"}}
    output = await graph.ainvoke({"question": Q}, config)
    assert output["answer"] == "4"
    decoded = json.loads(json.dumps(output))
    assert decoded["candidates"] == output["candidates"]
    assert Result.from_state(decoded) == Result.from_state(output)

    snapshot = await graph.aget_state(config)
    assert snapshot.next == ()
    assert snapshot.values["answer"] == "4"
    json.dumps(snapshot.values)  # the whole internal state is plain data too
    history = [s async for s in graph.aget_state_history(config)]
    assert len(history) > 3

    other: Any = {"configurable": {"thread_id": "thread-2"}}
    again = await graph.ainvoke({"question": "What is 3 + 1?"}, other)
    assert again["question"] == "What is 3 + 1?"
    assert (await graph.aget_state(config)).values["question"] == Q


def test_solve_is_the_blocking_twin() -> None:
    generator = FakeGenerator(["The answer is 4.", "The answer is 5.", "The answer is 4."])
    result = solve(Q, generator=generator, n=3)
    assert result.answer == "4"
    assert result.usage.completion_tokens == 12


async def test_solve_refuses_to_run_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="asolve"):
        solve(Q, generator=FakeGenerator(["The answer is 4."]))


async def test_progress_callback_sees_each_step() -> None:
    seen: list[dict[str, Any]] = []
    await asolve(
        Q,
        generator=FakeGenerator(["The answer is 4."]),
        n=2,
        on_progress=lambda s: seen.append(dict(s)),
    )
    assert seen[0]["question"] == Q
    assert "answer" not in seen[0]
    assert seen[-1]["answer"] == "4"
