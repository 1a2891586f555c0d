"""The `--server` helpers of benchmarks/confidence_frontier.py (no model, no server)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import _frontier_server as server  # noqa: E402
from _llama_server import ServerSpec, llama_server, server_command  # noqa: E402

from reasoning_graph.bench.records import BenchCandidate, BenchRecord  # noqa: E402
from reasoning_graph.providers.base import Completion, TokenLogprob  # noqa: E402


def test_server_command_pins_one_cpu_one_thread_and_keeps_streams_whole() -> None:
    command = server_command(ServerSpec(python="py", port=8791, cpu=1), Path("m.gguf"))
    assert command[:4] == ["taskset", "-c", "1", "py"]
    options = dict(zip(command[6::2], command[7::2], strict=True))
    assert command[4:6] == ["-m", "llama_cpp.server"]
    assert options == {
        "--model": "m.gguf",
        "--n_threads": "1",
        "--port": "8791",
        "--logits_all": "True",
        "--n_ctx": "2048",
        "--interrupt_requests": "False",
    }
    unpinned = server_command(ServerSpec(python="py", port=1, cpu=None, threads=2), Path("m"))
    assert unpinned[0] == "py" and unpinned[unpinned.index("--n_threads") + 1] == "2"


def test_a_server_that_exits_fails_fast_and_says_what_to_install(tmp_path: Path) -> None:
    """`/bin/false` stands in for an interpreter without the server's extras: it exits at
    once, so the wait ends there (not after `wait_s`) with the install hint."""
    spec = ServerSpec(python="/bin/false", port=1, cpu=None, model=tmp_path / "m.gguf")
    with pytest.raises(SystemExit, match=r"llama-cpp-python\[server\]"):  # noqa: PT012
        with llama_server(spec, log=tmp_path / "server.log", wait_s=60):
            pytest.fail("the block must not run")


def test_steps_cover_the_size_in_whole_steps() -> None:
    assert server.steps(20, 5) == [5, 10, 15, 20]
    assert server.steps(12, 5) == [5, 10, 12]
    assert server.steps(3, 5) == [3]
    with pytest.raises(ValueError, match="at least 1"):
        server.steps(0, 5)


def _completion(tokens: list[tuple[str, float]]) -> Completion:
    return Completion(
        text="".join(t for t, _ in tokens),
        finish_reason="stop",
        completion_tokens=len(tokens),
        logprobs=[TokenLogprob(token=t, logprob=lp, top_logprobs={}) for t, lp in tokens],
        seed=0,
    )


def test_match_samples_finds_where_the_paths_part() -> None:
    embedded = {
        ("r", 0): _completion([("a", -0.1), ("b", -0.2)]),
        ("r", 1): _completion([("a", -0.1), ("b", -0.2), ("c", -0.3)]),
        ("s", 0): _completion([("x", -1.0)]),
    }
    served = {
        ("r", 0): _completion([("a", -0.1), ("b", -0.2)]),  # identical
        ("r", 1): _completion([("a", -0.1), ("d", -0.5), ("c", -0.3)]),  # parts at token 1
        ("t", 0): _completion([("y", -1.0)]),  # no embedded twin: not compared
    }
    found = server.match_samples(embedded, served)
    assert (found.compared, found.same_text) == (2, 1)
    assert found.first_divergence == [1]
    assert found.same_tokens_to_divergence == 2
    assert found.max_logprob_diff == 0.0
    served[("r", 0)] = _completion([("a", -0.1), ("b", -0.25)])
    shifted = server.match_samples(embedded, served)
    assert shifted.max_logprob_diff == pytest.approx(0.05)
    assert shifted.same_tokens_to_divergence == 1


def _record(example_id: str, correct: bool, tokens: int, n: int = 16) -> BenchRecord:
    return BenchRecord.model_validate(
        {
            "dataset": "d",
            "example_id": example_id,
            "question": example_id,
            "gold": "1",
            "strategy": "self_consistency",
            "n": n,
            "answer": "1" if correct else "2",
            "correct": correct,
            "prompt_tokens": 0,
            "completion_tokens": tokens,
            "llm_calls": n,
            "seconds": 0.0,
            "candidates": [],
        }
    )


def test_match_live_counts_per_question_agreement() -> None:
    live = [_record("q1", True, 100), _record("q2", False, 80), _record("q3", True, 50)]
    simulated = {"q1": (True, 100), "q2": (True, 80), "q3": (True, 60)}
    found = server.match_live(live, lambda r: simulated[r.example_id])
    assert (found.questions, found.same_tokens, found.same_correct) == (3, 2, 2)
    assert found.agree == [True, False, False]
    assert (found.live_correct, found.simulated_correct) == (2, 3)
    assert found.live_tokens == pytest.approx(230 / 3)
    assert found.simulated_tokens == pytest.approx(240 / 3)


def test_discordant_counts_questions_right_on_one_path_only() -> None:
    embedded = [_record("q1", True, 1), _record("q2", True, 1), _record("q3", False, 1),
                _record("q4", True, 1, n=8)]  # fmt: skip
    served = [_record("q1", True, 1), _record("q2", False, 1), _record("q3", True, 1),
              _record("q5", True, 1)]  # fmt: skip
    assert server.discordant(embedded, served, 16) == (1, 1)


def test_log_counts_tells_closed_streams_from_requests_given_up_in_the_queue(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    assert server.log_counts(log) == server.LogCounts(closed=0, abandoned=0)
    address = "Address(host='127.0.0.1', port=1)"
    log.write_text(
        f"disconnected\nDisconnected from client (via refresh/close) {address}\n"
        f"Disconnected from client (via refresh/close) before llm invoked {address}\n"
        f"Disconnected from client (via refresh/close) before llm invoked {address}\n"
    )
    assert server.log_counts(log) == server.LogCounts(closed=1, abandoned=2)


def test_warmup_differs_compares_the_first_samples_by_seed() -> None:
    def sampled(example_id: str, answers: list[str]) -> BenchRecord:
        candidates = [
            BenchCandidate(
                id=f"c{seed}",
                answer=answer,
                score=None,
                seed=seed,
                round=0,
                chain=None,
                completion_tokens=5,
            )  # fmt: skip
            for seed, answer in reversed(list(enumerate(answers)))
        ]
        return _record(example_id, True, 1).model_copy(update={"candidates": candidates})

    pool = {"q1": sampled("q1", ["1", "2", "3"]), "q2": sampled("q2", ["1", "2", "3"])}
    live = [sampled("q1", ["1", "2", "9"]), sampled("q2", ["1", "7", "3"]), sampled("q3", ["1"])]
    assert server.warmup_differs(live, pool, 2) == 1  # q2's seed 1; q1 parts after the warm-up
