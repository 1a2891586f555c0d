"""Bench records for tests of `calibrate` and the prior: one sampling run of a question."""

from __future__ import annotations

from reasoning_graph.bench.records import BenchCandidate, BenchRecord


def sampling_record(
    example_id: str,
    n: int,
    answers: list[str],
    correct: bool,
    tokens: int,
    *,
    question: str = "q",
    dataset: str = "toy",
    strategy: str = "self_consistency",
) -> BenchRecord:
    """A record of `strategy` at `n` whose candidates answered `answers` (the first one is
    the run's answer), `tokens` completion tokens split evenly among them.

    Example:
        ```python
        sampling_record("q1", 2, ["1", "2"], correct=True, tokens=20)
        ```
    """
    return BenchRecord(
        dataset=dataset,
        example_id=example_id,
        question=question,
        gold="1",
        strategy=strategy,
        n=n,
        answer=answers[0],
        correct=correct,
        prompt_tokens=0,
        completion_tokens=tokens,
        llm_calls=n,
        seconds=0.0,
        candidates=[
            BenchCandidate(
                id=f"c{i}",
                answer=answer,
                score=None,
                seed=i,
                round=0,
                chain=None,
                completion_tokens=tokens // n,
            )
            for i, answer in enumerate(answers)
        ],
    )
