"""`OpenAIStubServer`: a local OpenAI-compatible chat server for tests, examples and benchmarks.

It listens on the loopback interface only and runs `aiohttp` on its own thread and event
loop, so a client on the caller's loop sees real HTTP and real latency. Replies are scripted
and usage is counted in words, so every figure a test checks is exact:

- `prompt_tokens`: the words of the request's messages, once per request;
- `completion_tokens`: the words of the choices sent back, each cut to `max_tokens` words
  (the choice then ends with `finish_reason="length"`).

Every chat request's JSON body is kept in `requests` and every completion sent in
`responses`; `peak_in_flight` is the most requests handled at once.

Routes: `POST /v1/chat/completions` and `GET /v1/models`. A request body that is not a JSON
object, or has no `messages` list, or a bad `n` or `max_tokens`, gets HTTP 400 in OpenAI's
error shape; with `api_key` set, a request with another key gets HTTP 401, whose message
echoes the key it got (as careless servers do: clients must not repeat it).

Fault injection (`faults=Faults(rate=0.2, seed=1)`, see `reasoning_graph.testing.faults`): a
share of valid chat requests is answered with a fault instead (see `FaultKind`), counted per
kind in `injected`. The draw is deterministic: the `i`-th arrival of a given request body gets
the fault that `Random(f"{seed}:{digest(body)}:{i}")` picks, whatever order concurrent
requests arrive in. `responses` keeps only the completions a client can use (a `length` cut
included).

Run it from a shell with `python -m reasoning_graph.testing.openai_server --port N` (options:
`reasoning_graph.testing.serve_stub`).

Needs `aiohttp` (the `dev` extra), imported when a server starts.

(One module over 350 lines: the server's lifecycle, its records and its handlers share one
lock and one event loop; the faults live in `faults.py`, the command in `serve_stub.py`.)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from reasoning_graph.testing.faults import (
    FAULT_KINDS,
    FaultKind,
    Faults,
    inject_fault,
    openai_error,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "DEFAULT_REPLY",
    "FAULT_KINDS",
    "FaultKind",
    "Faults",
    "Latency",
    "OpenAIStubServer",
    "Reply",
]

Reply = str | Callable[[Mapping[str, Any], int], str]
"""A fixed reply text, or `(request_json, choice_index) -> text` for scripted replies.

`choice_index` counts the choices of one response (0 to `n - 1`). A client that falls
back to one-sample requests numbers its samples with the request's `seed` instead, so
`request_json.get("seed", 0) + choice_index` names a sample in both cases.
"""

Latency = float | Callable[[Mapping[str, Any]], float]
"""Seconds a chat request waits: fixed, or a function of the request's JSON body."""

DEFAULT_REPLY = "17 + 25 = 42. The answer is 42."

_HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0
_SHUTDOWN_TIMEOUT_S = 1.0
_WORD = re.compile(r"\S+")


class OpenAIStubServer:
    """A scripted OpenAI-compatible server on `127.0.0.1`, run on a background thread.

    Thread-safe to read while it serves: `requests`, `responses`, `injected`, `in_flight`
    and `peak_in_flight`.

    Example:
        ```python
        from reasoning_graph.testing import OpenAIStubServer

        with OpenAIStubServer(reply="The answer is 42.", latency_s=0.1) as server:
            provider = OpenAIProvider("m", base_url=server.base_url, api_key="test")
            ...
            server.requests[0]["n"], server.peak_in_flight
        ```
    """

    def __init__(
        self,
        reply: Reply = DEFAULT_REPLY,
        *,
        latency_s: Latency = 0.0,
        honour_n: bool = True,
        model: str = "stub-model",
        port: int = 0,
        faults: Faults | None = None,
        api_key: str | None = None,
    ) -> None:
        """Configure the server; nothing listens until `start()` or `with`.

        Args:
            reply: Text of every choice, or a callable `(request_json, choice_index) -> text`.
                Defaults to `DEFAULT_REPLY` ("... The answer is 42.").
            latency_s: Seconds each chat request waits before it is answered (0 answers at
                once), or a function of the request's JSON body that returns them (say, by
                its `seed`, so concurrent requests end at different times). `GET /v1/models`
                never waits.
            honour_n: Return `n` choices as OpenAI and vLLM do. `False` returns one choice
                whatever `n` is, as Ollama and llama.cpp servers do.
            model: The model listed by `GET /v1/models`; completions echo the request's
                `model` and fall back to this one.
            port: The port to listen on; 0 picks a free one (see `port` after start).
            faults: Faults to inject into valid chat requests (see `Faults`). Defaults to
                none.
            api_key: The key to require as `Authorization: Bearer KEY`; a chat request with
                another key (or none) gets HTTP 401 echoing it. Defaults to accepting any.

        Raises:
            ValueError: `latency_s` is a negative number or `port` is out of range.
        """
        if not callable(latency_s) and latency_s < 0:
            raise ValueError(f"latency_s={latency_s!r} must be >= 0 seconds.")
        if not 0 <= port <= 65535:
            raise ValueError(f"port={port!r} must be between 0 (any free port) and 65535.")
        self._reply = reply
        self._latency_s = latency_s
        self._honour_n = honour_n
        self._model = model
        self._wanted_port = port
        self._faults = faults
        self._api_key = api_key
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._injected: Counter[str] = Counter()
        self._arrivals: Counter[str] = Counter()
        self._in_flight = 0
        self._peak_in_flight = 0
        self._ids = itertools.count(1)
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start listening on a background thread; return `self` once ready.

        Raises:
            ImportError: `aiohttp` is not installed.
            RuntimeError: The server is already running.
            OSError: The port cannot be bound.
        """
        web = _import_web()
        if self._thread is not None:
            raise RuntimeError("the stub server is already running; call stop() first.")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_run_loop, args=(loop,), name="openai-stub-server", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            opened = asyncio.run_coroutine_threadsafe(self._open(web), loop)
            self._port = opened.result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close the server and its thread; recorded requests are kept. Safe to call twice."""
        loop, thread, runner = self._loop, self._thread, self._runner
        self._loop = self._thread = self._runner = None
        self._port = None
        if loop is None or thread is None:
            return
        if runner is not None and not loop.is_closed():
            closing = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            closing.result(timeout=_START_TIMEOUT_S + _SHUTDOWN_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _open(self, web: Any) -> int:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        # Handler cancellation ends a request (and its in-flight count) when its client leaves.
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S, handler_cancellation=True
        )
        await runner.setup()
        self._runner = runner
        await web.TCPSite(runner, _HOST, self._wanted_port).start()
        port: int = runner.addresses[0][1]
        return port

    # -- what callers read ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on.

        Raises:
            RuntimeError: The server is not running.
        """
        if self._port is None:
            raise RuntimeError("the stub server is not running; use `with` or call start().")
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root to give a client, e.g. `"http://127.0.0.1:PORT/v1"`."""
        return f"http://{_HOST}:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON body of every chat request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def responses(self) -> list[dict[str, Any]]:
        """The JSON body of every chat completion sent so far, oldest first (a copy).

        Error responses are not kept. Summing their `usage` gives what the server charged.
        """
        with self._lock:
            return list(self._responses)

    @property
    def injected(self) -> dict[str, int]:
        """Faults injected so far, per `FaultKind` (a copy; kinds not injected are left out)."""
        with self._lock:
            return dict(sorted(self._injected.items()))

    @property
    def in_flight(self) -> int:
        """Chat requests being handled right now."""
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most chat requests that were being handled at the same time."""
        with self._lock:
            return self._peak_in_flight

    def reset(self) -> None:
        """Forget the recorded requests, responses, faults, arrivals and peak.

        Requests in flight still count. After a reset, the same requests draw the same faults
        again.
        """
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            self._injected.clear()
            self._arrivals.clear()
            self._peak_in_flight = self._in_flight

    # -- handlers -------------------------------------------------------------------------

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _chat_completions(self, request: web.Request) -> web.Response:
        """Parse, record, check, wait `latency_s`, answer, or inject the fault drawn."""
        from aiohttp import web

        with self._tracked():
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                return openai_error(400, f"the request body is not valid JSON: {exc}")
            if not isinstance(body, dict):
                return openai_error(400, "the request body must be a JSON object.")
            fault = self._record(body)
            if self._api_key is not None:
                sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
                if sent != self._api_key:
                    return openai_error(
                        401, f"Incorrect API key provided: {sent}.", kind="invalid_api_key"
                    )
            problem = _check_request(body)
            if problem is not None:
                return openai_error(400, problem)
            latency = self._latency_s(body) if callable(self._latency_s) else self._latency_s
            if latency > 0:
                await asyncio.sleep(latency)
            if fault is not None:
                kind, rng = fault
                with self._lock:
                    self._injected[kind] += 1
                if kind != "length":
                    assert self._faults is not None
                    return await inject_fault(
                        kind,
                        rng,
                        self._faults,
                        request,
                        complete=lambda: self._completion(body),
                        keep=self._keep,
                    )
            completion = self._completion(body, cut=fault[1] if fault is not None else None)
            self._keep(completion)
            return web.json_response(completion)

    def _record(self, body: dict[str, Any]) -> tuple[FaultKind, random.Random] | None:
        """Keep `body` in `requests`; draw its fault, if any (after a valid request only)."""
        digest = json.dumps(body, sort_keys=True)
        with self._lock:
            self._requests.append(body)
            arrival = self._arrivals[digest]
            self._arrivals[digest] += 1
        if self._faults is None or _check_request(body) is not None:
            return None
        return self._faults.draw(body, arrival)

    def _keep(self, completion: dict[str, Any]) -> None:
        """Record a completion sent to a client in `responses`."""
        with self._lock:
            self._responses.append(completion)

    async def _models(self, request: web.Request) -> web.Response:
        from aiohttp import web

        model = {"id": self._model, "object": "model", "created": 0, "owned_by": "stub"}
        return web.json_response({"object": "list", "data": [model]})

    def _completion(
        self, body: Mapping[str, Any], *, cut: random.Random | None = None
    ) -> dict[str, Any]:
        """The `chat.completion` object answering a valid request `body`.

        With `cut`, one choice it picks is cut to half its words (a `length` fault).
        """
        count = (body.get("n") or 1) if self._honour_n else 1
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        short = cut.randrange(count) if cut is not None else None
        choices: list[dict[str, Any]] = []
        completion_tokens = 0
        for index in range(count):
            text = self._reply if isinstance(self._reply, str) else self._reply(body, index)
            most = limit
            if index == short:
                half = max(1, _count_words(text) // 2)
                most = half if limit is None else min(limit, half)
            text, words, stopped = _cut_words(text, most)
            completion_tokens += words
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "length" if stopped or index == short else "stop",
                    "logprobs": None,
                }
            )
        prompt_tokens = sum(_count_words(_message_text(m)) for m in body["messages"])
        return {
            "id": f"chatcmpl-stub-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self._model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _import_web() -> Any:
    try:
        from aiohttp import web
    except ImportError as exc:
        raise ImportError(
            "OpenAIStubServer needs aiohttp, which is not installed: "
            "pip install 'reasoning-graph[dev]' (or pip install aiohttp)."
        ) from exc
    return web


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The server thread: run `loop` until stopped, then finish its tasks and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _check_request(body: Mapping[str, Any]) -> str | None:
    """Why `body` is not a chat completion request this server can answer, or `None`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return "'messages' must be a list of message objects."
    for name in ("n", "max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (type(value) is not int or value < 1):
            return f"{name!r} must be an integer >= 1 (got {value!r})."
    return None


def _message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: a string `content` or the `text` of its content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _count_words(text: str) -> int:
    return len(_WORD.findall(text))


def _cut_words(text: str, limit: int | None) -> tuple[str, int, bool]:
    """`text` cut after its `limit`-th word: (text, words, whether it was cut)."""
    words = list(_WORD.finditer(text))
    if limit is None or len(words) <= limit:
        return text, len(words), False
    return text[: words[limit - 1].end()], limit, True


if __name__ == "__main__":  # python -m reasoning_graph.testing.openai_server --port N
    from reasoning_graph.testing.serve_stub import main

    raise SystemExit(main())
