"""Tests of benchmark data sets: specs, slices, grading and errors (`bench.datasets`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from reasoning_graph.bench.datasets import Dataset, Example, MathDataset, load_dataset
from reasoning_graph.errors import ConfigurationError


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gsm8k(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "test.jsonl",
        [
            {"question": "Ann has 3 apples and buys 4. How many?", "answer": "3 + 4 = 7\n#### 7"},
            {"question": "A car costs $1,200 twice.", "answer": "2 * 1200\n#### 2,400"},
            {"question": "Half of one?", "answer": "1 / 2\n#### 0.5"},
        ],
    )


@pytest.fixture
def math_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "math500.jsonl",
        [
            {
                "problem": "What is $1 \\div 2$?",
                "answer": "\\frac{1}{2}",
                "level": 2,
                "subject": "Prealgebra",
                "unique_id": "test/prealgebra/1.json",
            },
            {"problem": "Solve $x + 1 = 3$.", "answer": "2", "level": "Level 5"},
        ],
    )


# --- file specs ------------------------------------------------------------------------------


def test_gsm8k_reads_the_final_answer_line(gsm8k: Path) -> None:
    dataset = load_dataset(f"gsm8k:{gsm8k}")
    assert isinstance(dataset, Dataset) and len(dataset) == 3
    assert dataset.name == "gsm8k-test"
    assert [e.gold for e in dataset] == ["7", "2400", "0.5"]  # thousands separator removed
    assert [e.id for e in dataset] == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    assert dataset.examples[0].question.startswith("Ann has 3 apples")
    assert dataset.examples[0].human_difficulty is None


def test_math_keeps_its_ids_levels_and_metadata(math_file: Path) -> None:
    dataset = load_dataset(f"math:{math_file}")
    first, second = dataset.examples
    assert first.id == "test/prealgebra/1.json" and second.id == "math-math500-1"
    assert first.question == "What is $1 \\div 2$?"
    assert (first.human_difficulty, second.human_difficulty) == ("Level 2", "Level 5")
    assert first.metadata == {"subject": "Prealgebra"}


@pytest.mark.parametrize(
    ("predicted", "correct"),
    [("0.5", True), ("1/2", True), ("\\frac{1}{2}", True), ("0.25", False), ("", False)],
)
def test_math_grading_uses_equivalence(math_file: Path, predicted: str, correct: bool) -> None:
    dataset = load_dataset(f"math:{math_file}")
    assert dataset.grade(dataset.examples[0], predicted) is correct


def test_a_missing_answer_is_wrong(gsm8k: Path) -> None:
    dataset = load_dataset(f"gsm8k:{gsm8k}")
    assert dataset.grade(dataset.examples[2], "1/2")
    assert dataset.grade(dataset.examples[1], "2,400")
    assert not dataset.grade(dataset.examples[2], None)


def test_jsonl_reads_the_named_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "quiz.jsonl",
        [
            {"q": "1 + 1?", "a": 2, "key": 17, "hard": "easy"},
            {"q": "2 + 2?", "a": "4", "key": "x"},
        ],
    )
    dataset = load_dataset(f"jsonl:{path}?question=q&answer=a&id=key&difficulty=hard")
    assert dataset.name == "quiz"
    assert [(e.id, e.question, e.gold) for e in dataset] == [
        ("17", "1 + 1?", "2"),
        ("x", "2 + 2?", "4"),
    ]
    assert [e.human_difficulty for e in dataset] == ["easy", None]
    assert dataset.grade(dataset.examples[0], "2.0")
    plain = load_dataset(f"jsonl:{path}?question=q&answer=a")
    assert [e.id for e in plain] == ["quiz-0", "quiz-1"]


def test_math_dataset_can_be_built_by_hand() -> None:
    dataset = MathDataset("toy", [Example(id="t-0", question="1/2 + 0?", gold="1/2")])
    assert dataset.spec == "toy"
    assert dataset.grade(dataset.examples[0], "0.5")
    assert repr(dataset) == "MathDataset(name='toy', examples=1)"


# --- slices ----------------------------------------------------------------------------------


def test_limit_and_offset_keep_file_order(gsm8k: Path) -> None:
    dataset = load_dataset(f"gsm8k:{gsm8k}", limit=1, offset=1)
    assert [e.id for e in dataset] == ["gsm8k-test-1"]
    assert len(load_dataset(f"gsm8k:{gsm8k}", limit=10)) == 3


def test_shuffle_is_deterministic_by_seed(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"q": f"{i}?", "a": i} for i in range(20)])
    spec = f"jsonl:{path}?question=q&answer=a"
    ids = [e.id for e in load_dataset(spec, shuffle=True, seed=3, limit=5)]
    assert ids == [e.id for e in load_dataset(spec, shuffle=True, seed=3, limit=5)]
    assert ids != [f"n-{i}" for i in range(5)]
    assert ids != [e.id for e in load_dataset(spec, shuffle=True, seed=4, limit=5)]


# --- reasoning-gym ---------------------------------------------------------------------------


def test_gym_task_with_its_own_difficulty_settings() -> None:
    dataset = load_dataset("gym:basic_arithmetic?size=5&seed=1&min_terms=2&max_terms=3")
    assert len(dataset) == 5
    assert dataset.name == "basic_arithmetic[seed=1,min_terms=2,max_terms=3]"
    example = dataset.examples[0]
    assert example.id == f"{dataset.name}-0"
    assert example.human_difficulty == "num_terms=2..3,num_digits=1..4"
    assert example.metadata["source_dataset"] == "basic_arithmetic"
    assert 2 <= example.metadata["num_terms"] <= 3
    assert all(dataset.grade(e, e.gold) for e in dataset)
    assert [e.gold for e in dataset] == [
        e.gold for e in load_dataset("gym:basic_arithmetic?size=5&seed=1&min_terms=2&max_terms=3")
    ]


def test_gym_grading_needs_a_full_score() -> None:
    dataset = load_dataset("gym:basic_arithmetic?size=5&seed=1")
    example = next(e for e in dataset if e.gold.lstrip("-").isdigit())
    assert dataset.grade(example, example.gold)
    for near_miss in (f"{example.gold}.0", f" {example.gold}", f"{example.gold} apples"):
        assert not dataset.grade(example, near_miss)  # partial credit (0 < score < 1)
    assert not dataset.grade(example, None)
    # An example rebuilt from its fields (e.g. from a record) grades the same way.
    assert dataset.grade(Example(**example.model_dump()), example.gold)


def test_a_mix_of_settings_interleaves_its_parts() -> None:
    spec = (
        "gym:basic_arithmetic?size=5&max_terms=2"
        "+gym:basic_arithmetic?size=5&min_terms=4&max_terms=6&operators=+,-"
    )
    mix = load_dataset(spec)
    assert len(mix) == 10 and mix.spec == spec
    easy, hard = (
        "basic_arithmetic[max_terms=2]",
        "basic_arithmetic[min_terms=4,max_terms=6,operators=+,-]",
    )
    assert mix.name == f"{easy}+{hard}"
    assert [e.id for e in mix.examples[:4]] == [f"{easy}-0", f"{hard}-0", f"{easy}-1", f"{hard}-1"]
    assert {e.human_difficulty for e in mix} == {
        "num_terms=2,num_digits=1..4",
        "num_terms=4..6,num_digits=1..4",
    }
    assert all("*" not in e.question for e in mix.examples[1::2])  # operators=+,- reached it
    assert all(mix.grade(e, e.gold) for e in mix)
    assert not mix.grade(mix.examples[1], None)
    assert len(load_dataset(spec, limit=4)) == 4


def test_a_mix_can_join_file_and_gym_specs(gsm8k: Path) -> None:
    mix = load_dataset(f"gsm8k:{gsm8k}+gym:chain_sum?size=5", limit=4)
    assert [e.id for e in mix] == ["gsm8k-test-0", "chain_sum-0", "gsm8k-test-1", "chain_sum-1"]
    assert mix.grade(mix.examples[0], "7.0")  # math-verify for the gsm8k part
    chain = mix.examples[1]  # the task's own scorer: numeric for chain_sum, partial credit
    assert mix.grade(chain, f"{chain.gold}.0")
    assert not mix.grade(chain, f"{chain.gold} apples")


def test_gym_mix_shorthand() -> None:
    mix = load_dataset("gym-mix:chain_sum,leg_counting?size_each=3&seed=2")
    assert len(mix) == 6
    assert [e.id for e in mix][:2] == ["chain_sum[seed=2]-0", "leg_counting[seed=2]-0"]


# --- errors ----------------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such data file: .*nope.jsonl"):
        load_dataset(f"gsm8k:{tmp_path / 'nope.jsonl'}")


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "a", "answer": "#### 1"}\n\n{"question": "b", "answer"\n')
    with pytest.raises(ConfigurationError, match="line 3 of .*bad.jsonl is not valid JSON"):
        load_dataset(f"gsm8k:{path}")
    path.write_text("[1, 2]\n")
    with pytest.raises(ConfigurationError, match="line 1 .* is a JSON list, not an object"):
        load_dataset(f"gsm8k:{path}")


def test_missing_fields_are_named_with_the_fields_present(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"problem": "a?", "answer": "1"}, {"problem": "b?"}])
    with pytest.raises(ConfigurationError, match="line 2 .* no field 'answer' .*fields: problem"):
        load_dataset(f"math:{path}")
    with pytest.raises(ConfigurationError, match="no field 'question' .*fields: problem, answer"):
        load_dataset(f"gsm8k:{path}")
    with pytest.raises(ConfigurationError, match=r"question=FIELD&answer=FIELD"):
        load_dataset(f"jsonl:{path}?question=problem")
    with pytest.raises(ConfigurationError, match=r"unknown: level"):
        load_dataset(f"jsonl:{path}?question=problem&answer=answer&level=x")


def test_gsm8k_needs_its_final_answer_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "a?", "answer": "it is 4"}])
    with pytest.raises(ConfigurationError, match="line 1 .* no final '#### N' line"):
        load_dataset(f"gsm8k:{path}")


@pytest.mark.parametrize("spec", ["squad:data.jsonl", "data.jsonl", "gym:", "hf:gsm8k"])
def test_an_unknown_spec_prefix(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown data set spec .* accepted: gsm8k:PATH"):
        load_dataset(spec)


def test_an_unknown_gym_task_lists_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match="did you mean basic_arithmetic"):
        load_dataset("gym:basic_arithmetc?size=5")


def test_bad_gym_settings() -> None:
    with pytest.raises(ConfigurationError, match="'terms'.* accepts min_terms, max_terms"):
        load_dataset("gym:basic_arithmetic?size=5&terms=3")
    with pytest.raises(ConfigurationError, match="max_terms must be >= min_terms"):
        load_dataset("gym:basic_arithmetic?size=5&min_terms=4&max_terms=2")
    with pytest.raises(ConfigurationError, match="size must be a positive integer"):
        load_dataset("gym:basic_arithmetic?size=many")
    with pytest.raises(ConfigurationError, match="holds example id .* twice"):
        load_dataset("gym:chain_sum?size=2+gym:chain_sum?size=2")


def test_gym_without_reasoning_gym_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'reasoning-graph\[bench\]'"):
        load_dataset("gym:basic_arithmetic?size=5")


def test_bad_slices(gsm8k: Path) -> None:
    with pytest.raises(ConfigurationError, match="non-negative"):
        load_dataset(f"gsm8k:{gsm8k}", limit=-1)
    with pytest.raises(ConfigurationError, match="offset 5 selects nothing from the 3"):
        load_dataset(f"gsm8k:{gsm8k}", offset=5)
    empty = write_jsonl(gsm8k.parent / "empty.jsonl", [])
    with pytest.raises(ConfigurationError, match="holds no examples"):
        load_dataset(f"gsm8k:{empty}")


def test_an_unknown_gym_task_suggests_the_closest_names() -> None:
    with pytest.raises(ConfigurationError, match="did you mean maze, ") as raised:
        load_dataset("gym:maze_solver?size=5")
    assert "ab, acre" not in str(raised.value)  # not the first five alphabetically


def test_closest_tasks_ranks_spellings_then_shared_words_then_similarity() -> None:
    from reasoning_graph.bench.gym import closest_tasks

    names = ["ab", "acre", "basic_arithmetic", "chain_sum", "maze", "count_bits", "countdown"]
    assert closest_tasks("basic_arithmetc", names)[0] == "basic_arithmetic"
    assert closest_tasks("maze_solver", names, count=1) == ["maze"]
    assert closest_tasks("count", names, count=2) == ["countdown", "count_bits"]
    assert len(closest_tasks("zzz", names)) == 5  # always five suggestions


def test_the_sources_and_the_loader_import_no_cycle() -> None:
    import ast
    import inspect

    import reasoning_graph.bench.base as base
    import reasoning_graph.bench.gym as gym

    def imports(module: object) -> set[str]:
        tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
        return {
            node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reasoning")
        }

    assert "reasoning_graph.bench.datasets" not in imports(gym) | imports(base)
