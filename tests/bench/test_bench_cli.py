"""`reasoning-graph bench`, `report` and `calibrate` against a local OpenAI-compatible stub."""

from __future__ import annotations

import json
import re

import pytest

from reasoning_graph.bench.runner import RESULTS_FILE, load_records, record_key
from reasoning_graph.cli import main
from reasoning_graph.policy import load_policy
from reasoning_graph.testing import OpenAIStubServer

QUESTIONS = [("What is 2 + 3?", "5"), ("What is 4 + 4?", "8"), ("What is 1 + 6?", "7")]
PNGS = ("accuracy_vs_tokens.png", "accuracy_by_difficulty.png")


def reply(body, index):
    """Right answers, except every third sample (by seed) of a question that is off by one."""
    text = body["messages"][-1]["content"]
    if "Answer Yes or No" in text:
        return "Yes"
    a, b = map(int, re.search(r"(\d+) \+ (\d+)", text).groups())
    sample = body.get("seed", 0) + index
    total = a + b + (1 if sample % 3 == 2 else 0)
    return f"{a} plus {b} is {total}. The answer is {total}."


@pytest.fixture
def server():
    with OpenAIStubServer(reply) as stub:
        yield stub


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps({"q": q, "a": a}) + "\n" for q, a in QUESTIONS))
    return f"jsonl:{path}?question=q&answer=a"


def run_cli(argv, capsys):
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def bench_argv(data, out, server=None, *extra):
    argv = ["bench", "--data", data, "--strategies", "self_consistency,weighted_vote"]
    argv += ["--n", "1,2,4", "--out", out, "--quiet", *extra]
    if server is not None:
        argv += ["--provider", "openai", "--model", "stub", "--base-url", server.base_url]
    return argv


def numbers(out):
    """summary.json without the wall-clock seconds, which differ between runs, and the mean
    requests, which a replay does not send (its samples are calls, not requests)."""
    summary = json.loads((out / "summary.json").read_text())
    for row in summary["rows"]:
        row.pop("wall_seconds")
        row.pop("mean_requests")
    return summary


def test_bench_writes_results_summary_and_plots(tmp_path, data, server, capsys):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(bench_argv(data, out, server), capsys)

    assert code == 0, stderr
    records = load_records(out)
    assert len(records) == 3 * 2 * 3 and all(r.error is None for r in records)
    assert len((out / RESULTS_FILE).read_text().splitlines()) == 18
    assert "| self_consistency | 4 | - | 3 | 100.0% |" in stdout
    assert stdout == (out / "summary.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["strategy"], r["n"]) for r in summary["rows"]][:3] == [
        ("self_consistency", 1),
        ("self_consistency", 2),
        ("self_consistency", 4),
    ]
    for name in PNGS:
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert (out / name).stat().st_size > 5_000

    # Run again: every run is recorded, so the server hears nothing.
    server.reset()
    code, again, _ = run_cli(bench_argv(data, out, server), capsys)
    assert code == 0 and server.requests == []
    assert again == stdout


def test_replay_reproduces_the_recorded_numbers_without_a_server(tmp_path, data, server, capsys):
    cache = tmp_path / "cache.sqlite"
    code, _, stderr = run_cli(bench_argv(data, tmp_path / "live", server, "--cache", cache), capsys)
    assert code == 0, stderr
    sent = len(server.requests)
    assert sent

    server.reset()
    code, _, stderr = run_cli(
        bench_argv(data, tmp_path / "replay", None, "--replay", cache), capsys
    )
    assert code == 0, stderr
    assert server.requests == []
    assert numbers(tmp_path / "replay") == numbers(tmp_path / "live")
    live, replayed = (
        sorted(load_records(tmp_path / name), key=record_key) for name in ("live", "replay")
    )
    assert [r.model_dump(exclude={"seconds", "requests"}) for r in replayed] == [
        r.model_dump(exclude={"seconds", "requests"}) for r in live
    ]
    # the live run's records count the requests it sent (later strategies hit the cache)
    assert sum(r.requests or 0 for r in live) == sent
    assert all(r.requests == 0 for r in replayed)


def test_report_rewrites_summary_and_plots(tmp_path, data, server, capsys):
    out = tmp_path / "run"
    assert run_cli(bench_argv(data, out, server), capsys)[0] == 0
    written = (out / "summary.md").read_text()
    for name in ("summary.md", "summary.json", *PNGS):
        (out / name).unlink()

    code, stdout, _ = run_cli(["report", out], capsys)

    assert code == 0 and stdout == written == (out / "summary.md").read_text()
    assert all((out / name).exists() for name in ("summary.json", *PNGS))


def test_calibrate_writes_a_policy_and_prints_its_table(
    tmp_path, data, server, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "run"
    assert run_cli(bench_argv(data, out, server), capsys)[0] == 0

    policy_path = tmp_path / "policy.json"
    code, stdout, stderr = run_cli(
        [
            "calibrate",
            out / RESULTS_FILE,
            "--out",
            policy_path,
            "--probe-n",
            "2",
            "--budgets",
            "2,4",
        ],
        capsys,
    )

    assert code == 0, stderr
    policy = load_policy(policy_path)
    assert policy.model == "stub" and policy.probe_n == 2
    assert {budget for plans in policy.plans.values() for budget in plans} == {"2", "4"}
    assert "budget 2" in stdout and "budget 4" in stdout
    assert re.search(r"(self_consistency|weighted_vote) x[24]", stdout)

    # The fitted policy drives compute_optimal in a later bench.
    argv = bench_argv(data, tmp_path / "optimal", server, "--policy", policy_path)
    argv[argv.index("self_consistency,weighted_vote")] = "compute_optimal"
    argv[argv.index("1,2,4")] = "4"
    code, _, stderr = run_cli(argv, capsys)
    assert code == 0, stderr
    records = load_records(tmp_path / "optimal")
    chosen = {(c.strategy, c.n) for plans in policy.plans.values() for c in plans.values()}
    assert len(records) == 3
    for record in records:
        assert record.strategy == "compute_optimal" and record.error is None
        assert record.plan is not None and (record.plan["base"], record.plan["n"]) in chosen


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--strategies", "self_consistency,beam"], "unknown strategy 'beam'"),
        (["--n", "1,two"], "expected integers separated by commas"),
        (["--n", "2,0"], "n: Input should be greater than or equal to 1"),
        (["--concurrency", "0"], "concurrency must be at least 1"),
        (["--max-tokens", "0"], "max_tokens"),
        (
            ["--policy", "/no/such/policy.json", "--strategies", "compute_optimal"],
            "cannot read policy file /no/such/policy.json",
        ),
        (["--policy", "policy.json"], "--policy is read by the compute_optimal strategy only"),
        (["--replay", "/no/such/cache.sqlite"], "no cache to replay"),
        (["--cache", "a.sqlite", "--replay", "b.sqlite"], "not allowed with argument"),
        (["--provider", "openai"], "needs a model name"),
    ],
)
def test_bad_bench_input_is_one_line_and_exit_2(tmp_path, data, capsys, argv, expected):
    code, out, err = run_cli(bench_argv(data, tmp_path / "run", None, *argv), capsys)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["bench", "--out", "x"], "the following arguments are required: --data"),
        (["bench", "--data", "nope:x", "--out", "x"], "unknown data set spec 'nope:x'"),
        (["bench", "--data", "gsm8k:/no/such.jsonl", "--out", "x"], "no such data file"),
        (["report", "/no/such/dir"], "cannot read bench results"),
        (["calibrate", "/no/such.jsonl", "--out", "p.json"], "cannot read bench results"),
        (["calibrate", "r.jsonl"], "the following arguments are required: --out"),
        (["calibrate", "r.jsonl", "--out", "p.json", "--budgets", "2,x"], "integers"),
        (["calibrate", "r.jsonl", "--out", "p.json", "--probe-n", "0"], "at least 1"),
    ],
)
def test_bad_report_and_calibrate_input_is_one_line_and_exit_2(capsys, argv, expected):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert out == ""


@pytest.mark.parametrize(
    "option", [["--base-url", "http://x/v1"], ["--extra-body", '{"repeat_penalty": 1.0}']]
)
def test_replay_refuses_provider_options(tmp_path, data, capsys, option):
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"")
    argv = bench_argv(data, tmp_path / "run", None, "--replay", cache, *option)
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "--replay serves recorded samples" in err


def test_unreachable_server_stops_the_bench_with_one_line(tmp_path, data, capsys, unused_tcp_port):
    base_url = f"http://127.0.0.1:{unused_tcp_port}/v1"
    argv = bench_argv(data, tmp_path / "run", None, "--concurrency", "1")
    argv += ["--provider", "openai", "--model", "m", "--base-url", base_url]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert base_url in err and len(err.strip().splitlines()) == 1
    assert len(load_records(tmp_path / "run")) == 1  # the failed run is kept, and retried later


def test_bench_with_the_oracle_verifier(tmp_path, capsys):
    data = tmp_path / "toy.jsonl"
    data.write_text('{"question": "1+1?", "answer": "2"}\n')

    def reply(request, index):
        return "The answer is 2." if (request.get("seed", 0) + index) % 3 == 0 else "It is 5."

    with OpenAIStubServer(reply=reply) as server:
        code = main(
            [
                "bench",
                "--data",
                f"jsonl:{data}?question=question&answer=answer",
                "--strategies",
                "best_of_n",
                "--n",
                "3",
                "--out",
                str(tmp_path / "out"),
                "--provider",
                "openai",
                "--base-url",
                server.base_url,
                "--model",
                "m",
                "--verifier",
                "oracle",
                "--quiet",
            ]
        )
    assert code == 0
    record = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[0])
    assert record["correct"] is True
    assert sorted(c["score"] for c in record["candidates"]) == [0.0, 0.0, 1.0]
