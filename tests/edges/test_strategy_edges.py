"""Plans the strategies make, at edges the mutation run (issue 13) found untested.

Each test names the mutants of `reasoning_graph/strategies/` that survived the suite before
it (`python benchmarks/mutation.py`, docs/reliability.md): the plant is that one-line change.
Only the registry's entry points are called (`make_plan`, `plan_inputs`, `choose_plan`,
`next_action`), or a whole run (`asolve`) where a plan depends on the question (a policy's
prior).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from reasoning_graph import asolve
from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.policy import PlanChoice, load_policy
from reasoning_graph.prior import LinearModel, sigmoid
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.state import Candidate, Plan
from reasoning_graph.strategies import (
    REGISTRY,
    choose_plan,
    make_plan,
    next_action,
    plan_inputs,
    strategy_spec,
)
from reasoning_graph.strategies.step_search import fit_search

FIXTURE = Path(__file__).parent.parent / "fixtures" / "policy_all_plans.json"
STEP_FIXTURE = FIXTURE.with_name("policy_step_searches.json")  # every bin: a step search
# The fixture's bins: 1 self_consistency, 2 weighted_vote, 3 parallel_revision,
# 4 self_consistency, 5 best_of_n; probe_n 2, early_stop "confidence", wave_size 2.


def probe_plan(*, has_verifier: bool, n: int = 8) -> Plan:
    config = ReasoningConfig(strategy="compute_optimal", n=n, policy=str(FIXTURE))
    return make_plan(
        config,
        verifier_reserve=16 if has_verifier else 0,
        has_verifier=has_verifier,
        policy=load_policy(FIXTURE),
    )


def chosen_plan(difficulty_bin: int, *, has_verifier: bool) -> Plan:
    """The fixture policy's plan for `difficulty_bin` after an n=8 probe."""
    config = ReasoningConfig(strategy="compute_optimal", n=8, policy=str(FIXTURE))
    policy = load_policy(FIXTURE)
    inputs = plan_inputs(
        config,
        verifier_reserve=16 if has_verifier else 0,
        has_verifier=has_verifier,
        policy=policy,
    )
    probe = probe_plan(has_verifier=has_verifier)
    return choose_plan(probe, policy, difficulty_bin, config=config, inputs=inputs)


def test_the_probe_reads_the_configured_policy_file(tmp_path: Path) -> None:
    """Plants: the probe ignores `config.policy` and reads the packaged policy
    (`load_policy(None)`, `x_probe_planner__mutmut_3`); it starts chains (`1` for `0`, `_24`)
    or sampling waves (`wave_size` 1, `_35`)."""
    policy = json.loads(FIXTURE.read_text())
    policy.update(probe_n=3, stop_confidence=0.9)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    config = ReasoningConfig(strategy="compute_optimal", n=8, policy=str(path))
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    assert plan["phase"] == "probe" and plan["base"] == "self_consistency"
    assert plan["n"] == 3 and plan["stop_confidence"] == 0.9
    assert plan["chains"] == 0
    assert plan["early_stop"] == "none" and plan["wave_size"] == 0


@pytest.mark.parametrize(
    ("difficulty_bin", "base", "selection"),
    [(2, "weighted_vote", "weighted"), (5, "best_of_n", "best_score")],
)
def test_a_chosen_verifier_plan_scores_and_never_stops_early(
    difficulty_bin: int, base: str, selection: str
) -> None:
    """With a verifier the policy's verifier plan runs as chosen: scored, one wave, no chains.

    Plants: fall back to the probe's strategy even with a verifier (`needs_verifier or not
    has_verifier`, `x_choose_plan__mutmut_10`); the policy's early stop for a non-majority
    selection (`_20`, `_21`); chains for a sampling plan (`_43`, `_49`); `verify` misses
    "best_score" or "weighted" (`_55`, `_56`, `_57`, `_58`); waves without early stop or
    one sample a wave (`_64`, `_65`, `_68`).
    """
    chosen = chosen_plan(difficulty_bin, has_verifier=True)
    assert chosen["phase"] == "chosen" and chosen["base"] == base
    assert chosen["selection"] == selection and chosen["verify"] is True
    assert chosen["early_stop"] == "none" and chosen["wave_size"] == 0
    assert chosen["chains"] == 0
    assert chosen["n"] == 4


def test_a_chosen_majority_plan_stops_early_in_the_policys_waves() -> None:
    """Plants: no waves when the policy stops early (`... and False`,
    `x_choose_plan__mutmut_63`), or waves only when it does not (`_65`)."""
    chosen = chosen_plan(4, has_verifier=False)
    assert chosen["base"] == "self_consistency" and chosen["selection"] == "majority"
    assert chosen["verify"] is False
    assert chosen["early_stop"] == "confidence" and chosen["wave_size"] == 2
    assert chosen["chains"] == 0 and chosen["n"] == 8


def test_a_chosen_revision_plan_runs_one_chain_per_probe_sample() -> None:
    chosen = chosen_plan(3, has_verifier=False)
    assert chosen["base"] == "parallel_revision" and chosen["chains"] == 2
    assert chosen["selection"] == "last" and chosen["verify"] is False
    assert chosen["early_stop"] == "none" and chosen["wave_size"] == 0


def test_beam_search_uses_the_configured_beam_width() -> None:
    """Plant: `beam_search` ignores `beam_width` (`x_plan_beams__mutmut_8`); the default for
    n=8 would be 3."""
    plan = make_plan(
        ReasoningConfig(strategy="beam_search", n=8, beam_width=2),
        verifier_reserve=0,
        has_verifier=True,
    )
    assert plan["search"]["beam_width"] == 2


@pytest.mark.parametrize(("n", "beam_width", "subtrees"), [(8, 2, 4), (4, 4, 1)])
def test_dvts_uses_the_configured_beam_width_for_its_subtrees(
    n: int, beam_width: int, subtrees: int
) -> None:
    """Plants: `dvts` ignores `beam_width` (`beam_width(config.n, None)`,
    `x_plan_subtrees__mutmut_3`), or runs at least 2 subtrees (`max(2, ...)`, `_18`)."""
    config = ReasoningConfig(strategy="dvts", n=n, beam_width=beam_width)
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    assert plan["search"]["beam_width"] == beam_width
    assert plan["chains"] == subtrees


def test_revision_says_which_round_it_revises_and_when_every_chain_is_done() -> None:
    """The reason is what the trace and the `budget` event show for the decision.

    Plants: the round in the reason is `last_round - 1` or `+ 2`
    (`x_next_revision__mutmut_100`, `_101`); the closing reason is changed (`_86`, `_87`).
    """
    config = ReasoningConfig(strategy="parallel_revision", n=4, chains=2)
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    started = next_action("q?", plan, {}, 0, 0)
    assert started["reason"] == "start 2 revision chain(s)"
    first = {
        f"c{i}": candidate(f"c{i}", chain=i, round_=0) for i in range(2)
    }  # each chain has 2 attempts: one more each
    revising = next_action("q?", plan, first, 2, 0)
    assert revising["kind"] == "revise"
    assert revising["reason"] == "revise 2 chain(s), round 1"
    done = {
        **first,
        "c2": candidate("c2", chain=0, round_=1),
        "c3": candidate("c3", chain=1, round_=1),
    }
    finished = next_action("q?", plan, done, 4, 1)
    assert finished["kind"] == "select"
    assert finished["reason"] == "every chain is complete" and finished["stop"] == "complete"


def particles_plan() -> Plan:
    config = ReasoningConfig(strategy="particle_filtering", n=4, max_steps=5)
    return make_plan(config, verifier_reserve=0, has_verifier=True)


def test_particle_filtering_stops_when_no_first_step_came_back() -> None:
    """Plants: the reason is changed (`x_next_particles__mutmut_19`, `_20`)."""
    action = next_action("q?", particles_plan(), {}, 4, 0)
    assert action["kind"] == "select"
    assert action["reason"] == "no particle survived" and action["stop"] == "complete"


def test_a_complete_particle_is_never_reported_pruned() -> None:
    """A complete particle stays in the population; only growing ones can be pruned.

    Plants: the active particles are read from a key no candidate has (`"XXcompleteXX"`,
    `"COMPLETE"`: `x_next_particles__mutmut_91`, `_92`), so the complete one is "pruned".
    """
    scores = {"c0": 0.6, "c1": 0.5, "c2": 0.5, "c3": 0.5}
    candidates = {
        cid: {
            **candidate(cid, chain=None, round_=0),
            "score": score,
            "complete": cid == "c0",
        }
        for cid, score in scores.items()
    }
    action = next_action("q?", particles_plan(), candidates, 4, 0)  # type: ignore[arg-type]
    assert action["kind"] == "think"
    pruned, kept = action.get("pruned", []), action.get("kept", [])
    assert "c0" not in pruned and "c0" not in kept
    assert sorted(pruned + kept) == ["c1", "c2", "c3"]


def candidate(candidate_id: str, *, chain: int | None, round_: int) -> Candidate:
    return {
        "id": candidate_id,
        "parent_id": None,
        "chain": chain,
        "round": round_,
        "node": "think" if round_ == 0 else "revise",
        "text": "The answer is 4.",
        "answer": "4",
        "score": None,
        "finish_reason": "stop",
        "completion_tokens": 5,
        "seed": 0,
    }


def beam(candidate_id: str, score: float | None, *, round_: int = 0, **extra: Any) -> Candidate:
    """A beam at step `round_`; without `complete` (as a candidate may come) it is growing."""
    return {**candidate(candidate_id, chain=None, round_=round_), "score": score, **extra}  # type: ignore[typeddict-item]


def test_beam_search_keeps_the_best_beam_and_breaks_ties_by_start_order() -> None:
    """n=4, beam_width=4: one beam is kept and grows 4 next steps, seeded on from `launched`.

    Plants: an unscored beam sorts first (`+1.0`, `x_score_key__mutmut_9`); ties are not
    broken by the id's number (`id[2:]`, `... and False`: `_14`, `_16`); a candidate without
    `complete` counts as complete (`x_next_step_search__mutmut_30`); the reason's step number
    is off (`_108`, `_109`); the seeds of the new steps run backwards or from
    `seed - index` (`x_step_tasks__mutmut_15`, `_16`).
    """
    config = ReasoningConfig(strategy="beam_search", n=4, beam_width=4, max_steps=5, seed=100)
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    candidates = {
        "c10": beam("c10", 0.5),
        "c9": beam("c9", 0.5),
        "c11": beam("c11", None),
        "c12": beam("c12", 0.2),
    }
    action = next_action("q?", plan, candidates, 13, 0)
    assert action["kind"] == "think"
    assert action.get("kept") == ["c9"]
    assert action.get("pruned") == ["c10", "c12", "c11"]
    (task,) = action["think"]
    assert task["ids"] == ["c13", "c14", "c15", "c16"]
    assert task["seeds"] == [113, 114, 115, 116]
    assert task.get("parent_id") == "c9" and task.get("round") == 1
    assert action["reason"] == "step 2: keep 1 of 4 beam(s), 4 next step(s) each"


def test_without_a_shared_prompt_each_next_step_is_its_own_request() -> None:
    """Plant: the children of a beam always share one request (`... or True`,
    `x_step_tasks__mutmut_24`)."""
    config = ReasoningConfig(strategy="beam_search", n=2, beam_width=2, share_prompt=False)
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    action = next_action("q?", plan, {"c0": beam("c0", 0.9), "c1": beam("c1", 0.1)}, 2, 0)
    assert [task["ids"] for task in action["think"]] == [["c2"], ["c3"]]
    assert [task["seeds"] for task in action["think"]] == [[2], [3]]


def test_the_last_step_is_final_and_max_steps_ends_the_search() -> None:
    """max_steps=3: the step of round 2 is the last one (`final_step`); after it, select.

    Plants: `final_step` is `round - 1 >= max_steps` or `round + 1 > max_steps`
    (`x_step_tasks__mutmut_69`, `_71`); the stop is `last_round - 1 >= max_steps` or
    `last_round + 1 > max_steps` (`x_next_step_search__mutmut_40`, `_42`); the reasons are
    changed (`_36`, `_37`).
    """
    config = ReasoningConfig(strategy="beam_search", n=2, beam_width=2, max_steps=3)
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    second = next_action("q?", plan, {"c0": beam("c0", 0.9)}, 1, 0)
    assert [t.get("final_step") for t in second["think"]] == [False]
    third = next_action("q?", plan, {"c1": beam("c1", 0.9, round_=1)}, 3, 1)
    assert [t.get("final_step") for t in third["think"]] == [True]
    stop = next_action("q?", plan, {"c3": beam("c3", 0.9, round_=2)}, 5, 2)
    assert stop["kind"] == "select" and stop["reason"] == "max_steps=3 reached"
    done = next_action("q?", plan, {"c3": beam("c3", 0.9, round_=2, complete=True)}, 5, 2)
    assert done["kind"] == "select" and done["reason"] == "every beam is complete"


def test_the_lookahead_rollout_is_cut_at_max_steps() -> None:
    """lookahead=3, max_steps=4: a step of round 2 rolls out 1 more step, not 3.

    Plants: `max_steps - round + 1` or `max_steps + round - 1`
    (`x_search_reserve__mutmut_11`, `_12`).
    """
    config = ReasoningConfig(strategy="lookahead", n=2, beam_width=2, max_steps=4, lookahead=3)
    plan = make_plan(config, verifier_reserve=0, has_verifier=True)
    action = next_action("q?", plan, {"c2": beam("c2", 0.9, round_=1)}, 4, 1)
    assert [t.get("rollout_steps") for t in action["think"]] == [1]


def test_particles_without_a_complete_flag_keep_growing() -> None:
    """Plants: a particle without `complete` counts as complete when the earlier draws are
    replayed (`x_population__mutmut_33`) or when the active ones are listed
    (`x_next_particles__mutmut_93`) or no draw grows (`_41`); the reason's numbers are
    off (`_116`, `_117`, `_118`)."""
    plan = particles_plan()
    candidates = {f"c{i}": beam(f"c{i}", 0.5) for i in range(4)}
    candidates |= {f"c{i}": beam(f"c{i}", 0.5, round_=1) for i in range(4, 8)}
    action = next_action("q?", plan, candidates, 8, 1)
    assert action["kind"] == "think"
    growing = sum(len(t["ids"]) for t in action["think"])
    assert growing == 4
    kept = action.get("kept", [])
    assert sorted(kept + action.get("pruned", [])) == ["c4", "c5", "c6", "c7"]
    assert action["reason"] == (
        f"step 3: resampled 4 of 4 particle(s); {len(kept)} grow 4 next step(s), "
        "0 draw(s) keep a complete one"
    )


@pytest.mark.parametrize(
    ("strategy", "lookahead", "has_verifier", "reserve", "step_verify", "tokens", "calls"),
    [
        ("beam_search", 0, True, 10, False, 110, 2),  # one step, one whole-text score
        ("lookahead", 1, True, 10, False, 210, 3),  # the step and its rollout, one score
        ("lookahead", 1, True, 10, True, 220, 4),  # a step score per generated step
        ("beam_search", 0, True, 0, False, 100, 1),  # a programmatic check: no model call
        ("beam_search", 0, True, 1, False, 101, 2),
    ],
)
def test_a_step_search_reserves_what_one_new_beam_can_cost(
    strategy: str,
    lookahead: int,
    has_verifier: bool,
    reserve: int,
    step_verify: bool,
    tokens: int,
    calls: int,
) -> None:
    """max_tokens=100: the tokens and calls the controller reserves per new beam.

    Plants: a plain verifier's score counted per step or twice (`... or True`, `else 2`:
    `x_search_reserve__mutmut_26`, `_30`); calls charged for a verifier that calls no model
    (`_42`, `_45`); `verifier_calls` with `or`, `>= 0` or `> 1`
    (`x_plan_step_search__mutmut_38`, `_39`, `_40`).
    """
    config = ReasoningConfig(
        strategy=strategy, n=2, beam_width=2, max_steps=5, lookahead=lookahead, max_tokens=100
    )
    plan = make_plan(
        config, verifier_reserve=reserve, has_verifier=has_verifier, step_verify=step_verify
    )
    assert plan["reserve_per_generation"] == tokens
    assert plan["calls_per_generation"] == calls
    assert plan["search"]["verifier_calls"] == (1 if reserve > 0 else 0)  # calls per score


def test_sampling_closes_with_plan_complete_once_n_are_out() -> None:
    """Plants: the reason is changed (`x_next_samples__mutmut_11`, `_12`)."""
    plan = make_plan(ReasoningConfig(n=2), verifier_reserve=0, has_verifier=False)
    candidates = {f"c{i}": candidate(f"c{i}", chain=None, round_=0) for i in range(2)}
    action = next_action("q?", plan, candidates, 2, 0)
    assert action["kind"] == "select"
    assert action["reason"] == "plan complete" and action["stop"] == "complete"


@pytest.mark.parametrize(("stop_confidence", "stops"), [(0.85, True), (0.9, False)])
def test_the_confidence_rule_stops_at_the_configured_confidence(
    stop_confidence: float, stops: bool
) -> None:
    """Two agreeing samples of 8 make the leader 0.875 likely to win: that stops a run
    asking for 0.85, not one asking for 0.9 (nor the default 0.95).

    Plant: `stop_confidence` is not passed to the rule, which then uses its default 0.95
    (`x_next_samples__mutmut_33`).
    """
    config = ReasoningConfig(
        n=8, early_stop="confidence", stop_confidence=stop_confidence, wave_size=2
    )
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    candidates = {f"c{i}": candidate(f"c{i}", chain=None, round_=0) for i in range(2)}
    action = next_action("q?", plan, candidates, 2, 0)
    assert (action["kind"] == "select") is stops
    if stops:
        assert action["stop"] == "confidence"


def test_an_early_stop_reports_the_vote_largest_group_first() -> None:
    """Plants: the counts in the reason are sorted smallest first (`sorted(counts)`,
    `reverse=False`: `x_next_samples__mutmut_47`, `_48`)."""
    config = ReasoningConfig(n=8, early_stop="confidence", stop_confidence=0.6, wave_size=3)
    plan = make_plan(config, verifier_reserve=0, has_verifier=False)
    answers = {"c0": "5", "c1": "4", "c2": "4"}
    candidates = {
        cid: {**candidate(cid, chain=None, round_=0), "answer": a} for cid, a in answers.items()
    }
    action = next_action("q?", plan, candidates, 3, 0)  # type: ignore[arg-type]
    assert action["reason"] == (
        "vote settled early (confidence): [2, 1] with 5 sample(s) left unspent"
    )


PRIOR = Path(__file__).parent.parent / "fixtures" / "policy_prior.json"
# P(solvable) = sigmoid(-2 (max_digits - 2)): sigmoid(2) for "What is 1 + 1?"; its score
# model reads the prior and the probe's agreement only.


def with_prior(path: Path, **update: Any) -> str:
    """The PRIOR policy with its prior's fields updated, saved to `path`."""
    policy = load_policy(PRIOR)
    assert policy.prior is not None
    policy.model_copy(update={"prior": policy.prior.model_copy(update=update)}).save(path)
    return str(path)


async def test_a_prior_without_confidence_inputs_asks_for_no_logprobs() -> None:
    """Plant: any score model asks for logprobs (`_LOGPROB_SIGNALS | inputs`,
    `x_prior_plan__mutmut_19`)."""
    generator = FakeGenerator(["The answer is 2."])
    result = await asolve(
        "What is 1 + 1?", generator=generator, strategy="compute_optimal", n=8, policy=str(PRIOR)
    )
    assert not result.plan["logprobs"]
    assert not any(call.logprobs for call in generator.calls)


async def test_a_prior_exactly_at_the_give_up_threshold_still_probes(tmp_path: Path) -> None:
    """Only a prior *below* `give_up_below` gives up.

    Plant: `prior > threshold` keeps probing (`x_prior_plan__mutmut_16`), so a prior equal to
    the threshold gives up with one sample.
    """
    policy = with_prior(tmp_path / "p.json", give_up_below=sigmoid(2.0))
    generator = FakeGenerator(["The answer is 2."])
    result = await asolve(
        "What is 1 + 1?", generator=generator, strategy="compute_optimal", n=8, policy=policy
    )
    assert result.difficulty.prior == sigmoid(2.0) and not result.difficulty.gave_up
    assert generator.completions_made == 2  # the probe, then the chosen plan's one sample


@pytest.mark.parametrize(
    ("signal", "value", "options"),
    [
        (
            "token_probability",
            math.exp(-0.1),
            {"generator": FakeGenerator(["The answer is 2."], logprobs=[[-0.1, -2.3]])},
        ),
        (
            "verifier",
            0.9,
            {
                "generator": FakeGenerator(["The answer is 2."]),
                "verifier": FakeVerifier({"2": 0.9}),
            },
        ),
    ],
)
async def test_the_prior_scores_the_probes_token_probability_and_verifier_score(
    tmp_path: Path, signal: str, value: float, options: dict[str, Any]
) -> None:
    """A score model that reads the probe's token probability (each word's logprob -0.1) or
    its mean verifier score (0.9) gets it: logit(prior) 2 plus (value - 0.5) / 0.5.

    Plants: `policy_difficulty` passes the token probability as `None` or not at all
    (`x_policy_difficulty__mutmut_19`, `_24`), or the verifier score (`_20`, `_25`): a
    missing input counts as its mean, so the score would be 1 - sigmoid(2).
    """
    score = LinearModel(
        inputs=["prior", signal], mean=[0.0, 0.5], scale=[1.0, 0.5], coef=[1.0, 1.0], intercept=0.0
    )
    policy = with_prior(tmp_path / "p.json", score=score)
    result = await asolve(
        "What is 1 + 1?", strategy="compute_optimal", n=8, policy=policy, **options
    )
    expected = 1 - sigmoid(2.0 + (value - 0.5) / 0.5)
    assert result.difficulty.score == pytest.approx(expected)


def test_only_a_majority_vote_stops_early_and_only_a_verifying_plan_pays_for_scores() -> None:
    """`early_stop` applies to a vote: `best_of_n` runs in one wave whatever the config says;
    a vote stops early in waves of 4 by default; a verifier that a plan does not use costs it
    no calls.

    Plants: `early_stop` kept for every selection (`x_base_plan__mutmut_3`); the default wave
    is 5 (`_64`); a generation pays for a score it does not get (`_53`).
    """
    best = make_plan(
        ReasoningConfig(strategy="best_of_n", early_stop="settled"),
        verifier_reserve=8,
        has_verifier=True,
    )
    assert (best["early_stop"], best["wave_size"], best["calls_per_generation"]) == ("none", 0, 2)
    vote = make_plan(ReasoningConfig(early_stop="settled"), verifier_reserve=8, has_verifier=True)
    assert (vote["early_stop"], vote["wave_size"]) == ("settled", 4)
    assert not vote["verify"] and vote["calls_per_generation"] == 1


def test_the_policy_given_to_make_plan_is_the_one_it_plans_with() -> None:
    """A caller's loaded policy wins over the one `config.policy` names (here the packaged
    one, whose probe draws 2): the probe draws the given policy's `probe_n` of 3.

    Plant: the policy is dropped or passed as `None` (`x_make_plan__mutmut_19`, `_25`).
    """
    config = ReasoningConfig(strategy="compute_optimal", n=8)
    policy = load_policy(FIXTURE).model_copy(update={"probe_n": 3})
    packaged = make_plan(config, verifier_reserve=0, has_verifier=False)
    given = make_plan(config, verifier_reserve=0, has_verifier=False, policy=policy)
    assert (given["n"], packaged["n"]) == (3, 2)


def test_a_verifier_scores_calls_reach_the_plan_make_plan_makes() -> None:
    """A verifier whose score calls a model twice (an ensemble of two judges) makes each
    generation of a verifying plan cost three calls.

    Plants: `make_plan` drops `verifier_calls` or passes `None` (`x_make_plan__mutmut_8`,
    `_14`), so a score is taken to cost the default one call.
    """
    plan = make_plan(
        ReasoningConfig(strategy="best_of_n", n=4),
        verifier_reserve=8,
        has_verifier=True,
        verifier_calls=2,
    )
    assert plan["calls_per_generation"] == 3


def test_a_search_choice_without_its_shape_says_to_recalibrate() -> None:
    """`PlanChoice` refuses a step search without `beams` or `max_steps`; a choice built
    past its validation (`model_construct`) still fails with what to do, not a TypeError.

    Plants: the message is `None` or its advice changed (`x__chosen_search__mutmut_4`,
    `_5`, `_6`).
    """
    policy = load_policy(STEP_FIXTURE)
    shapeless = PlanChoice.model_construct(strategy="beam_search", n=6)
    plans = {bin_: {n: shapeless for n in row} for bin_, row in policy.plans.items()}
    policy = policy.model_copy(update={"plans": plans})
    config = ReasoningConfig(strategy="compute_optimal", n=6, policy=str(STEP_FIXTURE))
    inputs = plan_inputs(config, verifier_reserve=16, has_verifier=True, policy=policy)
    probe = make_plan(config, verifier_reserve=16, has_verifier=True, policy=policy)
    with pytest.raises(
        ConfigurationError,
        match=r"^the policy's beam_search plan has no `beams` or `max_steps`; "
        r"re-run `reasoning-graph calibrate`$",
    ):
        choose_plan(probe, policy, 1, config=config, inputs=inputs)


def test_one_generation_left_fits_one_first_step() -> None:
    """Plants: one generation taken for none (`generations <= 1` or `< 2`,
    `x_fit_search__mutmut_1`, `_2`): a policy's search after a probe that left one
    generation would fall back to sampling."""
    assert fit_search(4, 3, 1, 1) == (1, 1)
    assert fit_search(1, 5, 2, 1) == (1, 1)


def test_an_unknown_strategy_lists_the_known_ones() -> None:
    """`strategy_spec` is the registry's lookup for callers past `ReasoningConfig`'s check.

    Plant: the known names joined by "XX, XX" (`x_strategy_spec__mutmut_6`).
    """
    with pytest.raises(ConfigurationError) as caught:
        strategy_spec("nope")
    assert str(caught.value) == (f"unknown strategy 'nope'; choose one of: {', '.join(REGISTRY)}")
    assert "self_consistency, " in str(caught.value)


def test_plan_inputs_take_a_verifier_to_score_whole_texts_unless_told() -> None:
    """A verifier scores a beam's whole text unless the caller says it scores steps.

    Plant: `step_verify` defaults to True (`x_plan_inputs__mutmut_1`).
    """
    inputs = plan_inputs(
        ReasoningConfig(strategy="beam_search"), verifier_reserve=8, has_verifier=True
    )
    assert not inputs.step_verify
