"""Every error the server answers is JSON in OpenAI's shape, with the right status, over raw
HTTP to the real server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from serve_helpers import QUESTION, Served, stub_settings

from reasoning_graph import ReasoningConfig
from reasoning_graph.serve import ServeSettings
from reasoning_graph.testing import OpenAIStubServer

CHAT = "/v1/chat/completions"


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "self_consistency@2", "messages": [{"role": "user", "content": QUESTION}]} | (
        fields
    )


def assert_openai_error(response: httpx.Response, status: int, **expected: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    for key, value in expected.items():
        assert error[key] == value, error
    return error


@pytest.fixture
def http(served: Served) -> httpx.Client:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


def test_bad_json(http: httpx.Client):
    response = http.post(CHAT, content=b'{"model": ', headers={"content-type": "application/json"})
    assert_openai_error(response, 400, type="invalid_request_error", code="invalid_json")


def test_deeply_nested_json_is_a_400_not_a_crash(http: httpx.Client):
    response = http.post(CHAT, content=b"[" * 200_000 + b"]" * 200_000)
    assert_openai_error(response, 400, code="invalid_json")


def test_body_that_is_not_an_object(http: httpx.Client):
    assert_openai_error(http.post(CHAT, json=[1, 2]), 400)


def test_unknown_strategy(http: httpx.Client):
    error = assert_openai_error(
        http.post(CHAT, json=body(model="gpt-4o")), 400, param="model", code="model_not_found"
    )
    assert "self_consistency@8" in error["message"]  # the grammar is explained


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"bogus": 1}, "reasoning_graph.bogus"),
        ({"n": 0}, "reasoning_graph.n"),
        ({"strategy": "nope"}, "reasoning_graph.strategy"),
        ({"temperature": "hot"}, "reasoning_graph.temperature"),
        ({"policy": "/etc/passwd"}, "reasoning_graph.policy"),
        ({"review": True}, "reasoning_graph.review"),
        ({"deadline_s": 10_000}, "reasoning_graph.deadline_s"),
        ({"deadline_s": None}, "reasoning_graph.deadline_s"),
        ({"max_question_chars": 10**9}, "reasoning_graph.max_question_chars"),
    ],
)
def test_bad_reasoning_graph_options(http: httpx.Client, options: dict[str, Any], param: str):
    response = http.post(CHAT, json=body(reasoning_graph=options))
    assert_openai_error(response, 400, type="invalid_request_error", param=param)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages.0.content",
        ),
        ({"model": "self_consistency@100000"}, "model"),
        ({"model": "reasoning-graph@4"}, "model"),
    ],
)
def test_bad_request_fields(http: httpx.Client, fields: dict[str, Any], param: str):
    assert_openai_error(http.post(CHAT, json=body(**fields)), 400, param=param)


def test_an_upstream_model_on_the_embedded_model_is_refused(serve: Callable[..., Served]):
    pytest.importorskip("llama_cpp")
    served = serve(ServeSettings())  # the embedded model: loads nothing until a generation
    response = httpx.post(served.url + CHAT, json=body(model="self_consistency@2:gpt-4o"))
    assert_openai_error(response, 400, param="model", code="model_not_found")


def test_oversize_body(serve: Callable[..., Served], stub: OpenAIStubServer):
    served = serve(stub_settings(stub, max_body_bytes=10_000))
    big = body(messages=[{"role": "user", "content": "x" * 20_000}])
    response = httpx.post(served.url + CHAT, json=big)
    assert_openai_error(response, 413, code="request_too_large")


def test_oversize_chunked_body(serve: Callable[..., Served], stub: OpenAIStubServer):
    """A body without Content-Length is cut off at the limit as it streams in."""
    served = serve(stub_settings(stub, max_body_bytes=10_000))

    def chunks():
        yield b'{"model": "self_consistency@2", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 2_000
        yield b'"}]}'

    response = httpx.post(served.url + CHAT, content=chunks())
    assert_openai_error(response, 413, code="request_too_large")


def test_question_too_long(serve: Callable[..., Served], stub: OpenAIStubServer):
    settings = stub_settings(stub, config=ReasoningConfig(n=2, max_question_chars=100))
    served = serve(settings)
    response = httpx.post(
        served.url + CHAT, json=body(messages=[{"role": "user", "content": "x" * 101}])
    )
    error = assert_openai_error(response, 400, param="messages")
    assert "max_question_chars=100" in error["message"]


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic c2VjcmV0", "Bearer"])
def test_missing_or_wrong_key(
    serve: Callable[..., Served], stub: OpenAIStubServer, header: str | None
):
    served = serve(stub_settings(stub, api_key="sk-server-key-123456"))
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.post(served.url + CHAT, json=body(), headers=headers)
    error = assert_openai_error(response, 401, code="invalid_api_key")
    assert "wrong-key" not in error["message"]
    assert stub.requests == []
    assert httpx.get(served.url + "/v1/models", headers=headers).status_code == 401
    assert httpx.get(served.url + "/health").status_code == 200  # open for load balancers


def test_right_key_gets_in(serve: Callable[..., Served], stub: OpenAIStubServer):
    served = serve(stub_settings(stub, api_key="sk-server-key-123456"))
    client = openai.OpenAI(base_url=served.base_url, api_key="sk-server-key-123456")
    reply = client.chat.completions.create(model="self_consistency@1", messages=body()["messages"])
    assert reply.choices[0].message.content == "42"


def test_overload_gets_429_with_retry_after(serve: Callable[..., Served]):
    with OpenAIStubServer(latency_s=1.0) as slow:
        served = serve(stub_settings(slow, max_in_flight=2, retry_after_s=3))
        results: list[httpx.Response] = []

        def call() -> None:
            results.append(httpx.post(served.url + CHAT, json=body(), timeout=30))

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while httpx.get(served.url + "/health").json()["runs_in_flight"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        refused = httpx.post(served.url + CHAT, json=body())
        for thread in threads:
            thread.join()
    error = assert_openai_error(refused, 429, type="rate_limit_error")
    assert refused.headers["retry-after"] == "3"
    assert "limit of 2" in error["message"]
    assert [r.status_code for r in results] == [200, 200]  # the runs in flight are unharmed
    assert httpx.get(served.url + "/health").json()["runs_in_flight"] == 0


def test_upstream_down_is_a_502(serve: Callable[..., Served]):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    settings = ServeSettings(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        upstream_api_key="unused",
        config=ReasoningConfig(n=2, share_prompt=False),
    )
    served = serve(settings)
    response = httpx.post(served.url + CHAT, json=body(), timeout=60)
    error = assert_openai_error(response, 502, type="upstream_error", code="upstream_failed")
    assert "no candidate survived" in error["message"]


def test_upstream_down_while_streaming_is_an_sse_error(serve: Callable[..., Served]):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = ServeSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m")
    served = serve(settings)
    client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="self_consistency@1", messages=body()["messages"], stream=True
    )
    with pytest.raises(openai.APIError, match="upstream model failed"):
        list(stream)


def test_a_budget_too_small_is_a_400_before_streaming(served: Served):
    response = httpx.post(
        served.url + CHAT,
        json=body(model="weighted_vote@2", stream=True, max_tokens=3),  # no room for the judge
    )
    assert_openai_error(response, 400, code="budget_too_small")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("GET", CHAT, 405), ("POST", "/v1/models", 405)],
)
def test_unknown_routes_and_methods(http: httpx.Client, method: str, path: str, status: int):
    assert_openai_error(http.request(method, path), status)


def test_request_deadline_returns_the_best_answer_so_far(serve: Callable[..., Served]):
    with OpenAIStubServer(latency_s=0.6) as slow:
        served = serve(stub_settings(slow, request_timeout_s=1.0))
        response = httpx.post(served.url + CHAT, json=body(model="revision@5"), timeout=30)
    assert response.status_code == 200, response.text
    result = response.json()["reasoning_graph"]
    assert 1 <= len(result["candidates"]) < 5
    assert result["failures"][-1]["error"] == "DeadlineExceededError"


def test_request_deadline_with_no_answer_yet_is_a_504(serve: Callable[..., Served]):
    with OpenAIStubServer(latency_s=2.0) as slow:
        served = serve(stub_settings(slow, request_timeout_s=0.5))
        response = httpx.post(served.url + CHAT, json=body(), timeout=30)
    assert_openai_error(response, 504, type="timeout", code="deadline_exceeded")
