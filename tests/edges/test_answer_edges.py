"""Edges of answer extraction and equivalence that the mutation run (issue 13) found untested.

Each test names the mutant of `reasoning_graph/answers.py` that survived the suite before it
(`python benchmarks/mutation.py`, docs/reliability.md): the plant is that one-line change.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from reasoning_graph.answers import (
    AnswerMatcher,
    extract_answer,
    normalize_answer,
    states_final_answer,
)


def test_a_blank_answer_statement_states_nothing_and_the_last_number_counts() -> None:
    """Plant: `_clean` turns a blank statement into the text "XXXX" instead of "" (and so
    into an answer) -- mutant `x__clean__mutmut_5`."""
    assert extract_answer("2 + 2 = 4. The answer is  ") == "4"
    assert not states_final_answer("The answer is  ")


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 12, since twelve is three fours",
        "The answer is 12, Because we add",
    ],
)
def test_a_reason_after_a_comma_is_not_part_of_the_answer(text: str) -> None:
    """Plants: the comma split's pattern never matches (`x__clean__mutmut_26`), or only
    before lower-case (`_27`) or upper-case (`_28`) words."""
    assert extract_answer(text) == "12"


def test_an_inline_math_answer_is_unwrapped() -> None:
    """Plants: `\\(` is looked for as `XX\\(XX` (`x__clean__mutmut_35`), `\\)` as `None` or
    `XX\\)XX` (`_36`, `_37`), so the wrapper stays; or the cut is off by one or empty
    (`line[3:-2]`, `line[2:+2]`, `line[2:-3]`: `_39`, `_40`, `_41`)."""
    assert extract_answer("The answer is \\(42\\).") == "42"
    assert extract_answer("The answer is \\(x + 1\\).") == "x + 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is x = $42$.", "42"),
        ("The answer is 2 + 3 = 5 apples", "5 apples"),
        ("The answer is 40 + 2 = 21 * 2 = 42", "42"),
    ],
)
def test_an_equation_states_what_follows_its_last_equals_sign(text: str, expected: str) -> None:
    """Plants: the right side keeps its `$` (`.strip(None)`, `x__clean__mutmut_45`), is cut
    at a space (`rsplit(None, 1)`, `_46`), or is the first right side instead of the last
    (`rsplit("=")`, `split("=", 1)`, `rsplit("=", 2)`: `_49`, `_50`, `_52`)."""
    assert extract_answer(text) == expected


def test_an_answer_of_200_characters_is_kept_and_one_longer_is_not() -> None:
    """Plant: `len(line) >= 200` drops an answer of exactly 200 characters
    (`x__clean__mutmut_62`)."""
    assert extract_answer("The answer is " + "a" * 200) == "a" * 200
    assert extract_answer("The answer is " + "a" * 201) is None


def test_an_answer_that_only_starts_with_inline_math_keeps_its_text() -> None:
    """Plant: unwrap when the answer starts with `\\(` *or* ends with `\\)`
    (`x__clean__mutmut_33`), which cuts "\\(5\\) dollars" into "5\\) dolla"."""
    assert extract_answer("The answer is \\(5\\) dollars") == "\\(5\\) dollars"


def test_a_boxed_answer_is_a_stated_answer_on_its_own() -> None:
    """Plants: `states_final_answer` ignores the box (`x_states_final_answer__mutmut_1`) or
    says False for it (`_5`); the text has no "answer is" to fall back on."""
    assert states_final_answer("so \\boxed{4}")
    assert not states_final_answer("so \\boxed{ }")


def test_plain_python_powers_are_math_when_the_whole_answer_parses() -> None:
    """`2**3` is no LaTeX; as a plain expression it parses whole, so it equals 8.

    Plants: `_squeezed` passes `None` for the pattern, replacement or text, or drops one
    (`x__squeezed__mutmut_1`, `_2`, `_3`, `_4`, `_5`, `_6`): it raises, and the answer is
    compared as text only.
    """
    matcher = AnswerMatcher()
    assert matcher.same("2**3", "8")
    assert matcher.same("2 ** 3", "8")
    assert not matcher.same("x**2 + 1", "1")  # the match "1" is not the whole answer


def test_a_sympy_failure_while_comparing_means_not_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant: `_verify` returns True when math-verify raises (`x_ǁAnswerMatcherǁ_verify__
    mutmut_8`), which would make any two math answers "the same" on a sympy bug."""
    import math_verify

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("sympy failed")

    monkeypatch.setattr(math_verify, "verify", broken)
    matcher = AnswerMatcher()
    assert not matcher.same("1/2", "0.5")
    assert matcher.same("1,000", "1000")  # equal as text: no math needed


def test_the_last_of_several_framed_answers_counts() -> None:
    """Plant: the last `\\boxed{` but the first `\\fbox{` (`x__last_boxed__mutmut_11`)."""
    assert extract_answer("first \\fbox{1}, then \\fbox{2}") == "2"


def test_a_spaced_fraction_as_the_last_number_loses_its_spaces() -> None:
    """Plants: the spaces of "3 / 4" are not dropped (`x_extract_answer__mutmut_24`) or become
    "XXXX" (`_25`)."""
    assert extract_answer("so we keep 3 / 4 of it") == "3/4"


def test_wrapped_and_unit_answers_equal_their_bare_value() -> None:
    """`\\(...\\)` and `\\[...\\]` wrappers and a `\\text{}` unit do not change the value.

    Plants: a one-character `\\[5\\]` is not unwrapped (`len(form) > 3 * len(closing)`,
    `x__math_form__mutmut_9`); the cut is `form[2:+2]` (`_11`), which empties `\\(5\\)`; a
    `\\text{...}` block becomes "XX XX" (`_27`), a word, so the answer is text only.
    """
    matcher = AnswerMatcher()
    assert matcher.same("\\[5\\]", "5.0")
    assert matcher.same("\\(5\\)", "5.0")
    assert matcher.same("5\\text{ cm}", "5")


def test_a_stray_closing_wrapper_is_not_unwrapped() -> None:
    """Plant: unwrap when the answer starts with `\\(` *or* ends with `\\)`
    (`x__math_form__mutmut_4`), which cuts "10 + 5\\)" into "+ 5"."""
    assert not AnswerMatcher().same("10 + 5\\)", "5")


def test_words_are_compared_as_text_not_as_products() -> None:
    """math-verify reads "ab" as `a*b`, equal to "ba"; as words they differ.

    Plant: `not form and _WORD.search(bare) or ...` (`x__math_form__mutmut_29`) lets words
    through to math-verify.
    """
    assert not AnswerMatcher().same("ab", "ba")


def test_towers_of_powers_are_math_on_the_main_thread() -> None:
    """On the main thread math-verify has its timeout, so a tower of powers is parsed.

    Plant: the text-only guard for risky forms applies when there *is* a timeout
    (`x_ǁAnswerMatcherǁ_parse__mutmut_7`).
    """
    assert AnswerMatcher().same("2^{2^{2}}", "16")


def test_plain_expressions_are_math_off_the_main_thread() -> None:
    """Off the main thread math-verify cannot time out (it uses `signal.alarm`), so the
    matcher parses without a timeout there; `2**3` still equals 8.

    Plant: the plain-expression parse uses math-verify's default timeout
    (`x_ǁAnswerMatcherǁ_parse_whole__mutmut_17`): it fails off the main thread.
    """
    same: list[bool] = []
    worker = threading.Thread(target=lambda: same.append(AnswerMatcher().same("2**3", "8")))
    worker.start()
    worker.join()
    assert same == [True]


def test_normalising_drops_dollars_and_lowers_case() -> None:
    """Plant: `strip("XX$XX")` also strips a capital X (`x_normalize_answer__mutmut_8`)."""
    assert normalize_answer("$X$") == "x"
    assert normalize_answer(" $12.0$ ") == "12"


def test_sameness_needs_math_verify_both_ways() -> None:
    """math-verify shows the interval `(1, \\infty)` equal to `x > 1` but not the other way
    round; `same` is symmetric, so neither order calls them the same.

    Plant: either direction is enough (`or`, `x_ǁAnswerMatcherǁsame__mutmut_12`).
    """
    matcher = AnswerMatcher()
    assert not matcher.same("x > 1", "(1, \\infty)")
    assert not matcher.same("(1, \\infty)", "x > 1")
