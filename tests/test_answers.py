"""Tests of answer extraction and answer equivalence (`reasoning_graph.answers`)."""

from __future__ import annotations

import pytest

from reasoning_graph.answers import AnswerMatcher, extract_answer, normalize_answer

# --- extract_answer -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"So the result is \boxed{42}.", "42"),
        (r"Therefore \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{\sqrt{\frac{a}{b}}} is it", r"\sqrt{\frac{a}{b}}"),
        (r"First \boxed{3}, but on reflection \boxed{5}.", "5"),
        (r"\boxed{7} and then \fbox{8}", "8"),
        (r"\boxed{\boxed{9}}", "9"),
    ],
)
def test_extract_boxed_nested_braces_and_last_wins(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_boxed_beats_an_answer_statement() -> None:
    assert extract_answer(r"The answer is 3. Actually \boxed{4}") == "4"


def test_empty_boxed_falls_back_to_the_answer_statement() -> None:
    assert extract_answer(r"\boxed{} so the answer is 4") == "4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17 + 25 = 42, so the answer is 42.", "42"),
        ("The answer is 42", "42"),
        ("THE ANSWER IS 42!", "42"),
        ("The answer is: 42.", "42"),
        ("The answer is 3.5. Because halves add up.", "3.5"),
        ("The answer is 3.5.", "3.5"),
        ("The answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("Work...\nThe answer is 12\nand some trailing notes", "12"),
        ("The answer is 1. Wait, no.\nThe answer is 2.", "2"),
        ("The answer is Paris.", "Paris"),
    ],
)
def test_extract_the_answer_is(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Adding them up.\nThe final answer is 42.", "42"),
        ("The final answer is -7.", "-7"),
        ("final answer = 8", "8"),
    ],
)
def test_extract_the_final_answer_is(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Let me think.\nAnswer: 17", "17"),
        ("Answer: 17.", "17"),
        ("**Answer:** 9", "9"),
        ("Final answer: 8 apples", "8 apples"),
        ("Answer: 17 + 25 = 42", "42"),
        ("Steps 1 and 2.\n#### 1,000", "1,000"),
        ("#### 72", "72"),
    ],
)
def test_extract_answer_label_and_hashes(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I got 3 apples, then 7 more, 10 in all", "10"),
        ("the temperature fell to -5", "-5"),
        ("three quarters is 3/4", "3/4"),
        ("total: 2.75.", "2.75"),
        ("she had 1,234 coins.", "1,234"),
        ("12, then", "12"),
    ],
)
def test_extract_falls_back_to_the_last_number(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "no numbers and no statement here", "\\boxed{unbalanced words", "{{}}"]
)
def test_extract_none_when_nothing_is_stated(text: str) -> None:
    assert extract_answer(text) is None


def test_overlong_statement_is_not_an_answer() -> None:
    # Longer than the answer cap: the statement is rejected and the last number wins.
    text = "The answer is " + "word " * 100 + "\n7 is my guess"
    assert extract_answer(text) == "7"


@pytest.mark.parametrize(
    "text",
    [
        "x" * 200_000,
        "\\boxed{" * 5_000,
        "}" * 5_000 + "{" * 5_000,
        "answer is " * 5_000,
        "Answer: " * 5_000,
        "#### " * 5_000,
        "9" * 50_000,
        "1," * 20_000,
        "\x00\x01\x02\x1b[31m\x7f\u2028\x85\ufeff" * 500,
        "The answer is \x00\x07",
        "The answer is " + "\n" * 50,
        "".join(chr(i) for i in range(1, 0x3000, 7)),
    ],
)
def test_extract_never_raises_on_garbage(text: str) -> None:
    result = extract_answer(text)
    assert result is None or isinstance(result, str)
    assert result is None or len(result) <= max(len(text), 200)


@pytest.mark.timeout(30)  # a hang guard: the backtracking regex took ~100 s at 3,000 lines
def test_extract_survives_runs_of_blank_lines() -> None:
    # A degenerate small model easily emits hundreds of newlines before max_tokens.
    text = "Let me think." + "\n" * 20_000 + "The answer is 5"
    assert extract_answer(text) == "5"


def test_answer_isnt_is_not_an_answer_statement() -> None:
    assert extract_answer("The answer isn't obvious, but I get 7") == "7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is indeed 63.", "63"),
        ("So the answer is simply 5", "5"),
        ("The final answer is approximately 3.5.", "3.5"),
        ("The answer is: therefore, 12", "12"),
        ("The answer is equal to -4", "-4"),
        ("Answer: just 9 apples", "9 apples"),
        ("The answer is that she makes $18 a day.", "she makes $18 a day"),
        ("The answer is Indeed.", "Indeed"),  # a filler word alone is the answer
        ("The answer is thus", "thus"),
    ],
)
def test_extract_drops_filler_words_before_the_answer(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


# --- normalize_answer / AnswerMatcher -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" $1,000$ ", "1000"), ("12.000", "12"), ("New York", "newyork"), ("-1,234.5", "-1234.5")],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("0.5", "1/2"),
        ("0.5", "\\frac{1}{2}"),
        ("1/2", "\\frac{1}{2}"),
        ("1,000", "1000"),
        ("1000", "1000.0"),
        ("$42$", "42"),
        ("Paris", "paris"),
        ("New York", "new york"),
    ],
)
def test_same_answers(left: str, right: str) -> None:
    matcher = AnswerMatcher()
    assert matcher.same(left, right)
    assert matcher.same(right, left)


@pytest.mark.parametrize(
    ("left", "right"),
    [("0.5", "0.25"), ("1/2", "1/3"), ("1000", "100"), ("Paris", "London"), ("4", "-4")],
)
def test_different_answers(left: str, right: str) -> None:
    assert not AnswerMatcher().same(left, right)


# Pairs of final answers and whether they are the same answer. Most come from the embedded
# SmolLM2-135M-Instruct's own solutions (2026-11-30, temperature 0.7) to GSM8K test questions
# and reasoning-gym basic_arithmetic, as `extract_answer` read them, set against the gold
# answer or another sample's answer; the rest are the cases issue 9 names.
EQUIVALENCE = [
    # issue 9: whole answers, both ways
    ("2x + 2", "2", False),
    ("x + 5", "5", False),
    ("x = 5", "5", True),
    ("5 apples", "5", True),
    ("1/2", "0.5", True),
    ("0.5", "\\frac{1}{2}", True),
    ("1/2", "\\frac{1}{2}", True),
    ("-3", "3", False),
    # a unit (or any words) after a number
    ("4 bolts", "4", True),
    ("2 bolts of blue fiber", "2", True),
    ("1 hour", "1", True),
    ("200 meters", "200", True),
    ("380 days of running", "380", True),
    ("25 cents", "25", True),
    ("50 meals", "50", True),
    ("12.5 dollars", "12.5", True),
    ("4 bolts", "2 bolts", False),
    ("12.5 dollars", "12", False),
    ("1 hour", "6", False),
    # the same number written differently
    ("10,000", "10000", True),
    ("600,000", "600000", True),
    ("960,000", "960000", True),
    ("$360", "360", True),
    ("52.8", "52.80", True),
    ("384", "384.00", True),
    ("22.", "22", True),
    ("-2", "-2.0", True),
    ("1.5", "3/2", True),
    ("9/3", "3", True),
    ("0.000000000000000000000000000000000000000000000000000", "0", True),
    ("2 \\cdot 3", "6", True),
    ("30%", "30", True),  # math-verify's reading of a percentage: either
    ("30%", "0.3", True),
    # signs and near misses
    ("-1118", "1118", False),
    ("-2", "2", False),
    ("201", "-201", False),
    ("-1", "1", False),
    ("9/3", "9", False),
    ("1/743", "743", False),
    ("2.5", "25", False),
    ("0.02", "2", False),
    ("0.02", "0.002", False),
    ("52.8", "528", False),
    ("1.5", "15", False),
    ("0.000000000000000000000000000000000000000000000000000", "160", False),
    ("88001", "-764495", False),
    ("x = 5", "x = 6", False),
    # variables and text are not numbers
    ("5x", "5", False),
    ("2x", "2", False),
    ("X", "64", False),
    ("the sum of the two given expressions", "2", False),
    ("2 3", "5", False),  # two numbers side by side: math-verify would add them
    ("2 3", "6", False),
]


@pytest.mark.parametrize(("left", "right", "same"), EQUIVALENCE)
def test_equivalence_of_whole_answers_both_ways(left: str, right: str, same: bool) -> None:
    matcher = AnswerMatcher()
    assert matcher.same(left, right) is same
    assert matcher.same(right, left) is same


def test_the_equivalence_table_is_big_enough() -> None:
    assert len(EQUIVALENCE) >= 40
    assert sum(same for *_, same in EQUIVALENCE) >= 15
    assert sum(not same for *_, same in EQUIVALENCE) >= 15


def test_groups_merge_equivalent_forms_in_first_seen_order() -> None:
    answers = ["0.5", "7", "1/2", "\\frac{1}{2}", "1,000", "1000", "Paris", "paris"]
    assert AnswerMatcher().groups(answers) == [[0, 2, 3], [1], [4, 5], [6, 7]]


def test_groups_none_abstains() -> None:
    matcher = AnswerMatcher()
    assert matcher.groups([None, "3", None, "3.0", None]) == [[1, 3]]
    assert matcher.groups([None, None]) == []
    assert matcher.groups([]) == []


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("9" * 3_000, "9" * 3_000 + "1"),
        ("x" * 20_000, "y" * 20_000),
        ("{" * 500, "}" * 500),
        ("\\frac{1}{", "\\frac{1}{2}"),
        ("\\frac{" * 200, "1"),
        ("\\sqrt{" * 100, "2"),
        ("(((((", ")))"),
        ("\x00\x01", "\x1b[31m"),
        ("\\", "\\\\"),
        ("}{", "{}"),
        ("1/0", "0/0"),
        ("nan", "inf"),
        ("1e999999", "2"),
    ],
)
def test_matcher_never_raises_on_pathological_input(left: str, right: str) -> None:
    matcher = AnswerMatcher()
    assert isinstance(matcher.same(left, right), bool)
    groups = matcher.groups([left, None, right, left])
    assert sorted(i for g in groups for i in g) == [0, 2, 3]
    assert any(0 in g and 3 in g for g in groups)


def test_math_datasets_grade_with_the_same_whole_answer_equivalence() -> None:
    """GSM8K, MATH and JSONL sets grade through `AnswerMatcher`: no credit for an answer
    whose last number happens to be the gold one."""
    from reasoning_graph.bench.datasets import Example, MathDataset

    dataset = MathDataset("toy", [Example(id="t-0", question="q", gold="2")])
    [example] = dataset.examples
    assert dataset.grade(example, "2 bolts")
    assert dataset.grade(example, "4/2")
    assert not dataset.grade(example, "2x + 2")
    assert not dataset.grade(example, "-2")


def test_an_answer_longer_than_any_extracted_one_is_compared_as_text(monkeypatch) -> None:
    """math-verify spent 3 to 5 s on `"{" * 500` (the case above) on a loaded 2-core machine,
    and its 5 s `signal.alarm` then once fired inside a garbage-collector callback, where the
    timeout is lost (an unraisable-exception warning, the flaky failure seen in issue 13).
    An answer longer than `extract_answer` ever returns (200 characters) is not math anyone
    grades: it is compared as text and never parsed.

    Plant: no length limit in `_math_form` (math-verify parses the 500 braces again)."""
    parsed: list[str] = []

    def recording(self: AnswerMatcher, form: str) -> list[object]:
        parsed.append(form)
        return []

    monkeypatch.setattr(AnswerMatcher, "_parse_whole", recording)
    matcher = AnswerMatcher()
    assert not matcher.same("{" * 500, "}" * 500)
    assert matcher.same("9" * 3_000, "9" * 3_000)
    assert not matcher.same("1" * 201, "1" * 200)
    assert parsed == ["1" * 200]
