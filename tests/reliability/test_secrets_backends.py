"""No keyed backend lets its API key out when the server echoes it back in a 401.

One suite, parametrized over every backend that sends a key: `OpenAIProvider`,
`RewardModelVerifier` and `LangChainProvider` over `ChatOpenAI`. Each runs against
`EchoingServer`, a loopback server that refuses every request with HTTP 401 and repeats the
key it was shown in its JSON error body (the message, a URL's query string, `param`) and in its
headers (`WWW-Authenticate`, `X-Echo-Key`, a `Location` URL's query string). The key is then
looked for in everything a user may see, store or print: `str` and `repr` of the error, every
error down its `__cause__`/`__context__` chain (with the response a status error carries), the
formatted traceback, log records captured at DEBUG, the checkpoints of a graph run
(`InMemorySaver` and `AsyncSqliteSaver`), and the events it streamed (`stream_mode` `"custom"`
and `"updates"`, collected up to the error). Every check is recorded on its own, so one leak
does not hide the next, and each test also asserts that what it searched was not empty.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from reasoning_graph import ReasoningConfig, ReasoningGraphError, create_reasoning_graph
from reasoning_graph.errors import ProviderError
from reasoning_graph.providers import FakeGenerator, LangChainProvider, OpenAIProvider
from reasoning_graph.providers.base import ChatMessage, Generator
from reasoning_graph.verifiers import RewardModelVerifier, Verifier

KEY = "sk-echo-SECRET-abcdef0123456789"
PIECES = (KEY, "SECRET-abcdef0123456789")
STARS = "**********"
QUESTION = "What is 17 + 25?"
MESSAGES: list[ChatMessage] = [{"role": "user", "content": QUESTION}]
BACKENDS = ["openai", "reward_model", "langchain"]


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        self.server.presented.append(key)  # type: ignore[attr-defined]
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {key}. "
                    f"See https://keys.test/revoke?api_key={key}&x=1",
                    "type": "invalid_request_error",
                    "param": key,
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("WWW-Authenticate", f'Bearer realm="{key}"')
        self.send_header("X-Echo-Key", key)
        self.send_header("Location", f"https://keys.test/login?key={key}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the client's logs, not the server's."""


class EchoingServer:
    """A loopback server refusing everything with a 401 that repeats the presented key."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        self._server.daemon_threads = True
        self.presented: list[str] = []
        self._server.presented = self.presented  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> EchoingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass
class Backend:
    """One keyed backend, wired as the graph uses it, and a direct call that gets refused."""

    name: str
    generator: Generator
    verifier: Verifier | None
    config: ReasoningConfig
    refused_call: Callable[[], Awaitable[object]]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def make_backend(name: str, url: str) -> Backend:
    voting = ReasoningConfig(strategy="self_consistency", n=2, share_prompt=False)
    if name == "openai":
        provider = OpenAIProvider("m", base_url=f"{url}/v1", api_key=KEY, max_attempts=1)
        return Backend(
            name, provider, None, voting, lambda: provider.generate(MESSAGES), [provider.aclose]
        )
    if name == "reward_model":
        reward = RewardModelVerifier(url, "prm", api_key=KEY, kind="outcome", max_attempts=1)
        return Backend(
            name,
            FakeGenerator(["6 * 7 = 42. The answer is 42."]),
            reward,
            ReasoningConfig(strategy="best_of_n", n=2),
            lambda: reward.score(QUESTION, "The answer is 42."),
            [reward.aclose],
        )
    chat = ChatOpenAI(model="m", base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    sampler = LangChainProvider(chat)
    return Backend(name, sampler, None, voting, lambda: sampler.generate(MESSAGES))


@dataclass
class Leaks:
    """Every place checked, and those that showed the key; `assert_none()` names them all."""

    checked: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def check(self, where: str, text: str | bytes) -> None:
        self.checked.append(where)
        try:
            for piece in PIECES:
                shown = piece.encode() in text if isinstance(text, bytes) else piece in text
                assert not shown, where
        except AssertionError:
            self.found.append(where)

    def check_error(self, label: str, error: BaseException) -> None:
        """The error's str and repr, its formatted traceback, and each link of its chain."""
        self.check(f"str({label})", str(error))
        self.check(f"repr({label})", repr(error))
        self.check(f"traceback of {label}", "".join(traceback.format_exception(error)))
        link: BaseException | None = error
        depth = 0
        while link is not None and depth < 20:
            where = f"{label} chain[{depth}] {type(link).__name__}"
            self.check(where, f"{link} {link!r} {link.args!r}")
            if isinstance(link, openai.APIStatusError):
                self.check(f"{where} response", f"{link.body!r} {dict(link.response.headers)!r}")
            if isinstance(link, httpx.HTTPStatusError):
                self.check(f"{where} response", link.response.text + repr(link.response.headers))
            link = link.__cause__ or link.__context__
            depth += 1

    def check_logs(self, logs: pytest.LogCaptureFixture) -> None:
        self.check("the log text", logs.text)
        for index, record in enumerate(logs.records):
            self.check(f"log record {index} ({record.name})", repr(vars(record)))

    def assert_none(self) -> None:
        assert self.checked, "nothing was checked"
        assert not self.found, f"the API key leaked into: {self.found}"


@pytest.fixture
def server() -> Iterator[EchoingServer]:
    with EchoingServer() as running:
        yield running


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, server: EchoingServer) -> AsyncIterator[Backend]:
    built = make_backend(request.param, server.url)
    yield built
    for close in built.closers:
        await close()


def test_the_server_echoes_the_key_in_body_headers_and_urls(server: EchoingServer) -> None:
    """The echo is real, so a clean result below means the backends hid it."""
    response = httpx.post(
        f"{server.url}/v1/chat/completions", json={}, headers={"Authorization": f"Bearer {KEY}"}
    )

    assert response.status_code == 401
    assert response.text.count(KEY) == 3 and f"?api_key={KEY}" in response.text
    assert response.headers["x-echo-key"] == KEY and KEY in response.headers["www-authenticate"]
    assert response.headers["location"].endswith(f"?key={KEY}")


def test_the_leak_check_does_find_the_key() -> None:
    leaks = Leaks()
    leaks.check("clean", "nothing here")
    leaks.check("text", f"... {KEY[3:]} ...")
    leaks.check("bytes", b"x" + KEY.encode())
    error = ValueError("outer")
    error.__context__ = RuntimeError(f"inner {KEY}")
    leaks.check_error("error", error)

    assert leaks.found == ["text", "bytes", "traceback of error", "error chain[1] RuntimeError"]


async def test_errors_and_logs_never_show_the_key(
    backend: Backend, server: EchoingServer, logs: pytest.LogCaptureFixture
) -> None:
    """Plants caught: the `redact(...)` in `providers/http.py` removed (openai, reward_model:
    the echo is in `str(error)`); the failure always chained there (the `__cause__` and the
    traceback show it); `LangChainProvider` raising `... from None` inside its `except` (the
    key stays on `__context__`); its `Redactor` not applied (langchain: `str(error)`)."""
    with pytest.raises(ProviderError) as caught:
        await backend.refused_call()

    leaks = Leaks()
    leaks.check_error("error", caught.value)
    leaks.check_logs(logs)
    leaks.assert_none()
    assert server.presented and set(server.presented) == {KEY}  # the key did reach the server
    assert "401" in str(caught.value) and STARS in str(caught.value)  # the echo, starred out
    assert any(r.name.startswith(("openai", "httpx", "httpcore")) for r in logs.records)


@asynccontextmanager
async def checkpointer(kind: str, path: Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if kind == "memory":
        yield InMemorySaver()
        return
    async with AsyncSqliteSaver.from_conn_string(str(path / "checkpoints.sqlite")) as saver:
        yield saver


def stored_bytes(saver: BaseCheckpointSaver[Any], path: Path) -> bytes:
    """Everything the checkpointer holds, as it holds it."""
    if isinstance(saver, InMemorySaver):
        return repr((saver.storage, saver.writes, saver.blobs)).encode()
    return b"".join(p.read_bytes() for p in sorted(path.glob("checkpoints.sqlite*")))


@pytest.mark.parametrize("saver_kind", ["memory", "sqlite"])
async def test_checkpoints_and_streamed_events_never_show_the_key(
    backend: Backend, saver_kind: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """Streams a checkpointed run whose keyed backend is refused, keeping every chunk that
    streamed before the run ended (a generator backend ends it with `NoCandidatesError`).

    Plants caught: a failure event or a `failures` entry that copies the backend's error text
    unredacted (custom events, updates, checkpoints); a failure path that stores the
    exception object or its cause in state (checkpoints); the plants of the test above (the
    failure messages are these errors' `str`)."""
    config: Any = {"configurable": {"thread_id": f"{backend.name}-{saver_kind}"}}
    chunks: list[Any] = []
    error: ReasoningGraphError | None = None
    async with checkpointer(saver_kind, tmp_path) as saver:
        graph = create_reasoning_graph(
            backend.generator, verifier=backend.verifier, config=backend.config
        ).compile(checkpointer=saver)
        try:
            async for chunk in graph.astream(
                {"question": QUESTION}, config, stream_mode=["custom", "updates"]
            ):
                chunks.append(chunk)
        except ReasoningGraphError as raised:
            error = raised
        state = await graph.aget_state(config)
        history = [snapshot async for snapshot in graph.aget_state_history(config)]
        stored = stored_bytes(saver, tmp_path)

    leaks = Leaks()
    for index, (mode, chunk) in enumerate(chunks):
        leaks.check(f"streamed {mode} chunk {index}", json.dumps(chunk, default=repr))
    if error is not None:
        leaks.check_error("the run's error", error)
    leaks.check("the final state", repr(state))
    leaks.check("the state history", repr(history))
    leaks.check(f"the {saver_kind} checkpointer's contents", stored)
    leaks.check_logs(logs)
    leaks.assert_none()

    modes = [mode for mode, _ in chunks]
    failures = [c for m, c in chunks if m == "custom" and c.get("type") == "failure"]
    assert modes.count("custom") > 0 and modes.count("updates") > 0  # events were checked
    assert failures and all(STARS in f["message"] for f in failures)  # the echo, starred
    assert state.values["failures"] and QUESTION.encode() in stored  # state was stored
    assert all(STARS in f["message"] for f in state.values["failures"])
