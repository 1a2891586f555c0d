"""Durable runs: a run saved with a checkpointer resumes where it stopped.

The crash test kills `reasoning-graph solve --checkpoint` with SIGKILL in the middle of a
wave of eight `Send` branches, runs the same command again, and counts the requests per
seed on the server: no candidate that had finished is generated again. LangGraph saves the
writes of every finished task of a superstep at once (as pending writes of that step's
checkpoint), so the finished branches of an unfinished wave survive the crash too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from reasoning_graph import ConfigurationError, asolve, solve
from reasoning_graph.providers.base import ChatMessage, Generation
from reasoning_graph.providers.fake import FakeGenerator
from reasoning_graph.solve import sqlite_checkpointer

QUESTION = "What is 17 + 25?"
FAST_SEEDS = {0, 1, 2, 3, 4}


class SeededGenerator(FakeGenerator):
    """Answers "42", after `delay(seed)` seconds; records the seed of every call."""

    def __init__(self, slow: Sequence[int] = (), delay_s: float = 30.0) -> None:
        super().__init__(["17 + 25 = 42. The answer is 42."])
        self.slow = set(slow)
        self.delay_s = delay_s
        self.seeds: list[int] = []

    async def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Generation:
        self.seeds.append(kwargs.get("seed", -1))
        if kwargs.get("seed") in self.slow:
            await asyncio.sleep(self.delay_s)
        return await super().generate(messages, **kwargs)


# -- in process --------------------------------------------------------------------------


async def test_a_cut_run_resumes_without_redoing_finished_branches() -> None:
    saver = InMemorySaver()
    first = SeededGenerator(slow=[5, 6, 7])
    options: dict[str, Any] = {"n": 8, "share_prompt": False, "checkpointer": saver}

    cut = await asolve(QUESTION, generator=first, deadline_s=0.5, thread_id="t", **options)
    assert len(cut.candidates) == 5 and cut.answer == "42"

    second = SeededGenerator()
    resumed = await asolve(QUESTION, generator=second, thread_id="t", **options)
    assert sorted(second.seeds) == [5, 6, 7]  # only the branches the deadline cancelled
    assert len(resumed.candidates) == 8 and resumed.failures == []
    assert resumed.usage.llm_calls == 8  # the first call's five, kept, and three new

    third = SeededGenerator()
    again = await asolve(QUESTION, generator=third, thread_id="t", **options)
    assert third.seeds == [] and again == resumed  # finished: the stored result


async def test_threads_are_separate_and_hold_one_question() -> None:
    saver = InMemorySaver()
    await asolve(QUESTION, generator=SeededGenerator(), n=2, checkpointer=saver, thread_id="a")
    other = SeededGenerator()
    await asolve(QUESTION, generator=other, n=2, checkpointer=saver, thread_id="b")
    assert other.seeds  # a new thread runs
    with pytest.raises(ConfigurationError, match="another question"):
        await asolve("What is 2 + 2?", generator=other, checkpointer=saver, thread_id="a")


@pytest.mark.parametrize("given", ["checkpointer", "thread_id"])
async def test_checkpointer_and_thread_id_go_together(given: str) -> None:
    options: dict[str, Any] = {"checkpointer": InMemorySaver()} if given == "checkpointer" else {}
    if given == "thread_id":
        options["thread_id"] = "t"
    with pytest.raises(ConfigurationError, match="go together"):
        await asolve(QUESTION, generator=SeededGenerator(), **options)


def test_a_sync_only_checkpointer_is_a_clear_error(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(str(tmp_path / "db.sqlite")) as saver:
        with pytest.raises(ConfigurationError, match="AsyncSqliteSaver"):
            solve(QUESTION, generator=SeededGenerator(), checkpointer=saver, thread_id="t")


async def test_sqlite_checkpointer_resumes_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    options: dict[str, Any] = {"n": 4, "share_prompt": False, "thread_id": "q"}
    async with sqlite_checkpointer(path) as saver:
        await asolve(
            QUESTION,
            generator=SeededGenerator(slow=[3]),
            deadline_s=0.5,
            checkpointer=saver,
            **options,
        )
    second = SeededGenerator()
    async with sqlite_checkpointer(path) as saver:
        result = await asolve(QUESTION, generator=second, checkpointer=saver, **options)
    assert second.seeds == [3]
    assert len(result.candidates) == 4


async def test_sqlite_checkpointer_without_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.sqlite.aio", None)
    with pytest.raises(ConfigurationError, match="pip install langgraph-checkpoint-sqlite"):
        async with sqlite_checkpointer(tmp_path / "db.sqlite"):
            pass
    assert not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize("kind", ["missing folder", "a folder", "not a database"])
async def test_sqlite_checkpointer_on_an_unusable_path(kind: str, tmp_path: Path) -> None:
    path = {
        "missing folder": tmp_path / "no" / "such" / "db.sqlite",
        "a folder": tmp_path,
        "not a database": tmp_path / "notes.txt",
    }[kind]
    if kind == "not a database":
        path.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot open checkpoint database"):
        async with sqlite_checkpointer(path):
            pass


# -- the crash test: SIGKILL a CLI run in the middle, run it again --------------------------


class SlowSeedServer(ThreadingHTTPServer):
    """A minimal OpenAI-compatible chat server on loopback that logs the seed of every
    request and, while `hold` is set, answers requests with a seed >= 5 only once released.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requested: list[int] = []
        self.answered: list[int] = []
        self.hold = threading.Event()
        self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request is expected here


class _Handler(BaseHTTPRequestHandler):
    server: SlowSeedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seed = int(body.get("seed", 0))
        with self.server.lock:
            self.server.requested.append(seed)
        if self.server.hold.is_set() and seed not in FAST_SEEDS:
            self.server.release.wait(timeout=60)
            return  # the client is gone by now
        text = "17 + 25 = 42. The answer is 42."
        reply = {
            "id": f"chatcmpl-{seed}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
        }
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        with self.server.lock:
            self.server.answered.append(seed)


@pytest.fixture
def slow_server() -> Iterator[SlowSeedServer]:
    server = SlowSeedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def saved_candidate_branches(db: Path) -> int:
    """Finished `think` branches whose candidates are saved in the checkpoint database."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            rows = connection.execute(
                "SELECT COUNT(DISTINCT task_id) FROM writes WHERE channel = 'candidates'"
            ).fetchone()
    except sqlite3.Error:
        return 0  # not created yet
    return int(rows[0])


def wait_for(condition: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_run_then_resume_generates_no_finished_candidate_again(
    slow_server: SlowSeedServer, tmp_path: Path
) -> None:
    db = tmp_path / "runs.sqlite"
    argv = [sys.executable, "-m", "reasoning_graph", "solve", QUESTION]
    argv += ["--provider", "openai", "--base-url", slow_server.base_url, "--model", "m"]
    argv += ["--strategy", "self_consistency", "--n", "8", "--no-share-prompt"]
    argv += ["--checkpoint", str(db), "--thread-id", "t1", "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}

    slow_server.hold.set()  # seeds 5, 6 and 7 hang until the process is killed
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_for(lambda: saved_candidate_branches(db) == len(FAST_SEEDS), "5 saved branches")
        wait_for(lambda: len(slow_server.requested) == 8, "all 8 requests")
    finally:
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    assert sorted(slow_server.answered) == sorted(FAST_SEEDS)

    slow_server.hold.clear()
    with slow_server.lock:
        first_requests = list(slow_server.requested)
        slow_server.requested.clear()
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["answer"] == "42"
    assert len(result["candidates"]) == 8 and result["failures"] == []
    assert sorted(slow_server.requested) == [5, 6, 7]  # finished ones were not asked again
    answered = Counter(slow_server.answered)
    assert answered == Counter(range(8))  # each sample generated exactly once in all
    assert sorted(first_requests) == list(range(8))
    assert result["usage"]["llm_calls"] == 8  # the five saved answers' usage was kept too

    again = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == result  # a finished thread prints its stored result
    assert Counter(slow_server.answered) == Counter(range(8))
