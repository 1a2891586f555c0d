"""Bad input never gets a 500 or a traceback: hypothesis throws request bodies at the real
server (raw bytes, any JSON, and requests that are nearly right) and every answer is either
a reply or a 4xx in OpenAI's error shape (a 502/504 only if the upstream failed, which the
stub here does not)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import serving, stub_settings

from reasoning_graph import ReasoningConfig
from reasoning_graph.config import STRATEGIES
from reasoning_graph.testing import OpenAIStubServer

CHAT = "/v1/chat/completions"
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
small_ints = st.integers(min_value=-3, max_value=70)
model_names = st.builds(
    lambda name, n, upstream: name + n + upstream,
    st.sampled_from([*STRATEGIES, "reasoning-graph", "", "x"]),
    st.sampled_from(["", "@0", "@1", "@3", "@99999999", "@-1", "@x"]),
    st.sampled_from(["", ":", ":stub-model", ":other", "::"]),
)
turn = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "assistant", "developer"]),
        "content": st.text(min_size=1, max_size=40)
        | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()})),
    },
    optional={"name": st.text(max_size=8)},
)
bad_turn = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "tool", "bot"]) | json_values},
    optional={"content": json_values, "tool_calls": json_values, "name": json_values},
)
valid_requests = st.fixed_dictionaries(
    {
        "model": st.sampled_from(
            ["reasoning-graph", "self_consistency@2", "weighted_vote@1", "revision@2"]
        ),
        "messages": st.lists(turn, max_size=3).map(
            lambda turns: [*turns, {"role": "user", "content": "What is 2+2?"}]
        ),
    },
    optional={
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "n": st.just(1),
        "temperature": st.floats(0, 2),
        "max_tokens": st.integers(100, 1000),
        "seed": st.integers(min_value=0, max_value=2**63 - 1),
        "stop": st.lists(st.text(max_size=5), max_size=3),
        "reasoning_graph": st.dictionaries(
            st.sampled_from(["n", "seed", "temperature", "early_stop", "chains", "max_steps"]),
            st.integers(min_value=1, max_value=3),
            max_size=2,
        ),
    },
)
option_values = small_ints | st.floats(-1, 3) | st.booleans() | st.none() | st.text(max_size=10)
junk = {
    "model": model_names | json_values,
    "messages": st.lists(turn | bad_turn, max_size=4) | json_values,
    "stream": json_values,
    "stream_options": json_values,
    "n": small_ints | json_values,
    "temperature": st.floats(-1, 3) | json_values,
    "max_tokens": small_ints | json_values,
    "max_completion_tokens": small_ints | json_values,
    "seed": st.integers(min_value=-(2**65), max_value=2**65) | json_values,
    "stop": st.text(max_size=5) | json_values,
    "tools": json_values,
    "response_format": json_values,
    "logprobs": json_values,
    "reasoning_graph": st.dictionaries(
        st.sampled_from([*ReasoningConfig.model_fields, "bogus"]), option_values, max_size=4
    )
    | json_values,
}
# A valid request with none, one or two fields replaced by junk: many examples run the graph.
near_requests = st.builds(
    lambda base, spoiled: base | spoiled,
    valid_requests,
    st.lists(st.sampled_from(sorted(junk)), max_size=2, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({key: junk[key] for key in keys})
    ),
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with OpenAIStubServer() as stub:
        config = ReasoningConfig(n=2, max_tokens=32, deadline_s=2.0, max_question_chars=2_000)
        fuzzed = stub_settings(stub, config=config, max_n=4, request_timeout_s=2.0)
        with serving(fuzzed) as served:
            yield served.url


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def check(response: httpx.Response) -> None:
    """A reply, or an OpenAI-shaped client error; never a 500, never a traceback."""
    assert response.status_code < 500 or response.status_code in (502, 504), response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert isinstance(error["message"], str) and error["message"]
        return
    if response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.endswith("data: [DONE]\n\n"), response.text[-300:]
        assert '"error"' not in response.text
    else:
        assert response.json()["choices"][0]["message"]["role"] == "assistant"


def post(http: httpx.Client, body: Any) -> httpx.Response:
    return http.post(CHAT, content=json.dumps(body), headers={"content-type": "application/json"})


@settings(FUZZ, max_examples=150)
@given(body=near_requests)
def test_nearly_right_requests(http: httpx.Client, body: dict[str, Any]):
    check(post(http, body))


@settings(FUZZ, max_examples=80)
@given(body=json_values)
def test_any_json(http: httpx.Client, body: Any):
    check(post(http, body))


@settings(FUZZ, max_examples=60)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes(http: httpx.Client, raw: bytes):
    check(http.post(CHAT, content=raw))
