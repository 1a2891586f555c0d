"""reasoning-gym data sets: `gym:` and `gym-mix:` specs, their params, names and grading.

`load_dataset` hands the `gym:` specs here (see `reasoning_graph.bench.datasets` for the
spec syntax); this module builds on `reasoning_graph.bench.base` only. A task's params are
typed from the query text: `true` / `false`, ints, floats, comma-separated tuples
(`operators=+,-`) or else strings. A task is named `TASK`, or
`TASK[PARAM=VALUE,...]` with the spec's params but `size`; its examples `NAME-INDEX`, with the
task's `difficulty` setting as their human difficulty (ranges as `low..high`).

Grading uses the task's own `score_answer(answer, entry)` and counts an answer correct only
when the score is at least 1.0 (the default scorer gives partial credit to near misses).

Needs reasoning-gym (the `bench` extra), imported when a task is loaded.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from reasoning_graph.bench.base import Dataset, Example, Source
from reasoning_graph.errors import ConfigurationError

__all__ = ["closest_tasks", "expand_mix", "gym_source", "parse_value"]

_INSTALL_HINT = "pip install 'reasoning-graph[bench]'"
_DEFAULT_SIZE = 500


class _GymDataset(Dataset):
    """reasoning-gym questions, graded by the task's own `score_answer` (correct at 1.0)."""

    def __init__(
        self,
        name: str,
        examples: Sequence[Example],
        *,
        score: Callable[[str | None, dict[str, Any]], float],
        entries: dict[str, dict[str, Any]],
        spec: str,
    ):
        super().__init__(name, examples, spec=spec)
        self._score = score
        self._entries = entries

    def grade(self, example: Example, predicted: str | None) -> bool:
        """Return whether the task scores `predicted` 1.0 (`None` is wrong)."""
        if predicted is None:
            return False
        entry = self._entries.get(example.id) or {
            "question": example.question,
            "answer": example.gold,
            "metadata": dict(example.metadata),
        }
        try:
            return float(self._score(predicted, entry)) >= 1.0
        except Exception:  # a scorer that chokes on a model's answer has not accepted it
            return False


def expand_mix(spec: str) -> list[str]:
    """Split a `gym-mix:` shorthand into its `gym:` specs; other specs stay as they are.

    Example:
        `expand_mix("gym-mix:a,b?size_each=5")` is `["gym:a?size=5", "gym:b?size=5"]`.
    """
    if not spec.startswith("gym-mix:"):
        return [spec]
    tasks, _, query = spec.removeprefix("gym-mix:").partition("?")
    params = [p for p in query.split("&") if p]
    shared = [re.sub(r"^size_each=", "size=", p) for p in params]
    suffix = "?" + "&".join(shared) if shared else ""
    return [f"gym:{task.strip()}{suffix}" for task in tasks.split(",") if task.strip()]


def parse_value(text: str) -> Any:
    """A query value typed: a tuple at commas, then a bool, an int, a float or the text."""
    if "," in text:
        return tuple(parse_value(item) for item in text.split(","))
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def gym_source(spec: str, task: str, query: Mapping[str, str]) -> Source:
    """The reasoning-gym task a `gym:` spec names, before selection.

    Args:
        spec: The whole `gym:` spec, for error messages and the data set's `spec`.
        task: The reasoning-gym task name.
        query: The spec's query params as text (`size`, `seed`, the task's settings).

    Returns:
        How many examples the task holds, and how to build the data set of the chosen
        indices.

    Raises:
        ConfigurationError: A bad `size`, reasoning-gym not installed, an unknown task, or
            settings the task rejects.
    """
    params = {key: parse_value(value) for key, value in query.items()}
    size = params.pop("size", _DEFAULT_SIZE)
    if not isinstance(size, int) or size < 1:
        raise ConfigurationError(f"{spec!r}: size must be a positive integer (got {size!r})")
    task_data = _create(spec, task, size, {**params, "seed": params.get("seed", 0)})
    label = ",".join(f"{k}={_compact(v)}" for k, v in params.items())
    name = f"{task}[{label}]" if label else task

    def build(picks: list[int]) -> Dataset:
        examples: list[Example] = []
        entries: dict[str, dict[str, Any]] = {}
        for index in picks:
            entry: dict[str, Any] = task_data[index]
            metadata = dict(entry.get("metadata") or {})
            difficulty = metadata.get("difficulty")
            example = Example(
                id=f"{name}-{index}",
                question=str(entry["question"]),
                gold="" if entry.get("answer") is None else str(entry["answer"]),
                human_difficulty=(
                    ",".join(f"{k}={_compact(v)}" for k, v in difficulty.items())
                    if isinstance(difficulty, dict) and difficulty
                    else None
                ),
                metadata=metadata,
            )
            examples.append(example)
            entries[example.id] = entry
        return _GymDataset(name, examples, score=task_data.score_answer, entries=entries, spec=spec)

    return Source(count=size, build=build)


def _create(spec: str, task: str, size: int, settings: dict[str, Any]) -> Any:
    """reasoning-gym's data set of `task`, its errors turned into `ConfigurationError`s."""
    try:
        gym = importlib.import_module("reasoning_gym")
        registry: dict[str, Any] = importlib.import_module("reasoning_gym.factory").DATASETS
    except ImportError:
        raise ConfigurationError(
            f"{spec!r} needs reasoning-gym; install it with {_INSTALL_HINT}"
        ) from None
    if task not in registry:
        raise ConfigurationError(
            f"unknown reasoning-gym task {task!r}; did you mean "
            f"{', '.join(closest_tasks(task, registry))}? ({len(registry)} tasks)"
        )
    config_cls = registry[task][1]
    accepted = [f.name for f in fields(config_cls)] if is_dataclass(config_cls) else []
    try:
        return gym.create_dataset(task, size=size, **settings)
    except TypeError as exc:
        raise ConfigurationError(
            f"{spec!r}: {exc}; {task} accepts {', '.join(a for a in accepted if a != 'size')}"
        ) from None
    except (AssertionError, ValueError) as exc:
        raise ConfigurationError(f"{spec!r}: invalid {task} settings: {exc}") from None


def closest_tasks(task: str, names: Iterable[str], *, count: int = 5) -> list[str]:
    """The `count` task names nearest `task`: close spellings, then names sharing a word
    (`maze_solver` -> `maze`), then the most similar of the rest (difflib's ratio).

    Example:
        ```python
        closest_tasks("basic_arithmetc", DATASETS)[0]  # "basic_arithmetic"
        ```
    """
    names = sorted(names)
    words = {word for word in re.split(r"[^a-z0-9]+", task.lower()) if len(word) >= 3}
    sharing = [name for name in names if words & set(name.split("_"))]
    close = difflib.get_close_matches(task, names, n=count)
    similar = difflib.get_close_matches(task, names, n=count, cutoff=0.0)
    return list(dict.fromkeys([*close, *sharing, *similar]))[:count]


def _compact(value: Any) -> str:
    """A param or difficulty value for a name: a `(low, high)` range as `low..high`."""
    if isinstance(value, (tuple, list)):
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if len(value) == 2 and numbers:  # a (low, high) range
            return str(value[0]) if value[0] == value[1] else f"{value[0]}..{value[1]}"
        return ",".join(_compact(v) for v in value)
    return str(value)
