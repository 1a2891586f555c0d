"""`POST /v1/chat/completions`: read the request, run `asolve`, answer or stream.

A plain ASGI app, so it sees the client leave: while a run is in flight it keeps reading
the connection, and an `http.disconnect` cancels the run and, with it, every upstream
request still open. A streamed reply begins only once the run has produced its first live
event, so errors found before any work (a budget too small for one call) are still plain
HTTP errors; later ones arrive as an SSE `{"error": ...}` event before `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, MutableMapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from reasoning_graph.errors import ReasoningGraphError
from reasoning_graph.events import ReasoningEvent, describe_event
from reasoning_graph.providers.base import Generator
from reasoning_graph.result import Result
from reasoning_graph.serve.errors import APIError, from_library_error
from reasoning_graph.serve.request import RunRequest, parse_request
from reasoning_graph.serve.response import DONE, ChunkWriter, completion_body, sse
from reasoning_graph.serve.settings import ServeSettings
from reasoning_graph.serve.upstream import RunSlots, Upstream
from reasoning_graph.solve import asolve

__all__ = ["ACCESS_KEY", "ChatCompletions"]

ACCESS_KEY = "reasoning_graph.access"
"""The ASGI scope key where a handler leaves what the access log should record."""

T = TypeVar("T")
_log = logging.getLogger("reasoning_graph.serve")


class ChatCompletions:
    """The ASGI app behind `POST /v1/chat/completions`.

    Args:
        settings: The server's settings (defaults and limits).
        upstream: The generators to run on.
        slots: The limit on runs in flight.
    """

    def __init__(self, settings: ServeSettings, upstream: Upstream, slots: RunSlots) -> None:
        self._settings = settings
        self._upstream = upstream
        self._slots = slots
        self._redactor = upstream.redactor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        access: MutableMapping[str, Any] = scope.setdefault(ACCESS_KEY, {})
        tracked = _TrackedSend(send)
        try:
            body = await _read_json(Request(scope, receive), self._settings.max_body_bytes)
            run = parse_request(body, self._settings)
            access.update(
                model=run.model, strategy=run.config.strategy, n=run.config.n, stream=run.stream
            )
            generator = self._upstream.generator(run.upstream)
            with self._slots.hold():
                task = asyncio.ensure_future(self._respond(run, generator, access, tracked))
                if not await _until_disconnected(receive, task, tracked):
                    access["disconnected"] = True
        except APIError as error:
            access["error"] = error.code or error.type
            response = JSONResponse(
                error.body(self._redactor), status_code=error.status, headers=error.headers
            )
            await response(scope, receive, send)

    async def _respond(
        self, run: RunRequest, generator: Generator, access: MutableMapping[str, Any], send: Send
    ) -> None:
        events: asyncio.Queue[ReasoningEvent] = asyncio.Queue()
        on_event = events.put_nowait if run.stream else None
        task = asyncio.ensure_future(
            asolve(run.question, generator=generator, config=run.config, on_event=on_event)
        )
        try:
            items = _events_then_result(task, events)
            first = await self._guarded(anext(items))
            if run.stream:
                await self._stream(run, first, items, access, send)
            else:
                assert isinstance(first, Result)
                _record_usage(access, first)
                await _send_json(send, 200, completion_body(run.model, first, run.stop))
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _stream(
        self,
        run: RunRequest,
        first: ReasoningEvent | Result,
        items: AsyncIterator[ReasoningEvent | Result],
        access: MutableMapping[str, Any],
        send: Send,
    ) -> None:
        chunks = ChunkWriter(run.model, include_usage=run.include_usage)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await _send_body(send, chunks.role())
        item = first
        try:
            while not isinstance(item, Result):
                await _send_body(send, chunks.reasoning(describe_event(item) + "\n"))
                item = await self._guarded(anext(items))
        except APIError as error:
            access["error"] = error.code or error.type
            await _send_body(send, sse(error.body(self._redactor)) + DONE, more=False)
            return
        _record_usage(access, item)
        if item.selected is not None:
            solution = f"\nsolution {item.selected.id}:\n{item.selected.text}\n"
            await _send_body(send, chunks.reasoning(solution))
        await _send_body(send, b"".join(chunks.answer(item, run.stop)))
        tail = chunks.usage(item) if run.include_usage else b""
        await _send_body(send, tail + DONE, more=False)

    async def _guarded(self, step: Awaitable[T]) -> T:
        """Await `step`, turning what the run raised into an `APIError`."""
        try:
            return await step
        except ReasoningGraphError as error:
            raise from_library_error(error) from None
        except (asyncio.CancelledError, APIError):
            raise
        except Exception as error:
            text = self._redactor.redact("".join(traceback.format_exception(error)))
            _log.error("reasoning run failed unexpectedly:\n%s", text)
            raise from_library_error(ReasoningGraphError()) from None


async def _events_then_result(
    task: asyncio.Future[Result], events: asyncio.Queue[ReasoningEvent]
) -> AsyncIterator[ReasoningEvent | Result]:
    """Yield the run's live events as they come, then its result (or raise its error)."""
    while True:
        get = asyncio.ensure_future(events.get())
        waiting: set[asyncio.Future[Any]] = {get, task}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            yield get.result()
            continue
        while not events.empty():
            yield events.get_nowait()
        yield task.result()
        return


class _TrackedSend:
    """An ASGI `send` that knows when the response is complete."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.complete = False

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        await self._send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True


async def _until_disconnected(
    receive: Receive, task: asyncio.Future[None], sent: _TrackedSend
) -> bool:
    """Await `task` unless the client leaves first; then cancel it. True when it finished.

    Once the response is complete the server reports a disconnect too: that one just waits
    for `task` to tidy up.
    """
    watcher = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and sent.complete:
            await asyncio.wait({task})
    finally:
        for waiting in (task, watcher):
            if not waiting.done():
                waiting.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # re-raise what the handler raised
    return True


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_json(request: Request, limit: int) -> object:
    """The request's JSON body, read up to `limit` bytes.

    Raises:
        APIError: 413 for a longer body, 400 for one that is not JSON.
    """
    too_big = APIError(
        413,
        f"the request body is larger than this server's limit of {limit} bytes; send less",
        code="request_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        reason = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise APIError(
            400, f"the request body is not valid JSON: {reason}", code="invalid_json"
        ) from None


def _record_usage(access: MutableMapping[str, Any], result: Result) -> None:
    access.update(
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        llm_calls=result.usage.llm_calls,
        requests=result.usage.requests,
    )


async def _send_body(send: Send, body: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await _send_body(send, data, more=False)
