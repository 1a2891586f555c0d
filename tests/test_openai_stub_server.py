"""Tests of `OpenAIStubServer` over real loopback HTTP, and `asolve` end to end against it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from reasoning_graph import asolve
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer
from reasoning_graph.testing.openai_server import FaultKind, Faults

MESSAGES = [
    {"role": "system", "content": "You are a careful solver."},  # 5 words
    {"role": "user", "content": "What is 17 + 25?"},  # 5 words
]


def chat(server: OpenAIStubServer, **body: Any) -> httpx.Response:
    payload = {"model": "m", "messages": MESSAGES, **body}
    return httpx.post(f"{server.base_url}/chat/completions", json=payload, timeout=10)


@pytest.fixture
def server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(reply="The answer is 42.") as running:
        yield running


def test_base_url_is_loopback_with_a_picked_port(server: OpenAIStubServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


@pytest.mark.parametrize(("honour_n", "expected"), [(True, 3), (False, 1)])
def test_serves_n_choices_only_when_honouring_n(honour_n: bool, expected: int) -> None:
    with OpenAIStubServer(reply=lambda request, i: f"choice {i}", honour_n=honour_n) as server:
        response = chat(server, n=3)

    assert response.status_code == 200
    data = response.json()
    assert [c["message"]["content"] for c in data["choices"]] == [
        f"choice {i}" for i in range(expected)
    ]
    assert [c["index"] for c in data["choices"]] == list(range(expected))
    assert data["object"] == "chat.completion"
    assert data["model"] == "m"
    assert data["id"].startswith("chatcmpl-")
    assert isinstance(data["created"], int)


def test_usage_counts_words_exactly() -> None:
    replies = ["one two three", "a b c d e f g h i j"]
    with OpenAIStubServer(reply=lambda request, i: replies[i]) as server:
        data = chat(server, n=2, max_tokens=5).json()

    assert [c["message"]["content"] for c in data["choices"]] == ["one two three", "a b c d e"]
    assert [c["finish_reason"] for c in data["choices"]] == ["stop", "length"]
    assert data["usage"] == {"prompt_tokens": 10, "completion_tokens": 3 + 5, "total_tokens": 18}


def test_prompt_words_count_text_content_parts(server: OpenAIStubServer) -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "two words"}]}]
    data = chat(server, messages=parts).json()

    assert data["usage"]["prompt_tokens"] == 2


def test_records_requests_and_responses(server: OpenAIStubServer) -> None:
    chat(server, seed=1)
    chat(server, seed=2, n=2)

    assert [r["seed"] for r in server.requests] == [1, 2]
    assert server.requests[1] == {"model": "m", "messages": MESSAGES, "seed": 2, "n": 2}
    assert [len(r["choices"]) for r in server.responses] == [1, 2]

    server.reset()
    assert server.requests == [] and server.responses == [] and server.peak_in_flight == 0


async def test_counts_peak_in_flight_requests() -> None:
    with OpenAIStubServer(latency_s=0.2) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            payload = {"model": "m", "messages": MESSAGES}
            responses = await asyncio.gather(
                *(client.post("/chat/completions", json=payload) for _ in range(5))
            )
            assert server.in_flight == 0
            await client.post("/chat/completions", json=payload)

    assert all(r.status_code == 200 for r in responses)
    assert server.peak_in_flight == 5
    assert len(server.requests) == 6


def test_lists_models() -> None:
    with OpenAIStubServer(model="stub-1") as server:
        data = httpx.get(f"{server.base_url}/models", timeout=10).json()

    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["stub-1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": "hi"}, "'messages' must be a list"),
        ({"messages": MESSAGES, "n": 0}, "'n' must be an integer >= 1"),
        ({"messages": MESSAGES, "max_tokens": "5"}, "'max_tokens' must be an integer >= 1"),
    ],
)
def test_rejects_bad_requests_in_openai_error_shape(
    server: OpenAIStubServer, body: dict[str, Any], message: str
) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert server.responses == []


def test_rejects_a_body_that_is_not_json(server: OpenAIStubServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{", timeout=10)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_stop_is_idempotent_and_rejects_bad_options() -> None:
    server = OpenAIStubServer().start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        server.base_url  # noqa: B018
    with pytest.raises(ValueError, match="latency_s"):
        OpenAIStubServer(latency_s=-1)


def five_of_eight_say_42(request: Mapping[str, Any], index: int) -> str:
    """Sample k = seed + index: samples 0-4 answer 42, samples 5-7 answer 40 + k."""
    sample = request.get("seed", 0) + index
    if sample < 5:
        return f"Sample {sample}: 17 + 25 = 42. The answer is 42."
    return f"I get {40 + sample}. The answer is {40 + sample}."


@pytest.mark.parametrize(("honour_n", "requests"), [(True, 1), (False, 8)])
async def test_asolve_self_consistency_end_to_end(honour_n: bool, requests: int) -> None:
    with OpenAIStubServer(reply=five_of_eight_say_42, honour_n=honour_n) as server:
        provider = OpenAIProvider("m", base_url=server.base_url, api_key="test")
        try:
            result = await asolve(
                "What is 17 + 25?", generator=provider, strategy="self_consistency", n=8
            )
        finally:
            await provider.aclose()

    assert result.answer == "42"
    assert sorted(c.answer or "" for c in result.candidates) == sorted(
        ["42"] * 5 + ["45", "46", "47"]
    )
    assert len(server.requests) == requests
    assert sorted(r.get("seed", 0) for r in server.requests) == list(range(requests))
    sent = [r["usage"] for r in server.responses]
    assert result.usage.prompt_tokens == sum(u["prompt_tokens"] for u in sent)
    assert result.usage.completion_tokens == sum(u["completion_tokens"] for u in sent)
    assert result.usage.llm_calls == 8  # one per sample, however they were sent
    assert result.usage.requests == requests


# -- fault injection ------------------------------------------------------------------------


def faulty(kind: FaultKind, **options: Any) -> OpenAIStubServer:
    """A server that answers every valid chat request with fault `kind`."""
    return OpenAIStubServer(
        reply="one two three four", faults=Faults(rate=1.0, kinds=[kind], **options)
    )


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [("429", 429, "rate_limit_error"), ("500", 500, "server_error"), ("503", 503, "server_error")],
)
def test_injects_error_statuses(kind: FaultKind, status: int, error_type: str) -> None:
    with faulty(kind) as server:
        response = chat(server)

    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert "retry-after" not in response.headers
    assert server.injected == {kind: 1}
    assert len(server.requests) == 1 and server.responses == []


def test_injects_429_with_a_short_retry_after() -> None:
    with faulty("429_retry_after", retry_after_s=(0.01, 0.05)) as server:
        waits = [float(chat(server, seed=seed).headers["retry-after"]) for seed in range(5)]

    assert all(0.01 <= wait <= 0.05 for wait in waits)
    assert server.injected == {"429_retry_after": 5}


@pytest.mark.parametrize("kind", ["truncated_json", "malformed_json"])
def test_injects_bodies_that_are_not_valid_json(kind: FaultKind) -> None:
    with faulty(kind) as server:
        response = chat(server)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text.startswith('{"id": "chatcmpl-stub-')
    with pytest.raises(ValueError):
        response.json()
    assert server.responses == []


def test_injects_empty_choices() -> None:
    with faulty("empty_choices") as server:
        data = chat(server).json()

    assert data["choices"] == [] and data["object"] == "chat.completion"
    assert data["usage"]["completion_tokens"] == 0
    assert server.responses == []


def test_injects_a_length_cut_in_one_choice_and_keeps_it() -> None:
    with faulty("length") as server:
        data = chat(server, n=3).json()

    choices = data["choices"]
    cut = [c for c in choices if c["finish_reason"] == "length"]
    assert len(cut) == 1 and cut[0]["message"]["content"] == "one two"
    assert sum(c["finish_reason"] == "stop" for c in choices) == 2
    assert data["usage"]["completion_tokens"] == 2 + 4 + 4
    assert server.responses == [data] and server.injected == {"length": 1}


def test_injects_a_connection_reset() -> None:
    with faulty("reset") as server:
        with pytest.raises(httpx.TransportError):
            chat(server)
        assert server.injected == {"reset": 1}
        assert server.responses == []


async def test_injects_a_hang_that_ends_when_the_client_gives_up() -> None:
    with faulty("timeout", hang_s=10.0) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/chat/completions", json={"model": "m", "messages": MESSAGES})
        for _ in range(100):  # the handler is cancelled once the server sees the client leave
            if server.in_flight == 0:
                break
            await asyncio.sleep(0.01)

        assert server.in_flight == 0
        assert server.injected == {"timeout": 1} and server.responses == []


async def test_a_hang_shorter_than_the_client_timeout_is_only_slow() -> None:
    with faulty("timeout", hang_s=0.05) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
            response = await client.post(
                "/chat/completions", json={"model": "m", "messages": MESSAGES}
            )

    assert response.status_code == 200
    assert server.responses == [response.json()]


def test_faults_are_drawn_at_the_given_rate_deterministically_per_seed() -> None:
    def draws(seed: int, seeds: list[int]) -> tuple[dict[int, int], dict[str, int]]:
        faults = Faults(rate=0.3, kinds=["429", "500", "503"], seed=seed)
        with OpenAIStubServer(faults=faults) as server, httpx.Client(timeout=10) as client:
            url = f"{server.base_url}/chat/completions"
            statuses = {
                s: client.post(
                    url, json={"model": "m", "messages": MESSAGES, "seed": s}
                ).status_code
                for s in seeds
            }
            return statuses, server.injected

    forward = list(range(60))
    first, injected = draws(3, forward)
    again, injected_again = draws(3, forward)
    backward, injected_backward = draws(3, forward[::-1])  # arrival order does not matter

    assert first == again == backward
    assert injected == injected_again == injected_backward
    assert 8 <= sum(injected.values()) <= 30
    assert draws(4, forward)[0] != first


def test_where_picks_the_requests_that_get_faults() -> None:
    only_seed_3_first_try = Faults(
        rate=1.0, kinds=["503"], where=lambda body, i: body["seed"] == 3 and i == 0
    )
    with OpenAIStubServer(faults=only_seed_3_first_try) as server:
        statuses = [chat(server, seed=s).status_code for s in (1, 3, 3, 4)]

    assert statuses == [200, 503, 200, 200]
    assert server.injected == {"503": 1}

    server.reset()
    assert server.injected == {}


def test_bad_requests_get_no_faults() -> None:
    with faulty("503") as server:
        response = chat(server, n=0)

    assert response.status_code == 400 and server.injected == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 1.5}, "rate=1.5"),
        ({"kinds": []}, "kinds="),
        ({"kinds": ["404"]}, "429_retry_after"),
        ({"retry_after_s": (0.5, 0.1)}, "retry_after_s"),
        ({"hang_s": 0}, "hang_s"),
    ],
)
def test_bad_fault_options_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(**options)


def test_a_wrong_api_key_gets_401_echoing_it() -> None:
    with OpenAIStubServer(api_key="sk-right") as server:
        wrong = httpx.post(
            f"{server.base_url}/chat/completions",
            json={"model": "m", "messages": MESSAGES},
            headers={"Authorization": "Bearer sk-wrong"},
            timeout=10,
        )
        right = httpx.post(
            f"{server.base_url}/chat/completions",
            json={"model": "m", "messages": MESSAGES},
            headers={"Authorization": "Bearer sk-right"},
            timeout=10,
        )

    assert wrong.status_code == 401 and "sk-wrong" in wrong.json()["error"]["message"]
    assert wrong.json()["error"]["type"] == "invalid_api_key"
    assert right.status_code == 200 and len(server.responses) == 1


# -- the command: python -m reasoning_graph.testing.openai_server -------------------------


def test_the_command_serves_until_sigterm_and_reports():
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-W", "error", "-m", "reasoning_graph.testing.openai_server"]
    command += ["--port", "0", "--reply", "The answer is 7.", "--ignore-n", "--model", "m7"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        models = httpx.get(f"{base_url}/models", timeout=10).json()
        assert [m["id"] for m in models["data"]] == ["m7"]
        body = {"messages": [{"role": "user", "content": "hi"}], "n": 3}
        reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=10).json()
        assert [c["message"]["content"] for c in reply["choices"]] == ["The answer is 7."]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "answered 1 of 1 requests; faults injected: none" in stderr


def test_the_command_rejects_a_bad_fault_rate(capsys):
    from reasoning_graph.testing.serve_stub import main

    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", "--fault-rate", "1.5"])
    assert exited.value.code == 2
    assert "rate=1.5 must be between 0 and 1" in capsys.readouterr().err
