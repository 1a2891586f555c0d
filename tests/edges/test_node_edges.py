"""The graph's nodes at edges the mutation run (issue 13) found untested.

Each test names the mutants of `reasoning_graph/nodes/` that survived the suite before it
(`python benchmarks/mutation.py`, docs/reliability.md): the plant is that one-line change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reasoning_graph import ReasoningConfig, asolve, create_reasoning_graph
from reasoning_graph.errors import (
    BudgetError,
    ConfigurationError,
    DeadlineExceededError,
    NoCandidatesError,
    ProviderUnavailableError,
)
from reasoning_graph.nodes.budget import DEADLINE_KEY
from reasoning_graph.nodes.per_run import PerRunNodes
from reasoning_graph.nodes.select import apply_review, make_select_node, select_answer
from reasoning_graph.nodes.spend import check_affordable, fit_to_budget
from reasoning_graph.nodes.think import first_step, new_candidate
from reasoning_graph.nodes.verify import make_verify_node
from reasoning_graph.providers.base import ChatMessage, Completion, Generation, TokenLogprob
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.providers.progress import completion_ready
from reasoning_graph.state import Candidate
from reasoning_graph.strategies import make_plan, next_action
from reasoning_graph.usage import zero_usage
from reasoning_graph.verifiers.base import StepVerdict, Verdict


class FailingSeeds(FakeGenerator):
    """A FakeGenerator whose requests with the given seeds fail after their retries."""

    def __init__(self, script: Any, *, failing: set[int]) -> None:
        super().__init__(script)
        self._failing = failing

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        if kwargs.get("seed") in self._failing:
            raise ProviderUnavailableError("the test server is down (503)")
        return await super().generate(messages, **kwargs)


async def test_a_failed_branch_is_traced_as_branch_failed() -> None:
    """docs/architecture.md: the trace's kind of a `failure` event is `branch_failed`.

    Plants: the kind is `None` (so `failure`), dropped, or misspelt
    (`x_failure_update__mutmut_23`, `_26`, `_27`, `_28`).
    """
    generator = FailingSeeds(["The answer is 4."], failing={1})
    graph = create_reasoning_graph(
        generator, config=ReasoningConfig(n=3, share_prompt=False)
    ).compile()
    output = await graph.ainvoke({"question": "What is 2 + 2?"})
    failed = [e for e in output["events"] if e["kind"] == "branch_failed"]
    assert [(e["node"], e["data"]["candidate_ids"]) for e in failed] == [("think", ["c1"])]
    assert failed[0]["data"]["error"] == "ProviderUnavailableError"
    assert output["answer"] == "4"


def test_the_first_step_ends_at_the_first_separator() -> None:
    """A server that ignores `stop` returns several steps; a beam grows by the first only.

    Plant: cut at the last separator (`rsplit`, `x_first_step__mutmut_5`).
    """
    assert first_step("  a = 1\n\nb = 2\n\nc = 3 ", "\n\n") == "a = 1"
    assert first_step("one step", "\n\n") == "one step"


def cand(number: int, answer: str, *, chain: int, round_: int) -> Candidate:
    return {
        "id": f"c{number}",
        "parent_id": None,
        "chain": chain,
        "round": round_,
        "node": "think" if round_ == 0 else "revise",
        "text": f"The answer is {answer}.",
        "answer": answer,
        "score": None,
        "finish_reason": "stop",
        "completion_tokens": 5,
        "seed": number,
    }


def test_last_takes_each_chains_highest_round_whatever_the_ids() -> None:
    """`last` votes over each chain's last attempt: its highest round, even when the ids
    (the order the attempts were started in) say otherwise, as with attempts merged from two
    runs.

    Plants: every attempt replaces the chain's last one (`current = None`, or looked up
    under chain `None`: `x__last_of_chains__mutmut_2`, `_3`), so the highest id wins.
    """
    candidates = [
        cand(0, "7", chain=0, round_=1),
        cand(1, "7", chain=1, round_=1),
        cand(2, "5", chain=0, round_=0),
        cand(3, "5", chain=1, round_=0),
        cand(4, "5", chain=2, round_=0),
    ]
    selected = select_answer(candidates, "last")
    assert selected.answer == "7"
    assert selected.tally == {"7": 2.0, "5": 1.0}


def test_a_review_naming_an_unknown_candidate_lists_the_known_ones() -> None:
    """Plants: the list of known ids is `None` or joined by "XX, XX"
    (`x_apply_review__mutmut_41`, `_43`)."""
    candidates = [cand(1, "4", chain=0, round_=0), cand(0, "5", chain=1, round_=0)]
    proposed = select_answer(candidates, "majority")
    with pytest.raises(
        ConfigurationError, match=r"'c7', which does not exist; choose one of: c0, c1$"
    ):
        apply_review({"candidate_id": "c7"}, candidates, proposed)


class StepScores:
    """A step verifier that scores each step by a table and records what it was given."""

    reserve_tokens = 0

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.graded: list[list[str]] = []

    async def score(self, question: str, solution: str) -> Verdict:
        raise AssertionError("a step verifier in step search scores steps")

    async def score_steps(self, question: str, steps: Sequence[str]) -> StepVerdict:
        self.graded.append(list(steps))
        return StepVerdict(step_scores=[self.scores[s] for s in steps], usage=zero_usage())


async def test_verify_splits_a_beam_at_the_plans_separator_and_folds_by_its_rule() -> None:
    """Step search with `step_separator="\\n"` and `step_aggregation="min"`.

    Plants: the beam is split at the default separator (`x__score__mutmut_32`), or its step
    scores are folded by the default rule, `last` (`_56`).
    """
    config = ReasoningConfig(
        strategy="beam_search", n=2, step_separator="\n", step_aggregation="min"
    )
    plan = make_plan(config, verifier_reserve=0, has_verifier=True, step_verify=True)
    beam = {**cand(0, "4", chain=0, round_=1), "chain": None, "text": "a\nb", "complete": False}
    verifier = StepScores({"a": 0.2, "b": 0.9})
    verify = make_verify_node(verifier)
    update = await verify({"question": "q?", "plan": plan, "candidates": {"c0": beam}})
    assert verifier.graded == [["a", "b"]]
    assert update["candidates"]["c0"]["score"] == 0.2
    assert update["candidates"]["c0"]["step_scores"] == [0.2, 0.9]


def test_with_no_stated_answer_the_earliest_of_the_best_scored_represents_the_run() -> None:
    """Plant: ties go to the latest candidate (`+_order`, `x__vote__mutmut_13`)."""
    silent = [{**cand(n, "x", chain=0, round_=0), "answer": None, "score": 0.5} for n in (2, 0, 1)]
    selected = select_answer(silent, "majority")  # type: ignore[arg-type]
    assert selected.answer is None and selected.candidate_id == "c0"


def test_a_candidate_keeps_the_seed_its_completion_reports_else_its_tasks() -> None:
    """Plants: the completion's seed is ignored, always taken, or taken only when missing
    (`x_new_candidate__mutmut_25`, `_26`, `_27`)."""
    reported = new_candidate(Completion(text="4", seed=7), candidate_id="c0", node="think", seed=3)
    unknown = new_candidate(Completion(text="4"), candidate_id="c1", node="think", seed=3)
    assert (reported["seed"], unknown["seed"]) == (7, 3)


async def test_model_verifier_scores_count_one_call_each_against_max_calls() -> None:
    """`revision`, n=4, a verifier that calls a model (reserves tokens), `max_calls=6`: each
    attempt costs its generation and its score, so three attempts fit (6 calls).

    Plant: a score counts as two calls (`x_calls_started__mutmut_12`): only two attempts run.
    """
    result = await asolve(
        "What is 2 + 2?",
        generator=FakeGenerator(["The answer is 4."]),
        verifier=FakeVerifier({"4": 0.9}, reserve_tokens=8),
        strategy="revision",
        n=4,
        max_calls=6,
    )
    assert len(result.candidates) == 3
    assert all(c.score == 0.9 for c in result.candidates)


def test_a_candidate_carries_the_mean_log_probability_of_its_tokens() -> None:
    """Plants: the mean is never taken, or is a product (`x_new_candidate__mutmut_30`, `_32`)."""
    tokens = [TokenLogprob(token="4", logprob=-1.0), TokenLogprob(token=".", logprob=-3.0)]
    made = new_candidate(
        Completion(text="4.", logprobs=tokens), candidate_id="c0", node="think", seed=0
    )
    assert made["mean_logprob"] == -2.0


def test_selecting_from_nothing_says_so() -> None:
    """Plant: the message is changed (`x_select_answer__mutmut_3`)."""
    with pytest.raises(NoCandidatesError, match="^there are no candidates to select from$"):
        select_answer([], "majority")


class OneShort(FakeGenerator):
    """Returns one completion fewer than asked for."""

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        full = await super().generate(messages, **kwargs)
        return Generation(completions=full.completions[:-1], usage=full.usage)


async def test_a_generator_returning_too_few_completions_fails_its_branch_saying_how_many() -> None:
    """Plant: the failure's message is `None` (`x_check_count__mutmut_2`)."""
    graph = create_reasoning_graph(
        OneShort(["The answer is 4."]), config=ReasoningConfig(n=3, share_prompt=True)
    ).compile()
    with pytest.raises(NoCandidatesError, match="the generator returned 2 completions for n=3"):
        await graph.ainvoke({"question": "What is 2 + 2?"})


class ReportsEach(FakeGenerator):
    """Reports each completion as it finishes, as concurrent one-sample requests do, so the
    `think` node streams its candidates before `generate` returns."""

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        generation = await super().generate(messages, **kwargs)
        for index, completion in enumerate(generation.completions):
            completion_ready(index, completion)
        return generation


@pytest.mark.parametrize("generator_type", [FakeGenerator, ReportsEach])
async def test_a_beams_trace_entry_keeps_its_parent_and_whether_it_is_complete(
    generator_type: type[FakeGenerator],
) -> None:
    """docs/architecture.md: a beam's trace entry keeps `parent_id` and `complete`, whether
    the beam streamed as its generation ended or with the node's update.

    Plants: the extra fields are dropped from the update's entry (`record(node, event)`,
    `x_candidate_record__mutmut_14`) or from a streamed beam's (`trace(node, event)`, `_8`).
    """
    graph = create_reasoning_graph(
        generator_type(["The answer is 4."]),
        verifier=FakeVerifier({"4": 0.9}),
        config=ReasoningConfig(strategy="beam_search", n=2, max_steps=2),
    ).compile()
    output = await graph.ainvoke({"question": "What is 2 + 2?"})
    beams = [e["data"] for e in output["events"] if e["kind"] == "candidate"]
    assert len(beams) == 2
    assert all(b["parent_id"] is None and b["complete"] is True for b in beams)


def test_search_selection_without_complete_flags_votes_over_the_deepest_beams() -> None:
    """A beam without `complete` is not complete: with none complete, the deepest step's
    beams vote. Plant: a missing flag counts as complete (`x_select_answer__mutmut_62`), so
    the shallow, better-scored beam wins."""
    shallow = {**cand(0, "5", chain=0, round_=0), "chain": None, "score": 0.9}
    deep = {**cand(1, "7", chain=0, round_=1), "chain": None, "score": 0.5}
    selected = select_answer([shallow, deep], "search")  # type: ignore[list-item]
    assert (selected.answer, selected.candidate_id) == ("7", "c1")


def test_search_selection_weighs_the_complete_beams_by_their_scores() -> None:
    """Plant: the complete beams vote one each (`weighted=False`,
    `x_select_answer__mutmut_78`): two weak "7"s would outvote one strong "5"."""
    beams = [
        {**cand(0, "5", chain=0, round_=1), "chain": None, "score": 0.9, "complete": True},
        {**cand(1, "7", chain=0, round_=1), "chain": None, "score": 0.2, "complete": True},
        {**cand(2, "7", chain=0, round_=1), "chain": None, "score": 0.2, "complete": True},
    ]
    selected = select_answer(beams, "search")  # type: ignore[arg-type]
    assert selected.answer == "5"
    assert selected.tally == pytest.approx({"5": 0.9, "7": 0.4})


async def test_the_trace_keeps_every_key_of_the_plan_and_of_the_difficulty_estimate() -> None:
    """docs/architecture.md: a plan's and a difficulty estimate's trace entries keep all
    their keys.

    Plants: the keys are not passed to the trace entry (`x__plan_record__mutmut_50`,
    `x__estimate__mutmut_70`).
    """
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 4."]), config=ReasoningConfig(n=2)
    ).compile()
    output = await graph.ainvoke({"question": "What is 2 + 2?"})
    for kind in ("plan", "difficulty"):
        (entry,) = [e for e in output["events"] if e["kind"] == kind]
        assert entry["data"] == {**entry["data"], **output[kind]}


async def test_a_deadline_given_in_the_run_config_is_obeyed() -> None:
    """A graph compiled by hand gets its deadline from the run config (`DEADLINE_KEY`, what
    `asolve` sets); one already past stops the run before any candidate, saying what to do.

    Plants: the run config's deadline is ignored (`x__deadline__mutmut_1`); the message is
    changed (`x__decide__mutmut_55`, `_56`).
    """
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 4."]), config=ReasoningConfig(n=2)
    ).compile()
    past = {"configurable": {DEADLINE_KEY: time.time() - 1.0}}
    expected = (
        r"before any candidate was ready; raise deadline_s, or use a faster model or a "
        r"smaller max_tokens($|\n)"
    )
    with pytest.raises(DeadlineExceededError, match=expected):
        await graph.ainvoke({"question": "What is 2 + 2?"}, past)


class SlowlyFailing(FakeGenerator):
    """Every request fails after its retries, 0.3 s after it was sent."""

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        await asyncio.sleep(0.3)
        raise ProviderUnavailableError("the test server is down (503)")


async def test_a_deadline_passed_with_every_branch_failed_names_deadline_s() -> None:
    """The first wave's one sample fails after the deadline (0.1 s) has passed: the
    controller, about to launch the next wave, stops with no candidate, naming the graph's
    `deadline_s`.

    Plant: the message is given `deadline_s=None` (`x_make_budget_node__mutmut_115`).
    """
    config = ReasoningConfig(n=2, early_stop="settled", wave_size=1, deadline_s=0.1)
    graph = create_reasoning_graph(SlowlyFailing(["4"]), config=config).compile()
    with pytest.raises(DeadlineExceededError, match=r"^the deadline \(deadline_s=0\.1\) passed"):
        await graph.ainvoke({"question": "What is 2 + 2?"})


@pytest.mark.parametrize(
    ("budget_tokens", "max_calls", "spent_tokens", "granted"),
    [
        (4, None, 0, 4),  # 1 token each: all four fit
        (4, None, 6, 0),  # overspent: nothing fits, however cheap
        (None, 2, 0, 2),  # no calls spent yet (the default): two fit
    ],
)
def test_the_budget_grants_what_the_rest_of_it_pays_for(
    budget_tokens: int | None, max_calls: int | None, spent_tokens: int, granted: int
) -> None:
    """`max_tokens=1`: each generation reserves one token and one call.

    Plants: a one-token reservation counts as two (`max(2, ...)`, `x_fit_to_budget__mutmut_49`);
    an overspent budget still has a token left (`max(1, ...)`, `_25`); `spent_calls`
    defaults to 1 (`_1`); the reason leaves the tokens out (`budget is None`, `_142`).
    """
    config = ReasoningConfig(
        n=4, max_tokens=1, budget_tokens=budget_tokens, max_calls=max_calls, share_prompt=False
    )
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    trimmed = fit_to_budget(next_action("q?", plan, {}, 0, 0), plan, spent_tokens)
    assert sum(len(task["ids"]) for task in trimmed["think"]) == granted
    assert trimmed["kind"] == ("think" if granted else "select")
    if not granted:
        assert trimmed["reason"] == "budget spent (6 of 4 completion tokens)"


async def test_the_controllers_trace_entries_are_filed_under_budget() -> None:
    """Plants: the `pruned` and `decision` entries are filed under another node
    (`x__report__mutmut_48`, `_49`, `_117`, `_118`)."""
    graph = create_reasoning_graph(
        FakeGenerator(["Let x be 2.", "Let y be 2.", "x + y is 4.", "Add them."]),
        verifier=FakeVerifier({"4": 0.9}, default=0.5),
        config=ReasoningConfig(strategy="beam_search", n=4, beam_width=2, max_steps=3),
    ).compile()
    output = await graph.ainvoke({"question": "What is 2 + 2?"})
    kinds = {(e["node"], e["kind"]) for e in output["events"]}
    assert ("budget", "pruned") in kinds and ("budget", "decision") in kinds
    assert {node for node, kind in kinds if kind in ("pruned", "decision")} == {"budget"}


async def test_a_state_without_a_question_is_an_empty_question() -> None:
    """Plants: a missing question reads as `None` (a type error) or as "XXXX" (a question)
    (`x__open__mutmut_3`, `_5`, `_8`)."""
    graph = create_reasoning_graph(FakeGenerator(["The answer is 4."])).compile()
    with pytest.raises(ConfigurationError, match="^the question is empty; pass the text"):
        await graph.ainvoke({})


def test_spent_budgets_and_trims_are_explained() -> None:
    """Plants: a spent call budget is left out of the reason (`max_calls is None`,
    `x_fit_to_budget__mutmut_144`) or joined oddly (`_151`); revisions are subtracted when
    counting what was wanted or granted (`_155`, `_160`); the trim note replaces the
    reason (`_166`)."""
    config = ReasoningConfig(n=4, max_tokens=1, budget_tokens=4, max_calls=2)
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    spent = fit_to_budget(next_action("q?", plan, {}, 0, 0), plan, 6, spent_calls=2)
    assert spent["reason"] == "budget spent (6 of 4 completion tokens, 2 of 2 calls)"

    chains = make_plan(
        ReasoningConfig(strategy="parallel_revision", n=8, chains=4, max_tokens=1, budget_tokens=6),
        verifier_reserve=0,
        has_verifier=False,
    )
    started = {f"c{i}": cand(i, "4", chain=i, round_=0) for i in range(4)}
    revise = next_action("q?", chains, started, 4, 0)
    trimmed = fit_to_budget(revise, chains, 4)
    assert len(trimmed["revise"]) == 2
    assert trimmed["reason"] == "revise 4 chain(s), round 1 (trimmed from 4 to 2 by the budget)"


def test_a_trimmed_step_keeps_its_pruned_and_kept_beams() -> None:
    """Plants: the check for `pruned` looks for another key (`x_fit_to_budget__mutmut_179`,
    `_180`), so a trimmed step forgets which beams it pruned."""
    config = ReasoningConfig(
        strategy="beam_search", n=4, beam_width=2, max_tokens=10, budget_tokens=50
    )
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    beams = {
        f"c{i}": {**cand(i, "4", chain=0, round_=0), "chain": None, "score": s, "complete": False}
        for i, s in enumerate((0.9, 0.8, 0.2, 0.1))
    }
    grow = next_action("q?", plan, beams, 4, 0)  # type: ignore[arg-type]
    trimmed = fit_to_budget(grow, plan, 40)
    assert sum(len(t["ids"]) for t in trimmed["think"]) == 1
    assert trimmed.get("pruned") == ["c2", "c3"] and trimmed.get("kept") == ["c0", "c1"]


@pytest.mark.parametrize(("verify", "tail"), [(False, ""), (True, " plus the verifier")])
def test_a_budget_too_small_for_one_generation_says_what_one_costs(verify: bool, tail: str) -> None:
    """Plants: " plus the verifier" always, changed, or "XXXX" without a verifier; the
    remedy changed (`x_check_affordable__mutmut_15`, `_16`, `_20`, `_21`, `_22`)."""
    config = ReasoningConfig(
        strategy="best_of_n" if verify else "self_consistency", max_tokens=10, budget_tokens=5
    )
    plan = make_plan(config, verifier_reserve=4 if verify else 0, has_verifier=verify)
    reserve = plan["reserve_per_generation"]
    expected = (
        f"budget_tokens=5 cannot pay for one generation, which reserves {reserve} completion "
        f"tokens (max_tokens=10{tail}); raise budget_tokens or lower max_tokens"
    )
    with pytest.raises(BudgetError) as caught:
        check_affordable(plan)
    assert str(caught.value) == expected


class OptionsRecorder(FakeGenerator):
    """A FakeGenerator that also records the options of each request (`stop` and
    `temperature`, which `GenerateCall` does not keep)."""

    def __init__(self, script: Any) -> None:
        super().__init__(script)
        self.options: list[dict[str, Any]] = []

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        self.options.append(kwargs)
        return await super().generate(messages, **kwargs)


async def test_a_revision_is_asked_like_the_first_attempt_and_traced() -> None:
    """A chain's revision goes out with the run's system prompt, temperature and its own seed
    (the plan's seed + its index), and the trace records the revised candidate.

    Plants: the revise request drops its seed or sends `seed=None`
    (`x_make_revise_node__mutmut_6`, `_11`), drops the temperature (`_10`), drops the system
    prompt or passes `None` (`_14`, `_17`); the node's update misnames `events` (`_80`,
    `_81`), so the revision is missing from the trace.
    """
    generator = OptionsRecorder(["The answer is 5.", "The answer is 4."])
    config = ReasoningConfig(
        strategy="revision", n=2, temperature=0.3, seed=11, system_prompt="Be brief."
    )
    graph = create_reasoning_graph(generator, config=config).compile()
    output = await graph.ainvoke({"question": "What is 2 + 2?"})
    first, revision = generator.calls
    assert "ATTEMPT 1" in revision.messages[-1]["content"]
    assert (first.seed, revision.seed) == (11, 12)
    assert [options["temperature"] for options in generator.options] == [0.3, 0.3]
    assert [m["content"] for m in revision.messages if m["role"] == "system"] == ["Be brief."]
    traced = [e for e in output["events"] if e["node"] == "revise" and e["kind"] == "candidate"]
    assert [e["data"]["id"] for e in traced] == ["c1"]
    assert output["answer"] == "4"


class StrayReports(FakeGenerator):
    """Reports its completions as they finish, plus reports no `generate` should make: an
    index past the end, a negative one, and the first completion a second time."""

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        generation = await super().generate(messages, **kwargs)
        first = generation.completions[0]
        for index in (len(generation.completions), -1, 0, 0, 1):
            completion_ready(index, first)
        return generation


async def test_each_candidate_streams_once_whatever_the_generator_reports() -> None:
    """Reports out of range are ignored and a repeated one streams nothing new.

    Plants: `not in range and already streamed` (`xǁ_LiveCandidatesǁ__call____mutmut_1`)
    streams the last candidate for index -1 and the first twice; `index <= len(ids)`
    (`_5`) raises IndexError on the index past the end.
    """
    graph = create_reasoning_graph(StrayReports(["The answer is 4."]), config=ReasoningConfig(n=2))
    streamed = [
        chunk["id"]
        async for chunk in graph.compile().astream(
            {"question": "What is 2 + 2?"}, stream_mode="custom"
        )
        if chunk["type"] == "candidate"
    ]
    assert streamed == ["c0", "c1"]


async def test_a_revision_streams_live_as_it_is_made() -> None:
    """Plant: `candidate_record` takes a candidate as streamed already unless told otherwise
    (`streamed=True` by default, `x_candidate_record__mutmut_1`): the revision never streams.
    """
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 5.", "The answer is 4."]),
        config=ReasoningConfig(strategy="revision", n=2),
    )
    streamed = [
        (chunk["node"], chunk["id"])
        async for chunk in graph.compile().astream(
            {"question": "What is 2 + 2?"}, stream_mode="custom"
        )
        if chunk["type"] == "candidate"
    ]
    assert streamed == [("think", "c0"), ("revise", "c1")]


async def test_a_runs_confidence_settings_reach_its_requests_and_measures() -> None:
    """`top_logprobs=3` asks for three alternatives per token, not the default 20, and each
    candidate's confidence is measured with the run's window and `k`.

    Plants: the plan's confidence settings are not put on its think tasks
    (`x_with_confidence__mutmut_1`), or a candidate is measured with DeepConf's defaults
    (`x_new_candidate__mutmut_35`, `_37`).
    """
    generator = FakeGenerator(["The answer is 4."], logprobs=[[-0.1, -2.0, -3.0, -4.0]])
    result = await asolve(
        "2 + 2?", generator=generator, n=2, logprobs=True, top_logprobs=3, confidence_window=2
    )
    assert [call.top_logprobs for call in generator.calls] == [3]
    measured = [c.confidence for c in result.candidates]
    assert [(m["window"], m["top_k"]) for m in measured if m is not None] == [(2, 3), (2, 3)]


async def test_a_run_without_logprobs_asks_for_no_alternatives() -> None:
    """Plant: a task without logprobs asks for one alternative per token
    (`x_top_logprobs__mutmut_4`), which a generator may compute and send for nothing."""
    generator = FakeGenerator(["The answer is 4."])
    await asolve("2 + 2?", generator=generator, n=2)
    assert [(call.logprobs, call.top_logprobs) for call in generator.calls] == [(False, 0)]


async def test_a_thread_resumed_before_a_later_controller_visit_keeps_its_config() -> None:
    """The run's context asked for review and n=3; the thread pauses before `think` and
    resumes with no context, so the controller's next visit sees none: the config the thread
    started with still holds (three candidates, then the review).

    Plants: the controller ignores the stored config on later visits and stores the resume's
    empty one (`xǁPerRunNodesǁbudget__mutmut_1`): no review. The approval is traced under
    `select` (plant: under "XXselectXX", `x_make_select_node__mutmut_67`).
    """
    served = create_reasoning_graph(FakeGenerator(["The answer is 4."])).compile(
        checkpointer=InMemorySaver(), interrupt_before=["think"]
    )
    thread: Any = {"configurable": {"thread_id": "t"}}
    await served.ainvoke({"question": "2 + 2?"}, thread, context={"review": True, "n": 3})
    paused = await served.ainvoke(None, thread)
    assert paused["__interrupt__"][0].value["type"] == "review"
    assert len(paused["candidates"]) == 3
    state = await served.ainvoke(Command(resume={"approve": True}), thread)
    reviews = [(e["node"], e["data"]["decision"]) for e in state["events"] if e["kind"] == "review"]
    assert reviews == [("select", "approve")] and state["answer"] == "4"


class TwoCallVerifier(FakeVerifier):
    """A verifier whose every score calls a model twice (as an ensemble of two judges)."""

    @property
    def reserve_calls(self) -> int:
        return 2


async def test_the_graph_reserves_a_verifiers_own_calls_and_tokens_per_score() -> None:
    """`best_of_n`, n=4. With `max_calls=6` and a score of two calls, each generation costs
    three calls: two fit. With `budget_tokens=30`, 4-token answers and 8 tokens reserved per
    score, each generation reserves 12 tokens: two fit.

    Plants: the graph does not pass the verifier's calls per score, so the default one call
    counts (`x_build_nodes__mutmut_20`, `_25`): three generations; or reserves no tokens for
    the verifier (`_26`).
    """
    calls = await asolve(
        "2 + 2?",
        generator=FakeGenerator(["The answer is 4."]),
        verifier=TwoCallVerifier({"4": 0.9}, reserve_tokens=8),
        strategy="best_of_n",
        n=4,
        max_calls=6,
    )
    tokens = await asolve(
        "2 + 2?",
        generator=FakeGenerator(["The answer is 4."]),
        verifier=FakeVerifier({"4": 0.9}, reserve_tokens=8),
        strategy="best_of_n",
        n=4,
        max_tokens=4,
        budget_tokens=30,
    )
    assert (len(calls.candidates), len(tokens.candidates)) == (2, 2)


async def test_the_selection_is_traced_with_its_tally_and_every_note() -> None:
    """Online stop asked of a generator that returns no logprobs: two notes (no confidence,
    no threshold from the warm-up), joined by "; " in the `selected` trace entry, beside the
    tally; a plain run's entry has no note.

    Plants: a note key even without notes (`x_make_select_node__mutmut_89`), named "NOTE"
    (`_91`), notes joined by "XX; XX" (`_93`); the tally `None` or dropped (`_97`, `_100`);
    the note dropped (`_101`).
    """

    async def selected(config: ReasoningConfig) -> dict[str, Any]:
        graph = create_reasoning_graph(FakeGenerator(["The answer is 4."]), config=config)
        output = await graph.compile().ainvoke({"question": "2 + 2?"})
        [entry] = [e["data"] for e in output["events"] if e["kind"] == "selected"]
        return entry

    noted = await selected(ReasoningConfig(n=4, online_stop=0.5, wave_size=2))
    first, second = noted["note"].split("; ")
    assert first.startswith("no token confidence") and second.startswith("online trace")
    assert noted["tally"] == {"4": 4.0}
    plain = await selected(ReasoningConfig(n=2))
    assert "note" not in plain and plain["tally"] == {"4": 2.0}


async def test_selecting_with_no_candidate_and_no_failure_says_just_that() -> None:
    """Plants: the first failure is read when there is none (`failures or True`,
    `x_make_select_node__mutmut_20`: IndexError), or "XXXX" is appended (`_27`)."""
    select = make_select_node()
    with pytest.raises(
        NoCandidatesError, match=r"^no candidate survived \(0 branch\(es\) failed\)$"
    ):
        await select({"question": "2 + 2?", "candidates": {}, "failures": []})  # type: ignore[typeddict-item]


async def test_a_lookahead_rollout_step_is_asked_like_a_step() -> None:
    """`lookahead=1`: each new beam of steps 1 and 2 rolls out one greedy step (temperature
    0), which stops at the step separator, carries its beam's seed and the run's system prompt,
    as every step does.

    Plants: in `make_think_node`'s rollout, `stop` is `None` or dropped
    (`x_make_think_node__mutmut_8`, `_14`), the seed `None` or dropped (`_9`, `_15`), the
    system prompt `None` or dropped (`_18`, `_21`); a continued step's system prompt `None`
    or dropped (`_71`, `_74`), a first step's (`_76`, `_78`); seed 0 taken for no seed
    (`c["seed"] or 1`, `_210`): the run's seed is 0, so the first beam's is too.
    """
    generator = OptionsRecorder(lambda messages, index: f"Step {index}.")
    config = ReasoningConfig(
        strategy="lookahead",
        n=2,
        beam_width=2,
        max_steps=3,
        lookahead=1,
        seed=0,
        system_prompt="Be brief.",
    )
    verifier = FakeVerifier({}, default=0.5)
    graph = create_reasoning_graph(generator, verifier=verifier, config=config).compile()
    await graph.ainvoke({"question": "2 + 2?"})
    greedy = [i for i, options in enumerate(generator.options) if options["temperature"] == 0.0]
    assert [generator.options[i]["stop"] for i in greedy] == [["\n\n"]] * 4
    assert [generator.calls[i].seed for i in greedy] == [0, 1, 2, 3]
    assert all(call.messages[0]["content"] == "Be brief." for call in generator.calls)


async def test_a_rollout_stops_at_the_step_that_states_the_answer() -> None:
    """`lookahead=2`: `c0`'s rollout stops after its first greedy step, which states the
    answer; `c1`'s runs both steps.

    Plants: the rollout goes on past a stated answer (`not step and ...`,
    `x_make_think_node__mutmut_44`) or stops after any step (`step or ...`, `_45`).
    """
    generator = FakeGenerator(lambda messages, i: "The answer is 4." if i == 2 else f"Step {i}.")
    config = ReasoningConfig(strategy="lookahead", n=2, beam_width=2, max_steps=3, lookahead=2)
    graph = create_reasoning_graph(
        generator, verifier=FakeVerifier({}, default=0.5), config=config
    ).compile()
    candidates = (await graph.ainvoke({"question": "2 + 2?"}))["candidates"]
    assert candidates["c0"]["rollout"] == "Step 0.\n\nThe answer is 4."
    assert candidates["c1"]["rollout"] == "Step 1.\n\nStep 3.\n\nStep 4."


@pytest.mark.parametrize("generator_type", [FakeGenerator, ReportsEach])
async def test_a_grown_beam_is_traced_with_its_parent_and_streamed_once(
    generator_type: type[FakeGenerator],
) -> None:
    """Beam search, n=2 and M=2: the first steps `c0`, `c1` never finish; the better one
    (`c0`, by start order) grows `c2`, `c3` at the last step. Each beam streams once, as its
    generation ends (`ReportsEach`) or with the node's update (`FakeGenerator`); its trace
    entry names its parent and whether it is complete; no beam has a rollout without
    `lookahead`.

    Plants in `make_think_node`'s step path: the trace entry's `parent_id` is `None`
    (`x_make_think_node__mutmut_231`); a beam that streamed as it ended streams again
    (`streamed` dropped, `_234`) or the others never do (`not in`, `_239`); a beam without
    rollout steps is "rolled out" zero steps (`rollout_steps >= 0`, `_184`), so its
    `rollout` is its own text.
    """
    graph = create_reasoning_graph(
        generator_type(lambda messages, index: f"Step {index}."),
        verifier=FakeVerifier({}, default=0.5),
        config=ReasoningConfig(strategy="beam_search", n=2, beam_width=2, max_steps=2),
    ).compile()
    streamed: list[str] = []
    output: dict[str, Any] = {}
    async for mode, chunk in graph.astream(
        {"question": "2 + 2?"}, stream_mode=["custom", "values"]
    ):
        if mode == "values":
            output = chunk
        elif chunk["type"] == "candidate":
            streamed.append(chunk["id"])
    traced = {e["data"]["id"]: e["data"] for e in output["events"] if e["kind"] == "candidate"}
    assert sorted(streamed) == sorted(traced) == ["c0", "c1", "c2", "c3"]
    assert [(traced[i]["parent_id"], traced[i]["complete"]) for i in sorted(traced)] == [
        (None, False),
        (None, False),
        ("c0", True),
        ("c0", True),
    ]
    assert [c.get("rollout") for c in output["candidates"].values()] == [None] * 4


async def test_a_failed_step_is_traced_as_a_failed_think_branch() -> None:
    """A next step whose request fails after its retries is a failed `think` branch; the
    other beam's step goes on.

    Plants: the step path's failure is traced under "XXthinkXX" or "THINK"
    (`x_make_think_node__mutmut_171`, `_172`).
    """
    generator = FailingSeeds(lambda messages, index: f"Step {index}.", failing={3})
    config = ReasoningConfig(
        strategy="beam_search", n=2, beam_width=2, max_steps=2, seed=0, share_prompt=False
    )
    graph = create_reasoning_graph(
        generator, verifier=FakeVerifier({}, default=0.5), config=config
    ).compile()
    output = await graph.ainvoke({"question": "2 + 2?"})
    events = output["events"]
    failed = [
        (e["node"], e["data"]["candidate_ids"]) for e in events if e["kind"] == "branch_failed"
    ]
    assert failed == [("think", ["c3"])]
    assert sorted(output["candidates"]) == ["c0", "c1", "c2"]


async def test_a_step_candidates_confidence_is_measured_with_the_runs_settings() -> None:
    """Each beam's confidence is measured with the run's window and `k`, as a sample's is
    (each step has 6 words, more than the window of 2, so the window measured is the run's).

    Plants: the step path measures with DeepConf's defaults (`confidence=None` or dropped,
    `x_make_think_node__mutmut_119`, `_127`).
    """
    generator = FakeGenerator(
        ["First we add the two numbers."], logprobs=[[-0.1, -2.0, -3.0, -4.0]]
    )
    result = await asolve(
        "2 + 2?",
        generator=generator,
        verifier=FakeVerifier({}, default=0.5),
        strategy="beam_search",
        n=2,
        max_steps=2,
        logprobs=True,
        top_logprobs=3,
        confidence_window=2,
    )
    measured = [c.confidence for c in result.candidates]
    assert len(measured) == 4
    assert [(m["window"], m["top_k"]) for m in measured if m is not None] == [(2, 3)] * 4


async def test_a_step_searchs_generations_are_counted_as_think_usage() -> None:
    """The step path reports its usage under `think`, as the sampling path does.

    Plant: the step path's usage is filed under "XXthinkXX" or "THINK"
    (`x_make_think_node__mutmut_253`, `_254`), a node no breakdown knows.
    """
    result = await asolve(
        "2 + 2?",
        generator=FakeGenerator(lambda messages, index: f"Step {index}."),
        verifier=FakeVerifier({}, default=0.5),
        strategy="beam_search",
        n=2,
        max_steps=2,
    )
    assert set(result.usage.by_node) == {"think", "verify"}
    spent = sum(c.completion_tokens for c in result.candidates)
    assert result.usage.by_node["think"]["completion_tokens"] == spent == 8  # 4 beams, 2 words


async def test_a_sample_is_asked_with_the_runs_system_prompt() -> None:
    """Plant: the sampling path's request drops the run's system prompt or passes `None`
    (`x_make_think_node__mutmut_313`, `_315`), so the library's own prompt goes out."""
    generator = FakeGenerator(["The answer is 4."])
    await asolve("2 + 2?", generator=generator, n=2, system_prompt="Be brief.")
    assert [call.messages[0] for call in generator.calls] == [
        {"role": "system", "content": "Be brief."}
    ]


class FailsOnFive(FakeVerifier):
    """A verifier whose model is down for every solution that says 5."""

    async def score(self, question: str, solution: str) -> Verdict:
        if "5" in solution:
            raise ProviderUnavailableError("the judge is down (503)")
        return await super().score(question, solution)


async def test_every_failed_score_is_kept_and_each_score_is_traced_under_verify() -> None:
    """Two of three scores fail: both failures are kept and traced, the third candidate is
    scored, traced under `verify`, and wins.

    Plants: a later failed score replaces the earlier ones in the update (`=` for `+=`:
    `x_make_verify_node__mutmut_82` for failures, `_88` for their trace entries); a score's
    trace entry is filed under "XXverifyXX" or "VERIFY" (`_140`, `_141`).
    """
    graph = create_reasoning_graph(
        FakeGenerator(["The answer is 5.", "The answer is 5.", "The answer is 4."]),
        verifier=FailsOnFive({"4": 0.9}),
        config=ReasoningConfig(strategy="best_of_n", n=3),
    ).compile()
    output = await graph.ainvoke({"question": "2 + 2?"})
    assert [(f["node"], f["candidate_ids"]) for f in output["failures"]] == [
        ("verify", ["c0"]),
        ("verify", ["c1"]),
    ]
    events = output["events"]
    failed = [e["data"]["candidate_ids"] for e in events if e["kind"] == "branch_failed"]
    assert failed == [["c0"], ["c1"]]
    assert [(e["node"], e["data"]["id"]) for e in events if e["kind"] == "scored"] == [
        ("verify", "c2")
    ]
    assert output["answer"] == "4"


def test_a_runs_nodes_are_built_once_per_context_and_the_newest_are_kept() -> None:
    """The nodes of a run's context are cached (least recently used out first, 2 kept
    here): the same overrides in another key order, or again after another context, get the
    nodes already built.

    Plants: the cache key depends on the key order (`sort_keys` dropped or False,
    `xǁPerRunNodesǁnodes__mutmut_5`, `_6`); the cache is never read (`_7`); it keeps one
    fewer than its size (`>=`, `_27`) or drops the newest instead of the oldest
    (`popitem(last=True)`, `_29`).
    """
    per_run = PerRunNodes(
        FakeGenerator(["4"]), verifier=None, config=ReasoningConfig(), cache_size=2
    )
    first = per_run.nodes({"n": 3, "seed": 1})
    assert per_run.nodes({"seed": 1, "n": 3}) is first
    second = per_run.nodes({"n": 4})
    assert per_run.nodes({"n": 4}) is second
    assert per_run.nodes({"n": 3, "seed": 1}) is first
