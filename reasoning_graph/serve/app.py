"""`create_app`: the OpenAI-compatible ASGI app that `reasoning-graph serve` runs.

Routes: `POST /v1/chat/completions` (`chat.py`), `GET /v1/models` (the model names a
request may use), `GET /health` (no key needed; runs in flight). Every error, a wrong
route or method included, is JSON in OpenAI's shape. The app keeps no state between
requests but its counters and connection pools, so several processes behind a load
balancer scale it out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reasoning_graph.config import STRATEGIES
from reasoning_graph.serve.chat import ChatCompletions
from reasoning_graph.serve.errors import error_body
from reasoning_graph.serve.middleware import AccessLog, BearerAuth
from reasoning_graph.serve.settings import DEFAULT_MODEL_NAME, ServeSettings
from reasoning_graph.serve.upstream import RunSlots, Upstream

__all__ = ["HEALTH_PATH", "create_app"]

HEALTH_PATH = "/health"
_log = logging.getLogger("reasoning_graph.serve")


def create_app(settings: ServeSettings | None = None) -> Starlette:
    """Build the server's ASGI app; nothing listens until an ASGI server runs it.

    Args:
        settings: Upstream, defaults and limits. Defaults to `ServeSettings()`: the
            embedded SmolLM2-135M-Instruct with `ReasoningConfig()`'s defaults.

    Raises:
        ConfigurationError: The settings do not describe a usable upstream.

    Example:
        ```python
        import uvicorn
        from reasoning_graph.serve import ServeSettings, create_app

        app = create_app(ServeSettings(base_url="http://localhost:8000/v1", model="m"))
        uvicorn.run(app, port=8000)
        ```
    """
    settings = settings or ServeSettings()
    upstream = Upstream(settings)
    slots = RunSlots(settings.max_in_flight, retry_after_s=settings.retry_after_s)
    chat = ChatCompletions(settings, upstream, slots)
    default = settings.config

    async def models(request: Request) -> Response:
        names = [DEFAULT_MODEL_NAME, *STRATEGIES]
        data = [
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "reasoning-graph",
                "upstream_model": upstream.model_name,
                "strategy": default.strategy if name == DEFAULT_MODEL_NAME else name,
                "n": default.n,
            }
            for name in names
        ]
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "runs_in_flight": slots.in_flight, "max_in_flight": slots.limit}
        )

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code)
        message = f"{request.method} {request.url.path}: {error.detail}"
        if error.status_code == 404:
            message += "; routes: POST /v1/chat/completions, GET /v1/models, GET /health"
        body = error_body(message, type="invalid_request_error", code=kind)
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    async def server_error(request: Request, error: Exception) -> Response:
        _log.error("unhandled %s on %s", type(error).__name__, request.url.path)
        body = error_body("internal server error", type="server_error")
        return JSONResponse(body, status_code=500)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await upstream.aclose()

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ],
        middleware=[
            Middleware(AccessLog),
            Middleware(
                BearerAuth,
                key=settings.api_key.get_secret_value() if settings.api_key else None,
                open_paths=frozenset({HEALTH_PATH}),
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
