"""The bench runner: one record per run, written as it finishes, resumable, failures kept."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from reasoning_graph import ConfigurationError, NoCandidatesError, ReasoningConfig
from reasoning_graph.bench.datasets import load_dataset
from reasoning_graph.bench.runner import (
    MANIFEST_FILE,
    RESULTS_FILE,
    arun_bench,
    load_records,
    record_key,
    run_bench,
)
from reasoning_graph.errors import ProviderUnavailableError
from reasoning_graph.providers.fake import FakeGenerator, FakeVerifier

QUESTIONS = [("What is 2 + 3?", "5"), ("What is 4 + 4?", "8"), ("What is 1 + 6?", "7")]


def write_data(tmp_path, questions=QUESTIONS):
    path = tmp_path / "toy.jsonl"
    lines = [json.dumps({"q": q, "a": a, "id": f"toy-{i}"}) for i, (q, a) in enumerate(questions)]
    path.write_text("\n".join(lines) + "\n")
    return load_dataset(f"jsonl:{path}?question=q&answer=a&id=id")


def solver(wrong=(), fail=()):
    """A script that answers `a + b` right, off by one for questions in `wrong`, and raises
    `ProviderUnavailableError` for questions in `fail`."""

    def script(messages, index):
        question = messages[-1]["content"]
        a, b = map(int, re.search(r"(\d+) \+ (\d+)", question).groups())
        if question in fail:
            raise ProviderUnavailableError("the server went away")
        total = a + b + (1 if question in wrong else 0)
        return f"{a} plus {b} is {total}. The answer is {total}."

    return script


async def bench(tmp_path, dataset, generator, **options):
    options.setdefault("strategies", ["self_consistency", "weighted_vote"])
    options.setdefault("ns", [1, 2])
    options.setdefault("verifier", FakeVerifier({}, default=0.5))
    options.setdefault("progress", False)
    return await arun_bench(dataset, generator=generator, out_dir=tmp_path / "out", **options)


async def test_one_record_per_run_with_its_evidence(tmp_path):
    dataset = write_data(tmp_path)
    generator = FakeGenerator(solver(wrong={"What is 4 + 4?"}))

    records = await bench(tmp_path, dataset, generator)

    assert [(r.example_id, r.strategy, r.n) for r in records] == [
        (f"toy-{i}", strategy, n)
        for i in range(3)
        for strategy in ("self_consistency", "weighted_vote")
        for n in (1, 2)
    ]
    assert [r.correct for r in records] == [r.example_id != "toy-1" for r in records]
    on_disk = load_records(tmp_path / "out" / RESULTS_FILE)
    assert sorted(on_disk, key=record_key) == sorted(records, key=record_key)
    record = next(r for r in records if r.strategy == "weighted_vote" and r.n == 2)
    assert record.dataset == dataset.name and record.gold == "5" and record.answer == "5"
    assert record.plan is not None and record.plan["strategy"] == "weighted_vote"
    assert [(c.seed, c.round, c.score, c.answer) for c in record.candidates] == [
        (0, 0, 0.5, "5"),
        (1, 0, 0.5, "5"),
    ]
    assert record.completion_tokens == sum(c.completion_tokens for c in record.candidates)
    assert record.llm_calls >= 1 and record.prompt_tokens > 0 and record.seconds > 0
    assert record.difficulty_score == 0.25 and record.difficulty_bin is not None
    assert record.error is None
    manifest = json.loads((tmp_path / "out" / MANIFEST_FILE).read_text())
    assert manifest["model"] == "fake" and manifest["ns"] == [1, 2]


async def test_resume_skips_the_runs_already_recorded(tmp_path):
    dataset = write_data(tmp_path)
    first = await bench(tmp_path, dataset, FakeGenerator(solver()))

    again = FakeGenerator(solver())
    resumed = await bench(tmp_path, dataset, again)
    assert again.calls == []
    assert resumed == first

    wider = FakeGenerator(solver())
    grown = await bench(tmp_path, dataset, wider, ns=[1, 2, 3])
    assert sum(call.n for call in wider.calls) == 3 * 2 * 3  # only the n=3 runs are new
    assert len(grown) == 3 * 2 * 3
    assert len(load_records(tmp_path / "out")) == len(grown)


async def test_an_interrupted_run_loses_only_the_unfinished_records(tmp_path):
    dataset = write_data(tmp_path)
    first = await bench(tmp_path, dataset, FakeGenerator(solver()), strategies=["self_consistency"])
    results = tmp_path / "out" / RESULTS_FILE
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:3]) + lines[3][:40])  # killed while writing record 4

    generator = FakeGenerator(solver())
    resumed = await bench(tmp_path, dataset, generator, strategies=["self_consistency"])

    assert sum(call.n for call in generator.calls) == sum(r.n for r in first[3:])
    assert [record_key(r) for r in resumed] == [record_key(r) for r in first]
    assert [record_key(r) for r in load_records(results)] == [record_key(r) for r in first]
    assert len(results.read_text().splitlines()) == len(first)


async def test_a_failed_question_is_recorded_and_the_bench_goes_on(tmp_path):
    dataset = write_data(tmp_path)
    broken = "What is 4 + 4?"
    records = await bench(tmp_path, dataset, FakeGenerator(solver(fail={broken})), concurrency=1)

    failed = [r for r in records if r.question == broken]
    assert len(failed) == 4 and len(records) == 12
    for record in failed:
        assert record.error is not None and record.error.startswith("NoCandidatesError")
        assert "the server went away" in record.error
        assert record.correct is False and record.answer is None and record.candidates == []
    assert all(r.error is None and r.correct for r in records if r.question != broken)

    # Resuming tries the failed runs again, and only those.
    generator = FakeGenerator(solver())
    retried = await bench(tmp_path, dataset, generator)
    assert generator.calls
    assert all(call.messages[-1]["content"] == broken for call in generator.calls)
    assert all(r.error is None for r in retried)
    assert all(r.error is None for r in load_records(tmp_path / "out"))


async def test_fail_fast_when_the_first_runs_all_fail(tmp_path):
    dataset = write_data(tmp_path)
    everything = {q for q, _ in QUESTIONS}
    with pytest.raises(NoCandidatesError, match="the server went away"):
        await bench(tmp_path, dataset, FakeGenerator(solver(fail=everything)), concurrency=2)
    assert len(load_records(tmp_path / "out")) == 2

    records = await bench(
        tmp_path, dataset, FakeGenerator(solver(fail=everything)), fail_fast=False
    )
    assert len(records) == 12 and all(r.error for r in records)


async def test_runs_overlap_up_to_the_concurrency(tmp_path):
    dataset = write_data(tmp_path)
    inner = FakeGenerator(solver())
    in_flight = peak = 0

    class Slow:
        model_name = "slow"

        async def generate(self, messages, **options):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return await inner.generate(messages, **options)

    await bench(tmp_path, dataset, Slow(), strategies=["self_consistency"], concurrency=2)
    assert peak == 2


async def test_bad_settings_fail_before_any_run(tmp_path):
    dataset = write_data(tmp_path)
    generator = FakeGenerator(solver())
    with pytest.raises(ConfigurationError, match="n: Input should be greater"):
        await bench(tmp_path, dataset, generator, ns=[2, 0])
    with pytest.raises(ConfigurationError, match="unknown strategy 'beam'"):
        await bench(tmp_path, dataset, generator, strategies=["beam"])
    with pytest.raises(ConfigurationError, match="concurrency"):
        await bench(tmp_path, dataset, generator, concurrency=0)
    assert generator.calls == []
    assert not (tmp_path / "out" / RESULTS_FILE).exists()


async def test_resuming_with_other_settings_is_refused(tmp_path):
    dataset = write_data(tmp_path)
    await bench(tmp_path, dataset, FakeGenerator(solver()))
    with pytest.raises(ConfigurationError, match="max_tokens changed"):
        await bench(
            tmp_path,
            dataset,
            FakeGenerator(solver()),
            base_config=ReasoningConfig(max_tokens=7),
        )
    with pytest.raises(ConfigurationError, match="model changed"):
        await bench(tmp_path, dataset, FakeGenerator(solver(), model_name="other"))


def test_run_bench_shows_progress_on_stderr(tmp_path, capsys):
    dataset = write_data(tmp_path)
    records = run_bench(
        dataset,
        strategies=["self_consistency"],
        ns=[1],
        generator=FakeGenerator(solver()),
        out_dir=tmp_path / "out",
    )
    captured = capsys.readouterr()
    assert len(records) == 3 and captured.out == ""
    assert "3/3" in captured.err and "100.0%" in captured.err


def test_load_records_names_a_corrupt_line(tmp_path):
    path = tmp_path / RESULTS_FILE
    path.write_text('{"not": "a record"}\n{}\n')
    with pytest.raises(ConfigurationError, match=r"results.jsonl:1 is not a bench record"):
        load_records(path)
    with pytest.raises(ConfigurationError, match="cannot read bench results"):
        load_records(tmp_path / "missing")


async def test_oracle_verifier_grades_against_each_examples_gold(tmp_path):
    from reasoning_graph.bench.datasets import load_dataset
    from reasoning_graph.bench.runner import arun_bench, oracle_verifier
    from reasoning_graph.providers.fake import FakeGenerator

    data = tmp_path / "toy.jsonl"
    data.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": "4"}\n')
    dataset = load_dataset(f"jsonl:{data}?question=question&answer=answer")
    # Two of three samples say 3 (wrong), one says the gold answer: best_of_n with the oracle
    # picks the gold one; the majority would not.
    generator = FakeGenerator(
        lambda messages, index: (
            "The answer is 3."
            if index % 3
            else f"The answer is {2 if '1+1' in messages[-1]['content'] else 4}."
        )
    )
    records = await arun_bench(
        dataset,
        strategies=["best_of_n"],
        ns=[3],
        generator=generator,
        verifier=oracle_verifier(dataset),
        out_dir=tmp_path / "out",
        progress=False,
    )
    assert [r.correct for r in records] == [True, True]
    assert all(sorted(c.score for c in r.candidates) == [0.0, 0.0, 1.0] for r in records)
