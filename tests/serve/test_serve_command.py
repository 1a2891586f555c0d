"""`reasoning-graph serve` as a user runs it: a process that serves until SIGTERM, writes one
JSON access line per request on stderr, and refuses bad options with one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from serve_helpers import QUESTION

from reasoning_graph.testing import OpenAIStubServer

CLI = [sys.executable, "-m", "reasoning_graph.cli"]
KEY = "sk-serve-cli-key-123456"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(latency_s=0.3) as server:
        yield server


def start(args: list[str], tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    stderr = (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env={**os.environ, **env},
    )
    stderr.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "stderr.log").read_text()
        try:
            if httpx.get(url + "/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_serve_answers_logs_json_and_shuts_down_gracefully(stub: OpenAIStubServer, tmp_path: Path):
    upstream = ["--base-url", stub.base_url, "--model", "stub-model", "--n", "2"]
    process, url = start(upstream, tmp_path, REASONING_GRAPH_API_KEY=KEY)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        reply = client.chat.completions.create(
            model="reasoning-graph", messages=[{"role": "user", "content": QUESTION}]
        )
        assert reply.choices[0].message.content == "42"
        assert [r["n"] for r in stub.requests] == [2]  # --n 2 is the default
        refused = httpx.get(url + "/v1/models")  # no key
        assert refused.status_code == 401
        # A run in flight when SIGTERM arrives is finished before the process exits.
        stream = client.chat.completions.create(
            model="revision@3", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        first = next(iter(stream))
        process.send_signal(signal.SIGTERM)
        rest = list(stream)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert first.choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in rest if c.choices) == "42"
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    access = [json.loads(line) for line in lines if line.startswith("{")]
    chats = [a for a in access if a["path"] == "/v1/chat/completions"]
    assert [(a["status"], a["strategy"], a["stream"]) for a in chats] == [
        (200, "self_consistency", False),
        (200, "revision", True),
    ]
    assert chats[0]["completion_tokens"] == stub.responses[0]["usage"]["completion_tokens"]
    assert {"method", "duration_ms", "prompt_tokens", "llm_calls", "requests"} <= chats[0].keys()
    assert any(a["path"] == "/v1/models" and a["status"] == 401 for a in access)
    assert KEY not in "\n".join(lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "openai"], "needs a model name"),
        (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--n", "0"], "n:"),
        (
            ["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--max-in-flight", "0"],
            "--max-in-flight",
        ),
    ],
)
def test_bad_options_end_with_one_line_and_exit_2(args: list[str], message: str):
    done = subprocess.run(
        [*CLI, "serve", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


async def test_extra_body_reaches_every_upstream_provider() -> None:
    """`serve --extra-body` is for the upstream server: the default model's provider and one
    named in a request (`strategy@n:MODEL`) both send it."""
    from reasoning_graph.cli.parser import build_parser
    from reasoning_graph.serve.command import settings_from_args
    from reasoning_graph.serve.upstream import Upstream

    argv = ["serve", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    args = build_parser().parse_args([*argv, "--extra-body", '{"top_k": 20}'])
    settings = settings_from_args(args)
    assert settings.upstream_extra_body == {"top_k": 20}
    upstream = Upstream(settings)
    try:
        shown = [repr(upstream.generator(None)), repr(upstream.generator("other"))]
    finally:
        await upstream.aclose()
    assert all(text.endswith("extra_body={'top_k': 20})") for text in shown), shown
