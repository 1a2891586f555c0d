"""Keys never leave the server: not the upstream key (even when the upstream echoes it in a
401), not the server's own key, in no response, SSE stream or log line.

Part of the secrets suite of issue 13 (tests/reliability/test_secrets.py covers the
library; this covers `reasoning-graph serve`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
import pytest
from serve_helpers import QUESTION, Served, stub_settings

from reasoning_graph.serve.middleware import ACCESS_LOGGER
from reasoning_graph.testing import OpenAIStubServer

UPSTREAM_KEY = "sk-upstream-SECRET-1234567890"
SERVER_KEY = "sk-server-PRIVATE-0987654321"
PIECES = (UPSTREAM_KEY, "SECRET-1234567890", SERVER_KEY, "PRIVATE-0987654321")
LOGGERS = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "uvicorn", "reasoning_graph")
CHAT = "/v1/chat/completions"


def assert_no_key(text: str, where: str) -> None:
    for piece in PIECES:
        assert piece not in text, f"a key leaked into {where}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def echoing_upstream() -> OpenAIStubServer:
    """An upstream that refuses our key with a 401 that repeats it."""
    with OpenAIStubServer(api_key="sk-another-key-0000000000") as server:
        yield server


@pytest.fixture
def served(echoing_upstream: OpenAIStubServer, serve: Callable[..., Served]) -> Served:
    return serve(stub_settings(echoing_upstream, upstream_api_key=UPSTREAM_KEY, api_key=SERVER_KEY))


def chat(served: Served, **fields: object) -> httpx.Response:
    body = {"model": "self_consistency@2", "messages": [{"role": "user", "content": QUESTION}]}
    return httpx.post(
        served.url + CHAT,
        json=body | fields,
        headers={"Authorization": f"Bearer {SERVER_KEY}"},
        timeout=30,
    )


def test_upstream_echo_of_the_key_never_reaches_the_client_or_the_logs(
    served: Served, echoing_upstream: OpenAIStubServer, logs: pytest.LogCaptureFixture
):
    response = chat(served)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "HTTP 401" in message and "Incorrect API key provided: *****" in message  # scrubbed
    assert echoing_upstream.requests  # each answered by a 401 that repeats UPSTREAM_KEY
    assert_no_key(response.text, "the error response")
    assert_no_key(str(dict(response.headers)), "the response headers")

    streamed = chat(served, stream=True, stream_options={"include_usage": True})
    assert streamed.status_code == 200
    assert '"error"' in streamed.text and streamed.text.endswith("data: [DONE]\n\n")
    assert_no_key(streamed.text, "the SSE stream")

    def access() -> list[str]:
        return [r.getMessage() for r in logs.records if r.name == ACCESS_LOGGER]

    deadline = time.monotonic() + 5
    while len(access()) < 2:  # written just after the last byte is sent
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert all('"error": "upstream_failed"' in line for line in access())
    for record in logs.records:
        assert_no_key(record.getMessage(), f"the log record of {record.name}")
        if record.exc_info:
            assert_no_key(logging.Formatter().formatException(record.exc_info), "a traceback")


def test_a_wrong_client_key_is_never_echoed(served: Served, logs: pytest.LogCaptureFixture):
    wrong = "sk-client-GUESS-5555555555"
    response = httpx.post(
        served.url + CHAT, json={}, headers={"Authorization": f"Bearer {wrong}"}, timeout=30
    )
    assert response.status_code == 401
    assert wrong not in response.text
    for record in logs.records:
        assert wrong not in record.getMessage()
        assert_no_key(record.getMessage(), f"the log record of {record.name}")
