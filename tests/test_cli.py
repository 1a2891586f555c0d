"""The CLI's contract: bad input ends with one line on stderr and exit code 2, and a run
against an OpenAI-compatible server prints the answer with the exact usage the server reported.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import openai
import pytest

from reasoning_graph import Result, solve
from reasoning_graph.cli import main
from reasoning_graph.providers import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.verifiers import LLMJudge


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; argparse errors exit through SystemExit."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["solve", ""], "question is empty"),
        (["solve", "   "], "question is empty"),
        (["solve", "2+2?", "--strategy", "beam"], "invalid choice: 'beam'"),
        (["solve", "2+2?", "--n", "0"], "n: Input should be greater than or equal to 1"),
        (["solve", "2+2?", "--n", "many"], "invalid int value"),
        (["solve", "2+2?", "--budget-tokens", "10"], "cannot pay for one generation"),
        (["solve", "2+2?", "--budget-tokens", "0"], "budget_tokens"),
        (["solve", "2+2?", "--provider", "nope"], "invalid choice: 'nope'"),
        (["solve", "2+2?", "--provider", "openai"], "needs a model name"),
        (["solve", "2+2?", "--model", "/no/such/model.gguf"], "/no/such/model.gguf"),
        (["solve", "2+2?", "--provider", "llamacpp", "--base-url", "http://x/v1"], "--base-url"),
        (["solve", "2+2?", "--extra-body", "{"], "--extra-body: not JSON"),
        (["solve", "2+2?", "--extra-body", "[1]"], "expected a JSON object"),
        (["solve", "2+2?", "--extra-body", '{"top_k": 20}'], "--extra-body is for --provider"),
        (
            [
                "solve",
                "2+2?",
                "--model",
                "m",
                "--base-url",
                "http://x/v1",
                "--extra-body",
                '{"n": 2}',
            ],
            "extra_body sets 'n', which the provider sets itself",
        ),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert out == ""


def test_unreachable_server_is_one_line_and_exit_2(capsys, unused_tcp_port):
    base_url = f"http://127.0.0.1:{unused_tcp_port}/v1"
    argv = ["solve", "2+2?", "--provider", "openai", "--model", "m", "--base-url", base_url]
    code, _, err = run_cli([*argv, "--quiet"], capsys)
    assert code == 2
    assert base_url in err and "Connection" in err
    assert len(err.strip().splitlines()) == 1


def test_entry_point_prints_no_traceback():
    completed = subprocess.run(
        [sys.executable, "-m", "reasoning_graph", "solve", "2+2?", "--n", "-3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("reasoning-graph: error:")
    assert "Traceback" not in completed.stderr


# -- the "done when": a real subprocess against a local OpenAI-compatible server --

QUESTION = "What is 17 + 25?"
RIGHT = "17 + 25 = 42. The answer is 42."
WRONG = {1: "17 + 25 = 41. The answer is 41.", 4: "The answer is 43.", 6: "I think it is 32."}


def scripted_reply(request: Mapping[str, Any], choice_index: int) -> str:
    """Sample `seed + choice_index` of 0..7: five say 42, samples 1, 4 and 6 say otherwise."""
    sample = request.get("seed", 0) + choice_index
    return WRONG.get(sample % 8, RIGHT)


@pytest.fixture(params=[True, False], ids=["server-honours-n", "server-ignores-n"])
def stub(request: pytest.FixtureRequest) -> Iterator[tuple[OpenAIStubServer, bool]]:
    """The stub server, and whether it honours `n` (as vLLM does) or not (as Ollama)."""
    with OpenAIStubServer(scripted_reply, honour_n=request.param) as server:
        yield server, request.param


def run_entry_point(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m reasoning_graph` with no OpenAI key or base URL in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "reasoning_graph", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_self_consistency_against_a_stub_server_json(
    stub: tuple[OpenAIStubServer, bool],
) -> None:
    server, honours_n = stub
    argv = ["solve", QUESTION, "--provider", "openai", "--base-url", server.base_url]
    argv += ["--model", "m", "--strategy", "self_consistency", "--n", "8", "--json"]

    completed = run_entry_point(argv)

    assert completed.returncode == 0, completed.stderr
    [line] = completed.stdout.splitlines()  # one JSON object, nothing else on stdout
    result = json.loads(line)
    assert result["answer"] == "42"
    assert result["strategy"] == "self_consistency"
    assert "difficulty" in result
    responses = server.responses
    keys = ("prompt_tokens", "completion_tokens", "llm_calls", "requests")
    assert {k: result["usage"][k] for k in keys} == {
        "prompt_tokens": sum(r["usage"]["prompt_tokens"] for r in responses),
        "completion_tokens": sum(r["usage"]["completion_tokens"] for r in responses),
        "llm_calls": 8,  # one per sample, in one response or eight
        "requests": len(responses),
    }
    assert len(result["candidates"]) == 8
    assert all({"answer", "score"} <= candidate.keys() for candidate in result["candidates"])
    assert sorted(c["answer"] for c in result["candidates"]) == sorted(
        ["42"] * 5 + ["41", "43", "32"]
    )
    requests = server.requests
    assert all(r["model"] == "m" for r in requests)
    if honours_n:  # one request for all eight samples
        assert [(r.get("n"), r.get("seed")) for r in requests] == [(8, 0)]
        assert len(responses) == 1
    else:  # one choice came back: the provider fell back to seeded one-sample requests
        assert (requests[0].get("n"), requests[0].get("seed")) == (8, 0)
        assert sorted((r.get("n"), r["seed"]) for r in requests[1:]) == [
            (None, seed) for seed in range(1, 8)
        ]
        assert len(responses) == 8


def test_human_output_against_a_stub_server() -> None:
    with OpenAIStubServer(scripted_reply) as server:
        argv = ["solve", QUESTION, "--provider", "openai", "--base-url", server.base_url]
        completed = run_entry_point([*argv, "--model", "m", "--n", "8", "--quiet"])

    assert completed.returncode == 0, completed.stderr
    assert "Answer: 42" in completed.stdout
    assert "{" not in completed.stdout  # not JSON
    assert "Traceback" not in completed.stderr


# -- found while writing the tests above (a `solve` bug; belongs in a tests/test_solve.py) --


def solve_with_a_separate_judge_model(server: OpenAIStubServer) -> Result:
    """Solve with an `LLMJudge` over its own `OpenAIProvider` (not the generator)."""
    generator = OpenAIProvider("solver", base_url=server.base_url)
    judge = LLMJudge(OpenAIProvider("judge", base_url=server.base_url))
    return solve(QUESTION, generator=generator, verifier=judge, strategy="weighted_vote", n=2)


def test_solve_closes_the_client_of_a_separate_judge_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients: list[openai.AsyncOpenAI] = []

    class RecordingClient(openai.AsyncOpenAI):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            clients.append(self)

    monkeypatch.setattr(openai, "AsyncOpenAI", RecordingClient)
    try:
        with OpenAIStubServer() as server:
            result = solve_with_a_separate_judge_model(server)
        assert result.answer == "42"
        assert len(clients) == 2  # one per provider, both on solve's event loop
        assert [client.is_closed() for client in clients] == [True, True]
    finally:  # free the leaked sockets here, quietly, not in whichever test runs next
        clients.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


# -- issue 9 item 4: what a user meets first ------------------------------------------------


def stub_argv(server: OpenAIStubServer, *extra: str) -> list[str]:
    return ["solve", *extra, "--provider", "openai", "--model", "m", "--base-url", server.base_url]


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("reasoning-graph ") and out.split()[1][0].isdigit()


@pytest.mark.parametrize("command", ["solve", "bench", "calibrate", "report"])
def test_help_shows_every_options_default(command, capsys):
    from reasoning_graph.cli.parser import build_parser

    subparsers = next(
        a
        for a in build_parser()._actions
        if a.dest == "command"  # argparse's own
    )
    parser = subparsers.choices[command]  # type: ignore[attr-defined]
    undocumented = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and action.help != "show this help message and exit"
        and not action.required
        and "default" not in (action.help or "")
    ]
    assert undocumented == []
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and "(default: " in out
    if command == "solve":
        assert "sampling temperature (default: 0.7)" in " ".join(out.split())
        assert "--seed SEED base seed" in " ".join(out.split())


def test_every_config_field_has_one_flag():
    from reasoning_graph.cli.flags import CONFIG_FLAGS
    from reasoning_graph.config import ReasoningConfig

    fields = [row.field for row in CONFIG_FLAGS]
    assert len(fields) == len(set(fields))
    assert set(fields) | {"review"} == set(ReasoningConfig.model_fields)


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_question_from_stdin_or_a_file(source, tmp_path, monkeypatch, capsys):
    import io

    question = ("What is 17 + 25? " * 9000).encode() + b"\x00\xff"  # > 128 KiB, NUL, not UTF-8
    assert len(question) > 128 * 1024
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(question)))
        where = ["-"]
    else:
        path = tmp_path / "question.txt"
        path.write_bytes(b"\xef\xbb\xbf" + question)  # with a byte-order mark
        where = ["--question-file", str(path)]
    with OpenAIStubServer(scripted_reply) as server:
        code, out, err = run_cli(
            [*stub_argv(server, *where), "--n", "2", "--json", "--max-question-chars", "200000"],
            capsys,
        )
        sent = server.requests[0]["messages"][-1]["content"]
    assert code == 0, err
    assert json.loads(out)["question"].endswith("What is 17 + 25? \ufffd")  # NUL dropped
    assert "What is 17 + 25? " * 9000 in sent and "\x00" not in sent


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["solve"], "no question: give it as an argument, '-' to read standard input"),
        (["solve", "--question-file", "/no/such/file.txt"], "cannot read the question from"),
        (["solve", "2+2?", "--question-file", "q.txt"], "not allowed with argument"),
        (["solve", "2+2?", "--policy", "p.json"], "--policy is read by --strategy compute_optimal"),
        (["solve", "2+2?", "-q", "-v"], "not allowed with argument"),
    ],
)
def test_bad_question_sources_and_a_stray_policy_are_one_line_and_exit_2(argv, expected, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and expected in err and out == ""
    assert len(err.strip().splitlines()) == 1, err


def test_quiet_hides_the_live_view_and_verbose_logs_debug(capsys):
    with OpenAIStubServer(scripted_reply) as server:
        code, _, quiet = run_cli([*stub_argv(server, QUESTION), "--n", "2", "-q"], capsys)
        assert code == 0 and quiet == ""
        code, _, shown = run_cli([*stub_argv(server, QUESTION), "--n", "2"], capsys)
        assert code == 0 and "plan: self_consistency" in shown
        code, out, verbose = run_cli(
            [*stub_argv(server, QUESTION), "--n", "2", "-v", "--json"], capsys
        )
    assert code == 0 and json.loads(out)["answer"] == "42"
    assert "reasoning-graph: DEBUG: " in verbose
    assert "plan: self_consistency" not in verbose  # --json: no live view


def test_a_resumed_run_says_which_options_it_did_not_apply(tmp_path, capsys):
    with OpenAIStubServer(scripted_reply) as server:
        saved = [*stub_argv(server, QUESTION), "--checkpoint", str(tmp_path / "runs.sqlite")]
        saved += ["--thread-id", "q1", "--json"]
        code, first, err = run_cli([*saved, "--n", "4"], capsys)
        assert code == 0 and err == ""
        code, again, err = run_cli([*saved, "--n", "8", "--temperature", "0.2"], capsys)
    assert code == 0
    assert json.loads(again)["candidates"] == json.loads(first)["candidates"]  # stored
    [note] = err.splitlines()
    assert note == (
        "reasoning-graph: note: thread 'q1' continues with the settings it started with; "
        "not applied: --n 8 (the run keeps 4), --temperature 0.2 (the run keeps 0.7)"
    )


def test_extra_body_reaches_every_request_to_the_server(capsys) -> None:
    """`--extra-body` puts a server's own sampling fields in each request (here llama.cpp's
    `repeat_penalty`, whose server default differs from the embedded model's)."""
    with OpenAIStubServer(scripted_reply) as server:
        argv = ["solve", QUESTION, "--model", "m", "--base-url", server.base_url, "--n", "2"]
        code, _, err = run_cli([*argv, "--extra-body", '{"repeat_penalty": 1.0}', "--json"], capsys)
        requests = server.requests
    assert code == 0, err
    assert requests and all(r["repeat_penalty"] == 1.0 for r in requests)
