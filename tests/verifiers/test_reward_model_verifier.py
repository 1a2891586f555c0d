"""Tests of `RewardModelVerifier` against respx-mocked vLLM pooling routes (no network).

The bodies are shaped as vLLM's `PoolingResponse` / `ClassificationResponse` /
`TokenizeResponse` (vllm/entrypoints/pooling/{pooling,classify}/protocol.py) serialise them.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import httpx
import pytest
import respx

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.verifiers.base import StepVerifier, Verifier
from reasoning_graph.verifiers.reward_model import PRM_SYSTEM_PROMPT, RewardModelVerifier

ROOT = "http://prm.test"
MODEL = "Qwen/Qwen2.5-Math-PRM-7B"
USAGE = {
    "prompt_tokens": 42,
    "total_tokens": 42,
    "completion_tokens": 0,
    "prompt_tokens_details": None,
}


def pooling_body(rows: list[list[float]]) -> dict[str, Any]:
    """vLLM's PoolingResponse for one input: `data[0].data` is a list of rows."""
    return {
        "id": "pool-1",
        "object": "list",
        "created": 1745383213,
        "model": MODEL,
        "data": [{"index": 0, "object": "pooling", "data": rows}],
        "usage": USAGE,
    }


def classify_body(probs: list[float]) -> dict[str, Any]:
    """vLLM's ClassificationResponse for one input."""
    return {
        "id": "classify-1",
        "object": "list",
        "created": 1745383213,
        "model": MODEL,
        "data": [{"index": 0, "label": "LABEL_1", "probs": probs, "num_classes": len(probs)}],
        "usage": USAGE,
    }


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def router():
    with respx.mock(base_url=ROOT, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps):
    clients: list[httpx.AsyncClient] = []

    def build(**options: Any) -> RewardModelVerifier:
        client = httpx.AsyncClient()
        clients.append(client)
        base_url = options.pop("base_url", ROOT)
        settings: dict[str, Any] = {"http_client": client, "sleep": sleeps, **options}
        return RewardModelVerifier(base_url, MODEL, **settings)

    yield build
    for client in clients:
        await client.aclose()


async def test_process_scores_steps_at_the_markers_with_step_pooling(router, make) -> None:
    route = router.post("/pooling").respond(json=pooling_body([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3]]))
    prm = make()
    verdict = await prm.score_steps("What is 2+2?", ["2+2=4.", "So 4.", "Answer: 5"])
    assert verdict.step_scores == pytest.approx([0.9, 0.8, 0.3])
    # three step scores from one pass: one call, one request
    assert verdict.usage == {
        "prompt_tokens": 42,
        "completion_tokens": 0,
        "llm_calls": 1,
        "requests": 1,
    }
    sent = json.loads(route.calls[0].request.content)
    assert sent["model"] == MODEL and sent["task"] == "token_classify"
    assert sent["messages"] == [
        {"role": "system", "content": PRM_SYSTEM_PROMPT},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2=4.<extra_0>So 4.<extra_0>Answer: 5<extra_0>"},
    ]


async def test_score_splits_the_solution_and_aggregates(router, make) -> None:
    router.post("/pooling").respond(json=pooling_body([[0.1, 0.9], [0.6, 0.4]]))
    last = await make().score("q", "Step one.\n\nStep two.")
    assert last.score == pytest.approx(0.4)
    router.post("/pooling").respond(json=pooling_body([[0.1, 0.9], [0.6, 0.4]]))
    product = await make(aggregation="product").score("q", "Step one.\n\nStep two.")
    assert product.score == pytest.approx(0.36)
    assert product.rationale is not None and "0.900" in product.rationale


async def test_v1_suffix_is_stripped_and_routes_sit_at_the_root(router, make) -> None:
    route = router.post("/pooling").respond(json=pooling_body([[0.0, 1.0]]))
    prm = make(base_url=f"{ROOT}/v1/")
    assert prm.base_url == ROOT
    await prm.score_steps("q", ["a"])
    assert route.calls[0].request.url == httpx.URL(f"{ROOT}/pooling")


async def test_marker_inside_a_step_is_removed(router, make) -> None:
    route = router.post("/pooling").respond(json=pooling_body([[0.0, 1.0]]))
    await make().score_steps("q", ["tricky <extra_0> step"])
    content = json.loads(route.calls[0].request.content)["messages"][-1]["content"]
    assert content.count("<extra_0>") == 1


async def test_all_pooling_rows_are_picked_at_marker_tokens_via_tokenize(router, make) -> None:
    # Math-Shepherd style: plain text, the marker " ки", one row per token (ALL pooling).
    rows = [[0.5, 0.5], [0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]
    router.post("/pooling").respond(json=pooling_body(rows))
    marker_tokens = {"count": 1, "max_model_len": 4096, "tokens": [12902], "token_strs": None}
    prompt_tokens = {
        "count": 5,
        "max_model_len": 4096,
        "tokens": [1, 7, 12902, 8, 12902],
        "token_strs": None,
    }

    def tokenize(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json=marker_tokens if body["prompt"] == "ки" else prompt_tokens)

    tokenize_route = router.post("/tokenize").mock(side_effect=tokenize)
    prm = make(step_marker=" ки\n", prompt_format="text", positive_index=0)
    verdict = await prm.score_steps("2+2?", ["Step 1: 4", "Step 2: done"])
    assert verdict.step_scores == pytest.approx([0.9, 0.2])
    assert json.loads(tokenize_route.calls[0].request.content)["add_special_tokens"] is False
    assert json.loads(tokenize_route.calls[1].request.content)["prompt"] == (
        "2+2? Step 1: 4 ки\nStep 2: done ки\n"
    )
    await prm.score_steps("2+2?", ["Step 1: 4", "Step 2: done"])
    assert tokenize_route.call_count == 3  # the marker's id is looked up once


async def test_rows_that_match_no_marker_give_a_clear_error(router, make) -> None:
    router.post("/pooling").respond(json=pooling_body([[0.5, 0.5]] * 4))
    router.post("/tokenize").respond(
        json={"count": 4, "max_model_len": 10, "tokens": [1, 2, 3, 4], "token_strs": None}
    )
    with pytest.raises(ProviderResponseError, match="marker 0 times.*STEP pooling"):
        await make(step_token_id=99).score_steps("q", ["a", "b"])


async def test_outcome_posts_classify_and_takes_the_positive_class(router, make) -> None:
    route = router.post("/classify").respond(json=classify_body([0.25, 0.75]))
    orm = make(kind="outcome", system_prompt=None)
    verdict = await orm.score("q", "The answer is 4.")
    assert verdict.score == pytest.approx(0.75)
    assert verdict.usage["llm_calls"] == 1 and verdict.usage["completion_tokens"] == 0
    sent = json.loads(route.calls[0].request.content)
    assert sent["messages"][0] == {"role": "user", "content": "q"}
    assert "task" not in sent


async def test_outcome_single_class_is_the_score_and_steps_score_prefixes(router, make) -> None:
    route = router.post("/classify").respond(json=classify_body([0.6]))
    orm = make(kind="outcome", prompt_format="text")
    verdict = await orm.score_steps("q", ["a", "b"])
    assert verdict.step_scores == [0.6, 0.6]
    assert verdict.usage["llm_calls"] == 2
    inputs = sorted(json.loads(call.request.content)["input"] for call in route.calls)
    assert inputs == ["q a", "q a\n\nb"]


async def test_outcome_steps_a_failed_prefix_carries_what_the_others_spent(router, make) -> None:
    """Each prefix is its own request; when one is refused, the error raised carries the
    usage of the prefixes scored in `spent`, for the graph to charge (before, it was lost)."""

    def by_prefix(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["input"] == "q a\n\nb":
            return httpx.Response(400, json={"error": {"message": "too long"}})
        return httpx.Response(200, json=classify_body([0.6]))

    router.post("/classify").mock(side_effect=by_prefix)
    orm = make(kind="outcome", prompt_format="text")
    with pytest.raises(ProviderResponseError) as caught:
        await orm.score_steps("q", ["a", "b", "c"])
    assert caught.value.spent == {
        "prompt_tokens": 84,
        "completion_tokens": 0,
        "llm_calls": 2,
        "requests": 2,
    }


async def test_retries_429_honouring_retry_after_then_succeeds(router, make, sleeps) -> None:
    router.post("/pooling").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}, json={"error": {"message": "busy"}}),
            httpx.Response(503),
            httpx.Response(200, json=pooling_body([[0.0, 1.0]])),
        ]
    )
    prm = make()
    verdict = await prm.score_steps("q", ["a"])
    assert verdict.step_scores == [1.0]
    assert sleeps.delays[0] == 3.0
    assert prm.retries.by_reason == {"http_429": 1, "http_503": 1}


async def test_garbled_json_is_retried(router, make) -> None:
    router.post("/classify").mock(
        side_effect=[
            httpx.Response(
                200, headers={"content-type": "application/json"}, content=b'{"data": ['
            ),
            httpx.Response(200, json=classify_body([0.1, 0.9])),
        ]
    )
    assert (await make(kind="outcome").score("q", "s")).score == pytest.approx(0.9)


async def test_exhausted_retries_raise_provider_unavailable(router, make) -> None:
    router.post("/pooling").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ProviderUnavailableError, match="after 2 attempt"):
        await make(max_attempts=2).score_steps("q", ["a"])


async def test_bad_request_is_final_and_quotes_the_server(router, make) -> None:
    route = router.post("/pooling").respond(
        400,
        json={
            "error": {
                "message": "Task token_classify is not supported",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        },
    )
    with pytest.raises(
        ProviderResponseError, match="HTTP 400: Task token_classify is not supported"
    ):
        await make().score_steps("q", ["a"])
    assert route.call_count == 1


async def test_not_found_hints_at_the_pooling_runner(router, make) -> None:
    router.post("/pooling").respond(404, json={"detail": "Not Found"})
    with pytest.raises(ProviderResponseError, match="--runner pooling"):
        await make().score_steps("q", ["a"])


async def test_a_web_page_is_a_final_response_error(router, make) -> None:
    route = router.post("/classify").respond(200, html="<html>hello</html>")
    with pytest.raises(ProviderResponseError, match="not JSON"):
        await make(kind="outcome").score("q", "s")
    assert route.call_count == 1


async def test_probabilities_out_of_range_are_rejected(router, make) -> None:
    router.post("/pooling").respond(json=pooling_body([[-3.2, 4.1]]))
    with pytest.raises(ProviderResponseError, match="use_activation"):
        await make().score_steps("q", ["a"])


async def test_api_key_is_sent_as_bearer_and_never_shown(router, make) -> None:
    route = router.post("/pooling").respond(json=pooling_body([[0.0, 1.0]]))
    prm = make(api_key="sk-very-secret-123456")
    await prm.score_steps("q", ["a"])
    assert route.calls[0].request.headers["authorization"] == "Bearer sk-very-secret-123456"
    assert "secret" not in repr(prm)


async def test_a_refusal_echoing_the_key_never_shows_it(router, make) -> None:
    """Plant: post without the shared HTTP layer's redaction (as before it, `raise ... from exc`
    with the server's message verbatim) -> the key is in `str(error)` and the traceback."""
    key = "sk-very-secret-123456"
    router.post("/classify").respond(
        401, json={"error": {"message": f"Incorrect API key provided: {key}."}}
    )
    with pytest.raises(ProviderResponseError, match="HTTP 401") as caught:
        await make(kind="outcome", api_key=key).score("q", "s")

    assert "Incorrect API key provided: **********." in str(caught.value)
    assert key not in "".join(traceback.format_exception(caught.value))
    error: BaseException | None = caught.value
    while error is not None:
        assert key not in str(error) and key not in repr(error)
        error = error.__cause__ or error.__context__


async def test_empty_solution_scores_zero_without_a_request(router, make) -> None:
    verdict = await make().score("q", "  \n\n ")
    assert verdict.score == 0.0 and verdict.usage["llm_calls"] == 0


def test_protocols_and_reserve() -> None:
    prm = RewardModelVerifier(ROOT, MODEL)
    assert isinstance(prm, Verifier) and isinstance(prm, StepVerifier)
    assert prm.reserve_tokens == 0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kind": "both"}, "kind"),
        ({"aggregation": "median"}, "aggregation"),
        ({"prompt_format": "xml"}, "prompt_format"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_options_are_configuration_errors(options, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        RewardModelVerifier(ROOT, MODEL, **options)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        RewardModelVerifier("localhost:8000", MODEL)
