"""The CLI's contract: bad input ends with one line on stderr and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reasoning_graph.cli import main


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
