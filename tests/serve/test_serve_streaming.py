"""Streaming shows the search as it happens, and a client that leaves stops the work.

The stub upstream answers each request after a fixed latency, and `revision@N` makes N
sequential upstream calls, so "before the last call ends" is a count of the stub's answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from serve_helpers import QUESTION, Served, stub_settings

from reasoning_graph.testing import OpenAIStubServer

CHAT = "/v1/chat/completions"
LATENCY_S = 0.5


def request(model: str, *, stream: bool = True) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": stream,
        "stream_options": {"include_usage": True},
    }


def deltas(response: httpx.Response) -> Iterator[dict[str, object]]:
    """The `delta` of each chunk of an SSE reply, until `[DONE]`."""
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            return
        chunk = json.loads(line.removeprefix("data: "))
        for choice in chunk["choices"]:
            yield choice["delta"]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.fixture
def slow_stub() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(latency_s=LATENCY_S) as server:
        yield server


def test_progress_streams_before_the_last_upstream_call_ends(
    serve: Callable[..., Served], slow_stub: OpenAIStubServer
):
    served = serve(stub_settings(slow_stub))
    answered_at_first_delta: int | None = None
    answered_at_first_candidate: int | None = None
    content = ""
    with httpx.stream("POST", served.url + CHAT, json=request("revision@3"), timeout=30) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for delta in deltas(reply):
            reasoning = str(delta.get("reasoning_content") or "")
            if reasoning and answered_at_first_delta is None:
                answered_at_first_delta = len(slow_stub.responses)
            if (
                reasoning.startswith(("think c", "revise c"))
                and answered_at_first_candidate is None
            ):
                answered_at_first_candidate = len(slow_stub.responses)
            content += str(delta.get("content") or "")
    assert content == "42"
    assert len(slow_stub.responses) == 3
    assert answered_at_first_delta == 0  # the plan, before any upstream call ended
    assert answered_at_first_candidate == 1  # the first attempt, while two calls remain


def test_client_disconnect_cancels_the_run_and_its_upstream_requests(
    serve: Callable[..., Served], slow_stub: OpenAIStubServer
):
    served = serve(stub_settings(slow_stub))
    with httpx.stream("POST", served.url + CHAT, json=request("revision@6"), timeout=30) as reply:
        received = deltas(reply)  # not closed early: closing the iterator closes the connection
        while not str(next(received).get("reasoning_content") or "").startswith("think c0"):
            pass
        wait_until(lambda: slow_stub.in_flight == 1)  # the first revision is upstream
        reply.close()  # the client leaves
        # The server sees the connection close, cancels the run and its upstream request.
        wait_until(lambda: slow_stub.in_flight == 0, timeout=LATENCY_S * 0.8)
    wait_until(lambda: httpx.get(served.url + "/health").json()["runs_in_flight"] == 0)
    time.sleep(LATENCY_S * 3)
    assert len(slow_stub.requests) == 2  # nothing sent after the client left
    assert len(slow_stub.responses) == 1


def test_client_timeout_on_a_plain_request_cancels_the_run(serve: Callable[..., Served]):
    with OpenAIStubServer(latency_s=3.0) as stub:
        served = serve(stub_settings(stub))
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(served.url + CHAT, json=request("revision@3", stream=False), timeout=0.5)
        wait_until(lambda: stub.in_flight == 0, timeout=2.0)  # long before the 3 s latency
        assert len(stub.requests) == 1 and stub.responses == []


def test_graceful_shutdown_finishes_runs_in_flight(
    serve: Callable[..., Served], slow_stub: OpenAIStubServer
):
    served = serve(stub_settings(slow_stub))
    content: list[str] = []
    started = threading.Event()

    def stream() -> None:
        with httpx.stream("POST", served.url + CHAT, json=request("revision@2"), timeout=30) as r:
            for delta in deltas(r):
                started.set()
                content.append(str(delta.get("content") or ""))

    client = threading.Thread(target=stream)
    client.start()
    assert started.wait(10)
    served.stop()  # what SIGTERM does: stop accepting, let the run finish
    client.join(10)
    assert "".join(content) == "42"
    assert len(slow_stub.responses) == 2
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.url + "/health")


def test_shutdown_past_its_timeout_cancels_runs_in_flight(
    serve: Callable[..., Served], slow_stub: OpenAIStubServer
):
    served = serve(stub_settings(slow_stub), timeout_graceful_shutdown=1)
    started = threading.Event()
    finished: list[bool] = []

    def stream() -> None:
        try:
            with httpx.stream(
                "POST", served.url + CHAT, json=request("revision@8"), timeout=30
            ) as r:
                for _ in deltas(r):
                    started.set()
                finished.append(True)  # [DONE] arrived: not expected
        except httpx.HTTPError:
            finished.append(False)

    client = threading.Thread(target=stream)
    client.start()
    assert started.wait(10)
    began = time.monotonic()
    served.stop()
    assert time.monotonic() - began < 1 + 8 * LATENCY_S  # it did not wait for the run
    client.join(10)
    assert finished == [False]  # the stream was cut, not completed
    wait_until(lambda: slow_stub.in_flight == 0, timeout=2.0)
    assert len(slow_stub.responses) < 8
