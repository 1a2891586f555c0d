"""`reasoning-graph serve`: an OpenAI-compatible chat server that answers by running the graph.

`create_app(settings)` builds the ASGI app (it needs the `serve` extra: starlette, and
uvicorn to run it); `ServeSettings` configures it. See docs/serving.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reasoning_graph.serve.settings import DEFAULT_MODEL_NAME, ServeSettings

if TYPE_CHECKING:
    from reasoning_graph.serve.app import create_app

__all__ = ["DEFAULT_MODEL_NAME", "ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # `create_app` imports starlette: load it on first use, so that the CLI (which imports
    # `reasoning_graph.serve.command`) works without the `serve` extra.
    if name == "create_app":
        from reasoning_graph.serve.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
