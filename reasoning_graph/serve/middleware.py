"""ASGI middleware: bearer-token auth and structured access logs.

`AccessLog` writes one JSON line per request to the `reasoning_graph.serve.access` logger:
`method`, `path`, `status` (499 when the client left before any answer), `duration_ms`,
and, for chat requests, `model`, `strategy`, `n`, `stream`, `prompt_tokens`,
`completion_tokens`, `llm_calls`, `requests` (the upstream requests behind those calls),
`error` (a code) and `disconnected`. It never records headers, bodies, query strings or keys.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reasoning_graph.serve.chat import ACCESS_KEY
from reasoning_graph.serve.errors import error_body

__all__ = ["ACCESS_LOGGER", "AccessLog", "BearerAuth"]

ACCESS_LOGGER = "reasoning_graph.serve.access"
_CLIENT_LEFT = 499


class AccessLog:
    """Log one JSON line per HTTP request once its answer is sent (or the client left)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = _CLIENT_LEFT
        access: dict[str, Any] = scope.setdefault(ACCESS_KEY, {})

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, record)
        except Exception:
            status = 500 if status == _CLIENT_LEFT else status
            raise
        finally:
            entry: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                **access,
            }
            self._log.info(json.dumps(entry, ensure_ascii=False))


class BearerAuth:
    """Require `Authorization: Bearer <key>` on every route but `open_paths`.

    The key is compared in constant time; a missing or wrong key gets HTTP 401 in OpenAI's
    error shape, which never repeats what was sent.
    """

    def __init__(self, app: ASGIApp, *, key: str | None, open_paths: frozenset[str]) -> None:
        self._app = app
        self._expected = f"Bearer {key}".encode() if key else None
        self._open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._expected is None or scope["type"] != "http" or scope["path"] in self._open_paths:
            await self._app(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if hmac.compare_digest(sent, self._expected):
            await self._app(scope, receive, send)
            return
        what = "a wrong API key" if sent else "no API key"
        scope.setdefault(ACCESS_KEY, {})["error"] = "invalid_api_key"
        response = JSONResponse(
            error_body(
                f"this server needs an API key: the request sent {what}; send the header "
                "'Authorization: Bearer <key>' (the openai SDK's api_key=...)",
                type="invalid_request_error",
                code="invalid_api_key",
            ),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
