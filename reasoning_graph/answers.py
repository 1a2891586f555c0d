"""Final answers: pull them out of free text and decide when two of them are the same.

Extraction tries, in order: the last `\\boxed{...}`, "The (final) answer is X", "Answer: X"
or "#### X", and finally the last number in the text; filler words before a stated answer
("indeed 63") are dropped. A candidate with no extractable answer abstains from votes.

Equivalence holds when the two answers are the same text after normalisation, or when
`math-verify` shows each equal to the other, each parsed **whole**. math-verify's default
`parse` is built to dig an answer out of a solution, so on `2x + 2` it returns the last
number, `2`; here an answer is parsed as one LaTeX expression (`$...$`, LaTeX extraction
only), or, failing that, as a plain expression whose match is the whole answer. So `2x + 2`
differs from `2` and `-3` from `3`, while `x = 5` equals `5` and `1/2`, `0.5` and
`\\frac{1}{2}` are one answer. Before parsing, a number followed only by words is that
number (`5 apples` is `5`: a unit), and an answer with any other words, or with two numbers
side by side (`2 3`), is compared as text only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["AnswerMatcher", "extract_answer", "normalize_answer", "states_final_answer"]

_MAX_ANSWER_CHARS = 200
# Horizontal whitespace only ([ \t]) where a pattern repeats: \s would let runs of blank
# lines backtrack against each other (cubic time on degenerate model output).
_ANSWER_IS = re.compile(
    r"(?:final[ \t]+answer|the[ \t]+answer|answer)[ \t]*(?:is(?![\w'\u2019])|=)[ \t]*:?[ \t]*(.+)",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(
    r"(?:^|\n)[ \t]*(?:\**[ \t]*(?:final[ \t]+)?answer[ \t]*\**[ \t]*:|####)[ \t]*(.+)",
    re.IGNORECASE,
)
# Answers math-verify could spend unbounded time on (towers of powers, factorials): off the
# main thread there is no timeout, so these are compared as text only.
_RISKY = re.compile(r"\^.*\^|!")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")
_TRAILING = " \t.;,!*$`'\""
# Words a model puts between "the answer is" and the answer itself.
_FILLER = re.compile(
    r"^(?:(?:indeed|so|thus|therefore|hence|then|now|finally|actually|simply|just|exactly|"
    r"approximately|about|around|roughly|equal[ \t]+to|equals|clearly|still|also|that|"
    r"going[ \t]+to[ \t]+be|to[ \t]+be|will[ \t]+be)[ \t]*[:,]?[ \t]+)+(?=\S)",
    re.IGNORECASE,
)
# For equivalence: LaTeX text blocks and commands are not words of the answer.
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox)[ \t]*\{[^{}]*\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_NUMBER_AND_UNIT = re.compile(rf"({_NUMBER.pattern})[ \t]+[A-Za-z][A-Za-z .'-]*")
_SIDE_BY_SIDE = re.compile(r"\d[ \t]+[-\d]")
_WRAPPERS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _last_boxed(text: str) -> str | None:
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j]
    return None


def _clean(raw: str) -> str | None:
    line = raw.strip().splitlines()[0] if raw.strip() else ""
    # "The answer is 42. Because ..." keeps "42"; "3.5" keeps its decimal point.
    line = re.split(r"\.\s+(?=[A-Z])", line, maxsplit=1)[0]
    # "12, since ..." keeps "12"; "(1, 2)" keeps its comma.
    line = re.split(r",\s+(?=[A-Za-z]{2,})", line, maxsplit=1)[0]
    line = line.strip(_TRAILING)
    if line.startswith("\\(") and line.endswith("\\)"):
        line = line[2:-2].strip()
    if "=" in line:  # "17 + 25 = 42" states 42
        line = line.rsplit("=", 1)[1].strip(_TRAILING)
    line = _FILLER.sub("", line)  # "indeed 63" states 63
    if not line or len(line) > _MAX_ANSWER_CHARS:
        return None
    return line


def extract_answer(text: str) -> str | None:
    """Return the final answer stated in `text`, or `None` when there is none.

    Example:
        ```python
        extract_answer("17 + 25 = 42, so the answer is 42.")  # "42"
        extract_answer("... \\\\boxed{\\\\frac{1}{2}}")        # "\\\\frac{1}{2}"
        ```
    """
    boxed = _last_boxed(text)
    if boxed is not None and boxed.strip():
        return _clean(boxed)
    for pattern in (_ANSWER_IS, _ANSWER_LABEL):
        matches = pattern.findall(text)
        if matches:
            cleaned = _clean(matches[-1])
            if cleaned is not None:
                return cleaned
    numbers = _NUMBER.findall(text)
    if numbers:
        last: str = numbers[-1]
        return last.replace(" ", "").rstrip(".,")
    return None


def states_final_answer(text: str) -> bool:
    """Whether `text` states a final answer explicitly: a non-empty `\\boxed{}`, "The
    (final) answer is X", "Answer: X" or "#### X" (a bare number does not count).

    Step-level search uses it to tell that a beam's new step ended the solution.

    Example:
        >>> states_final_answer("So the answer is 4.")
        True
        >>> states_final_answer("2 + 2 = 4")
        False
    """
    boxed = _last_boxed(text)
    if boxed is not None and boxed.strip():
        return True
    return any(
        _clean(match) is not None
        for pattern in (_ANSWER_IS, _ANSWER_LABEL)
        for match in pattern.findall(text)
    )


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _math_form(answer: str) -> str | None:
    """The answer as math-verify should read it whole, or `None` when it is text.

    Strips `$`/`\\(`/`\\[` wrappers, reads "number words" as the number (a unit), and
    refuses answers with other words, or with numbers side by side, which math-verify
    would read as a product or a sum, and answers longer than `extract_answer` returns
    (math-verify can spend seconds on those, e.g. 500 braces, and its timeout is an alarm).
    """
    form = answer.strip().strip(_TRAILING)
    if len(form) > _MAX_ANSWER_CHARS:
        return None
    for opening, closing in _WRAPPERS:
        if form.startswith(opening) and form.endswith(closing) and len(form) > 2 * len(closing):
            form = form[len(opening) : -len(closing)].strip()
    unit = _NUMBER_AND_UNIT.fullmatch(form)
    if unit is not None:
        return unit.group(1)
    bare = _LATEX_COMMAND.sub("#", _LATEX_TEXT.sub(" ", form))
    if not form or _WORD.search(bare) or _SIDE_BY_SIDE.search(bare):
        return None
    return form


def normalize_answer(answer: str) -> str:
    """Lower-case, drop spaces, `$`, thousands separators and a trailing `.0`."""
    norm = answer.strip().strip("$").lower().replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", norm):
        norm = norm.replace(",", "")
    return re.sub(r"(?<=\d)\.0+$", "", norm)


class AnswerMatcher:
    """Decides answer equivalence with `math-verify`, caching each parse.

    One matcher per selection keeps the cache local (no module-level state).

    Example:
        ```python
        matcher = AnswerMatcher()
        matcher.same("0.5", "\\\\frac{1}{2}")  # True
        matcher.groups(["1/2", "0.5", "3"])  # [[0, 1], [2]]
        ```
    """

    def __init__(self) -> None:
        self._parsed: dict[str, list[Any]] = {}
        # math-verify times out with signal.alarm, which works on the main thread only.
        self._timeout: int | None = (
            5 if threading.current_thread() is threading.main_thread() else None
        )

    def _parse(self, answer: str) -> list[Any]:
        """math-verify's parse of the whole answer, or `[]` when it is text only."""
        if answer not in self._parsed:
            form = _math_form(answer)
            if form is None or (self._timeout is None and _RISKY.search(form)):
                self._parsed[answer] = []
            else:
                try:
                    self._parsed[answer] = self._parse_whole(form)
                except Exception:  # math-verify raises on pathological input; treat as text
                    self._parsed[answer] = []
        return self._parsed[answer]

    def _parse_whole(self, form: str) -> list[Any]:
        # math-verify (and sympy under it) load on the first comparison: importing this
        # module, which the registry and the CLI's --help do, must stay cheap.
        from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

        as_latex = parse(f"${form}$", [LatexExtractionConfig()], parsing_timeout=self._timeout)
        if as_latex and not isinstance(as_latex[0], str):
            return list(as_latex)
        # Plain-text math LaTeX cannot read: accepted only when the match is all of it.
        as_expression = parse(form, [ExprExtractionConfig()], parsing_timeout=self._timeout)
        if len(as_expression) == 2 and _squeezed(as_expression[1]) == _squeezed(form):
            return list(as_expression)
        return []

    def _verify(self, gold: list[Any], target: list[Any]) -> bool:
        from math_verify import verify

        try:
            return bool(verify(gold, target, timeout_seconds=self._timeout))
        except Exception:  # a sympy failure means "not shown equal", never a crash
            return False

    def same(self, left: str, right: str) -> bool:
        """Return whether two answers are mathematically (or textually) the same.

        Symmetric: math-verify must show each answer equal to the other.
        """
        if normalize_answer(left) == normalize_answer(right):
            return True
        first, second = self._parse(left), self._parse(right)
        if not first or not second:
            return False
        return self._verify(first, second) and self._verify(second, first)

    def groups(self, answers: Sequence[str | None]) -> list[list[int]]:
        """Group the indices of equivalent answers; `None` answers abstain.

        Groups keep the order in which their first member appeared.
        """
        groups: list[list[int]] = []
        for index, answer in enumerate(answers):
            if answer is None:
                continue
            for group in groups:
                representative = answers[group[0]]
                if representative is not None and self.same(representative, answer):
                    group.append(index)
                    break
            else:
                groups.append([index])
        return groups
