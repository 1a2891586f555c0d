"""Benchmark data sets: questions with gold answers, loaded from a spec, and their grading.

A spec names where the questions come from:

- `gsm8k:PATH`: GSM8K JSONL, fields `question` and `answer`; the gold answer is the `N` of the
  answer's last `#### N` line, thousands separators removed.
- `math:PATH`: MATH-format JSONL, fields `problem` and `answer`, optional `level` (the human
  difficulty) and `unique_id` (the example id).
- `jsonl:PATH?question=FIELD&answer=FIELD[&id=FIELD][&difficulty=FIELD]`: any JSONL, with the
  fields to read named in the query.
- `gym:TASK[?size=N&seed=S&PARAM=VALUE...]`: `N` questions (default 500) of the reasoning-gym
  task `TASK`, generated with seed `S` (default 0); every other `PARAM` goes to the task's
  config, e.g. `gym:basic_arithmetic?min_terms=2&max_terms=3`. Values are read as `true` /
  `false`, ints, floats, comma-separated tuples (`operators=+,-`) or else strings;
  `%XX` escapes are decoded.
- `gym-mix:TASK1,TASK2,...[?size_each=N&seed=S&PARAM=VALUE...]`: shorthand for
  `gym:TASK1?size=N&seed=S&PARAM=VALUE+gym:TASK2?...` (the params go to every task).
- `SPEC1+SPEC2+...`: a mix of any of the above, e.g. basic arithmetic at two settings:
  `gym:basic_arithmetic?max_terms=2+gym:basic_arithmetic?min_terms=4&max_terms=6`. A `+`
  splits specs only where the next spec's prefix follows it, so `operators=+,-` stays intact.
  The mix interleaves its parts (the first example of each part, then the second, ...), so a
  `limit` takes a balanced share of every part.

Names and ids: a file data set is named `gsm8k-STEM`, `math-STEM` or (jsonl) `STEM` after
its file; a gym task `TASK`, or `TASK[PARAM=VALUE,...]` with the spec's params but `size`; a
mix joins its parts' names with `+`. An example's id is the data set's own (`unique_id`, the
`id` field) when it has one, else `NAME-INDEX` with its index in the file or the task. A gym
example's human difficulty is the task's `difficulty` setting, ranges as `low..high`
(`num_terms=2..3,num_digits=1..4`); its metadata is the entry's.

Grading: math data sets (`gsm8k`, `math`, `jsonl`) count an answer correct when math-verify
finds it equivalent to the gold answer (`0.5` is `1/2`). reasoning-gym tasks use the task's own
`score_answer(answer, entry)` and count it correct only when the score is at least 1.0: the
default scorer gives partial credit to near misses (gold `-4`: `-4.0` scores 0.5, ` -4` 0.67,
`-4 apples` 0.22) and none of those count. A missing answer (`None`) is always wrong.

The reasoning-gym part (`gym:`, `gym-mix:`, param typing, grading) lives in
`reasoning_graph.bench.gym`.

Example:
    ```python
    dataset = load_dataset("gsm8k:data/gsm8k/test.jsonl", limit=50)
    example = dataset.examples[0]
    dataset.grade(example, "18")  # True when the gold answer is 18
    ```
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.bench.base import Dataset, Example, Source, parse_query
from reasoning_graph.bench.gym import expand_mix, gym_source
from reasoning_graph.errors import ConfigurationError

__all__ = ["Dataset", "Example", "MathDataset", "load_dataset"]

_PREFIXES = ("gsm8k", "math", "jsonl", "gym", "gym-mix")  # gym-mix: expanded to gym specs
_SPLIT_MIX = re.compile(r"\+(?=(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r"):)")
_SYNTAX = (
    "gsm8k:PATH, math:PATH, jsonl:PATH?question=FIELD&answer=FIELD, "
    "gym:TASK?size=N&seed=S&PARAM=VALUE, gym-mix:TASK1,TASK2?size_each=N, "
    "or several joined by '+'"
)


class MathDataset(Dataset):
    """Questions with math answers, graded by math-verify equivalence with the gold answer.

    Example:
        ```python
        dataset = MathDataset("toy", [Example(id="t-0", question="1/2 + 0?", gold="1/2")])
        dataset.grade(dataset.examples[0], "0.5")  # True
        ```
    """

    def grade(self, example: Example, predicted: str | None) -> bool:
        """Return whether `predicted` is equivalent to `example.gold` (`None` is wrong)."""
        if predicted is None or not predicted.strip():
            return False
        # A fresh matcher per call: math-verify's timeout only works on the creating thread.
        return AnswerMatcher().same(example.gold, predicted)


class _MixedDataset(Dataset):
    """Several data sets interleaved; each example is graded by the data set it came from."""

    def __init__(self, parts: Sequence[Dataset], examples: Sequence[Example], *, spec: str):
        super().__init__("+".join(p.name for p in parts), examples, spec=spec)
        self._owner: dict[str, Dataset] = {}
        for part in parts:
            for example in part.examples:
                if self._owner.setdefault(example.id, part) is not part:
                    raise ConfigurationError(
                        f"the mix {spec!r} holds example id {example.id!r} twice; "
                        "list each data set (and setting) once"
                    )

    def grade(self, example: Example, predicted: str | None) -> bool:
        """Grade `example` with the data set of the mix it came from."""
        owner = self._owner.get(example.id)
        if owner is None:
            raise ConfigurationError(f"example {example.id!r} is not part of {self.name!r}")
        return owner.grade(example, predicted)


def load_dataset(
    spec: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    seed: int = 0,
    shuffle: bool = False,
) -> Dataset:
    """Load the examples a spec names, optionally a slice of them.

    Specs: `gsm8k:PATH`, `math:PATH`,
    `jsonl:PATH?question=FIELD&answer=FIELD[&id=FIELD][&difficulty=FIELD]`,
    `gym:TASK[?size=N&seed=S&PARAM=VALUE...]`, `gym-mix:TASK1,TASK2[?size_each=N&...]`, and
    mixes `SPEC1+SPEC2+...`; see the module docstring for each, and for names and ids.

    Args:
        spec: Where the questions come from.
        limit: How many examples to keep; defaults to all of them.
        offset: How many to skip first; defaults to none.
        seed: Seed of the shuffle (not of a gym task: that is the spec's own `seed`).
        shuffle: Shuffle deterministically by `seed` before slicing; defaults to file order.

    Returns:
        The data set, its `examples` the selected slice.

    Raises:
        ConfigurationError: An unknown prefix, a missing file, malformed JSON (with its line
            number), missing fields, an unknown reasoning-gym task or parameter, reasoning-gym
            not installed, or a slice that selects nothing.

    Example:
        ```python
        mix = load_dataset(
            "gym:basic_arithmetic?max_terms=2&size=50+gym:basic_arithmetic?min_terms=4&size=50",
            limit=20,
        )
        [e.human_difficulty for e in mix.examples[:2]]
        ```
    """
    if (limit is not None and limit < 0) or offset < 0:
        raise ConfigurationError(
            f"limit and offset must be non-negative (got limit={limit}, offset={offset})"
        )
    parts = [p for piece in _SPLIT_MIX.split(spec.strip()) for p in expand_mix(piece)]
    sources = [_source(part) for part in parts]
    order = [
        (k, i)
        for i in range(max(s.count for s in sources))
        for k, source in enumerate(sources)
        if i < source.count
    ]
    if shuffle:
        random.Random(seed).shuffle(order)
    chosen = order[offset : None if limit is None else offset + limit]
    if not chosen and limit != 0:
        raise ConfigurationError(
            f"offset {offset} selects nothing from the {len(order)} examples of {spec!r}"
        )
    picks = [[i for part, i in chosen if part == k] for k in range(len(sources))]
    built = [source.build(picked) for source, picked in zip(sources, picks, strict=True)]
    if len(built) == 1:
        return built[0]
    by_key = {
        (k, i): example
        for k, (picked, part) in enumerate(zip(picks, built, strict=True))
        for i, example in zip(picked, part.examples, strict=True)
    }
    return _MixedDataset(built, [by_key[key] for key in chosen], spec=spec)


def _source(spec: str) -> Source:
    """The source a single spec names, through the registry of prefixes (`_SOURCES`)."""
    prefix, colon, rest = spec.partition(":")
    read = _SOURCES.get(prefix)
    if not colon or read is None or not rest:
        raise ConfigurationError(f"unknown data set spec {spec!r}; accepted: {_SYNTAX}")
    return read(spec, rest)


def _gsm8k(spec: str, path: str) -> Source:
    names = {"question": "question", "answer": "answer", "id": "id"}
    return _file_source(spec, path, names, gold=_gsm8k_gold)


def _math(spec: str, path: str) -> Source:
    names = {"question": "problem", "answer": "answer", "id": "unique_id", "difficulty": "level"}
    return _file_source(spec, path, names, gold=None)


def _jsonl(spec: str, rest: str) -> Source:
    path_text, _, query = rest.rpartition("?") if "?" in rest else (rest, "", "")
    fields_ = parse_query(query, spec)
    unknown = sorted(set(fields_) - {"question", "answer", "id", "difficulty"})
    if unknown or "question" not in fields_ or "answer" not in fields_:
        raise ConfigurationError(
            f"{spec!r} must name its fields as jsonl:PATH?question=FIELD&answer=FIELD"
            f"[&id=FIELD][&difficulty=FIELD] (unknown: {', '.join(unknown) or 'none'})"
        )
    return _file_source(spec, path_text, fields_, gold=None)


def _gym(spec: str, rest: str) -> Source:
    task, _, query = rest.partition("?")
    return gym_source(spec, task, parse_query(query, spec))


def _gsm8k_gold(answer: str, where: str) -> str:
    if "####" not in answer:
        raise ConfigurationError(f"{where}: the answer has no final '#### N' line")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def _file_source(
    spec: str,
    path_text: str,
    names: dict[str, str],
    *,
    gold: Callable[[str, str], str] | None,
) -> Source:
    path = Path(path_text).expanduser()
    records = _read_jsonl(path)
    if not records:
        raise ConfigurationError(f"{path} holds no examples")
    kind = spec.partition(":")[0]
    name = path.stem if kind == "jsonl" else f"{kind}-{path.stem}"
    examples: list[Example] = []
    for index, (line, record) in enumerate(records):
        where = f"line {line} of {path}"
        missing = [names[f] for f in ("question", "answer") if names[f] not in record]
        if missing:
            raise ConfigurationError(
                f"{where} has no field {', '.join(map(repr, missing))} "
                f"(its fields: {', '.join(record) or 'none'})"
            )
        answer = str(record[names["answer"]])
        own_id = record.get(names["id"]) if "id" in names else None
        level = record.get(names["difficulty"]) if "difficulty" in names else None
        used = {names["question"], names["answer"], names.get("id"), names.get("difficulty")}
        examples.append(
            Example(
                id=str(own_id) if own_id is not None else f"{name}-{index}",
                question=str(record[names["question"]]),
                gold=gold(answer, where) if gold is not None else answer,
                human_difficulty=(
                    None
                    if level is None
                    else f"Level {level}"
                    if isinstance(level, int)
                    else str(level)
                ),
                metadata={k: v for k, v in record.items() if k not in used},
            )
        )
    return Source(
        count=len(examples),
        build=lambda picks: MathDataset(name, [examples[i] for i in picks], spec=spec),
    )


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file with their (1-based) line numbers; blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"no such data file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read data file {path}: {exc}") from None
    records: list[tuple[int, dict[str, Any]]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"line {line_number} of {path} is not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if not isinstance(record, dict):
            raise ConfigurationError(
                f"line {line_number} of {path} is a JSON {type(record).__name__}, not an object"
            )
        records.append((line_number, record))
    return records


_SOURCES: Mapping[str, Callable[[str, str], Source]] = {
    "gsm8k": _gsm8k,
    "math": _math,
    "jsonl": _jsonl,
    "gym": _gym,
}
"""Each spec prefix and the function `(spec, text after the prefix) -> Source` it names."""
