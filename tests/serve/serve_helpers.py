"""Helpers for the server tests: the real server (uvicorn on a loopback port, on its own
thread and event loop) in front of the bundled stub upstream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from reasoning_graph import ReasoningConfig
from reasoning_graph.serve import ServeSettings, create_app
from reasoning_graph.testing import OpenAIStubServer

QUESTION = "What is 17 + 25?"


@dataclass
class Served:
    """A running server: its root URL, the uvicorn server and its thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root, for an SDK's `base_url`."""
        return f"{self.url}/v1"

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the server did not stop"


@contextmanager
def serving(settings: ServeSettings, **config: Any) -> Iterator[Served]:
    """Run `create_app(settings)` under uvicorn on 127.0.0.1 and a free port."""
    options: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "on"}
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, **{**options, **config})
    )
    thread = threading.Thread(target=server.run, name="reasoning-graph-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server failed to start"
        assert time.monotonic() < deadline, "the server did not start in 20 s"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    served = Served(f"http://127.0.0.1:{port}", server, thread)
    try:
        yield served
    finally:
        if thread.is_alive():
            served.stop()


def stub_settings(stub: OpenAIStubServer, **options: Any) -> ServeSettings:
    """Settings for a server in front of `stub`, with a small default run."""
    defaults: dict[str, Any] = {
        "base_url": stub.base_url,
        "model": "stub-model",
        "upstream_api_key": "upstream-key-not-checked",
        "config": ReasoningConfig(n=3, share_prompt=False, max_tokens=64),
    }
    return ServeSettings(**{**defaults, **options})
