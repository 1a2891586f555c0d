"""A `compute_optimal` policy may choose a step search: it runs after the probe, inside `n`.

The fixture `policy_step_searches.json` picks, at every bin, a step search by budget:
`beam_search` (4 first steps, 3 steps: capped at n=4), `beam_search` (2, 8 steps) at n=6,
`lookahead` (2 rollout steps, not the config's 1) at 8, `dvts` (`beam_width` 4, not the 2
that 4 first steps default to) at 10, `particle_filtering` at 12, each with the policy's `n`
the probe plus its worst case. The scripted beams never finish, so every search spends its worst
case, which `fit_search` sized to the `n` the probe's 2 samples left.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoning_graph import ConfigurationError, asolve
from reasoning_graph.policy import load_policy
from reasoning_graph.prompts import SOLVE_SYSTEM_PROMPT
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier
from reasoning_graph.strategies.step_search import fit_search, search_generations
from reasoning_graph.verifiers.llm_judge import LLMJudge

POLICY = Path(__file__).parent / "fixtures" / "policy_step_searches.json"
NEVER_ENDS = "one two three\n\nfour"  # the first step of every completion is "one two three"


async def run(n: int, *, script: object = (NEVER_ENDS,), verifier: object = "fake", **options):
    generator = FakeGenerator(script)
    if verifier == "fake":
        verifier = FakeVerifier({}, default=0.5)
    result = await asolve(
        "q?",
        generator=generator,
        verifier=verifier,
        strategy="compute_optimal",
        n=n,
        policy=str(POLICY),
        **options,
    )
    return result, generator


@pytest.mark.parametrize(
    ("n", "base", "width", "steps", "shape"),
    [
        # 4 first steps do not fit in the 2 left: 2, one step
        (4, "beam_search", 2, 1, (1, 0, 0)),
        (
            6,
            "beam_search",
            2,
            2,
            (1, 0, 0),
        ),  # beam_width: round(sqrt(2)) = 1  # 2 x 2 = 4 left after the probe
        # 2 x (2 + 1): the first step's rollout is cut to the one step left
        (8, "lookahead", 2, 2, (1, 2, 0)),
        (10, "dvts", 4, 2, (4, 0, 1)),  # 4 x 2 = 8; beam_width 4: one subtree
        (12, "particle_filtering", 2, 5, (1, 0, 0)),  # 2 x 5 = 10
    ],
)
async def test_a_chosen_step_search_spends_its_worst_case_within_n(n, base, width, steps, shape):
    """Planted bugs: `_chosen_search` fitting the search into `choice.n` instead of
    `choice.n - plan["n"]` (forgetting the probe) runs 4 first steps at n=4 (6
    generations), 3 steps at n=6 (8) and 6 at n=12 (14), and fails here and in the budget
    property's step-search examples (the lookahead and dvts sizes happen to fit either way).
    The policy's `beam_width` or `lookahead` left out of the plan (`is None` for `is not
    None`, a misspelt key or the value `None`: `x__chosen_search__mutmut_12` to `_19`), or
    the row planned from the run's config alone (`update=None`, `_32`), plan the config's
    instead (a `beam_width` of round(sqrt(4)) = 2 for dvts, one rollout step): `shape` is
    (beam_width, lookahead, subtrees).
    """
    result, generator = await run(n)

    plan = result.plan
    assert (plan["strategy"], plan["base"], plan["phase"]) == ("compute_optimal", base, "chosen")
    assert (plan["n"], plan["search"]["max_steps"], plan["budget_n"]) == (width, steps, n)
    search = plan["search"]
    assert (search["beam_width"], search["lookahead"], plan["chains"]) == shape
    assert plan["search"]["first_round"] == 1 and plan["selection"] == "search"
    lookahead = plan["search"]["lookahead"]
    assert generator.completions_made == 2 + search_generations(width, steps, lookahead) == n
    assert result.usage.llm_calls == n  # FakeVerifier calls no model
    probe = [c for c in result.candidates if c.round == 0]
    assert [c.id for c in probe] == ["c0", "c1"]
    assert {c.round for c in result.candidates} == set(range(steps + 1))
    assert all(c.complete for c in result.candidates if c.round == steps)


async def test_the_search_selects_among_its_beams_not_the_probe():
    # The probe's two samples say 3 and score 0.9; the search's beams say 5 and score 0.1:
    # the answer is the search's, as in the benched search the policy was fitted on.
    def script(messages, index):
        return "The answer is 3." if index < 2 else "The answer is 5."

    verifier = FakeVerifier({"is 3": 0.9}, default=0.1)
    result, generator = await run(6, script=script, verifier=verifier)
    assert result.plan["base"] == "beam_search"
    assert result.answer == "5"
    assert generator.completions_made == 4  # every beam stated its answer at its first step


async def test_max_calls_counts_the_probe_before_the_search():
    """An LLM judge grades the probe (2 generations, 2 verdicts) and every step of every
    beam; `max_calls` holds across the switch from the probe to the search.

    Planted bug: the controller counting a step search's calls from 0 when the search starts
    (`state.get("search_calls", 0)`, as before a policy could choose one) forgets the probe's
    4 calls and starts 14 calls here, more than the 12 allowed."""
    generator = FakeGenerator(
        lambda messages, index: (
            NEVER_ENDS if messages[0]["content"] == SOLVE_SYSTEM_PROMPT else "Yes"
        )
    )
    result = await asolve(
        "q?",
        generator=generator,
        verifier=LLMJudge(generator),
        strategy="compute_optimal",
        n=6,
        max_calls=12,
        policy=str(POLICY),
    )
    assert result.plan["base"] == "beam_search"
    assert sum(call.n for call in generator.calls) <= 12
    assert result.usage.llm_calls <= 12


async def test_without_a_verifier_a_search_plan_falls_back_to_sampling():
    generator = FakeGenerator([NEVER_ENDS])
    result = await asolve(
        "q?", generator=generator, strategy="compute_optimal", n=6, policy=str(POLICY)
    )
    assert (result.plan["base"], result.plan["n"]) == ("self_consistency", 6)
    assert "search" not in result.plan


async def test_a_search_the_probe_left_no_room_for_falls_back_to_the_probe():
    result, generator = await run(2)  # the probe's 2 samples are the whole budget
    assert (result.plan["base"], result.plan["n"], result.plan["phase"]) == (
        "self_consistency",
        2,
        "chosen",
    )
    assert generator.completions_made == 2


def test_fit_search_drops_steps_then_width():
    assert fit_search(2, 8, 0, 4) == (2, 2)
    assert fit_search(2, 8, 1, 6) == (2, 2)  # 2 x (1 + 1) + 2 x 1
    assert fit_search(4, 3, 0, 2) == (2, 1)
    assert fit_search(4, 3, 0, 0) is None
    assert search_generations(2, 3, 1) == 2 * (2 + 2 + 1)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            {"strategy": "revision", "n": 4},
            "cannot choose strategy 'revision'.*choose one of: .*parallel_revision, "
            "beam_search, lookahead, dvts, particle_filtering",
        ),
        (
            {"strategy": "compute_optimal", "n": 4},
            "cannot choose strategy 'compute_optimal'",
        ),
        ({"strategy": "dvts", "n": 4}, "a dvts plan needs beams and max_steps"),
        (
            {"strategy": "weighted_vote", "n": 4, "beams": 2},
            "beams size a step search; a weighted_vote plan has only `n`",
        ),
    ],
)
def test_a_policy_naming_a_plan_that_cannot_run_fails_at_load(tmp_path, plan, message):
    policy = json.loads(POLICY.read_text())
    policy["plans"]["3"]["6"] = plan
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(policy))
    with pytest.raises(ConfigurationError, match=f"not a valid policy: plans.3.6.*{message}"):
        load_policy(path)
