"""The shared HTTP layer (`reasoning_graph.providers.http`): clients per event loop, retries,
error translation and key redaction, tested over `httpx.MockTransport` (no network).

`OpenAIProvider` and `RewardModelVerifier` are tested through it in their own suites and in
`tests/reliability/`; these tests pin the layer's own contract.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from reasoning_graph.errors import (
    ConfigurationError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from reasoning_graph.providers.http import ErrorHints, HttpLayer, HttpLimits, error_message
from reasoning_graph.providers.redaction import STARS, Redactor

KEY = "sk-layer-SECRET-0123456789"
HINTS = ErrorHints(unusable="Check base_url.", by_status={401: "Check the API key."})


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def layer_over(
    handler: Callable[[httpx.Request], httpx.Response], **options: Any
) -> HttpLayer[httpx.AsyncClient]:
    """A layer whose clients answer with `handler`; the key is `KEY`."""
    return HttpLayer(
        make_client=lambda: httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        close_client=httpx.AsyncClient.aclose,
        api_key=SecretStr(KEY),
        hints=HINTS,
        sleep=Sleeps(),
        **options,
    )


async def post(layer: HttpLayer[httpx.AsyncClient]) -> dict[str, Any]:
    async def call(client: httpx.AsyncClient) -> dict[str, Any]:
        response = await client.post(
            "http://server.test/route", headers=layer.bearer_headers(), json={}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    return await layer.send(call, where="http://server.test/route")


def everything_shown(error: BaseException) -> str:
    """The formatted traceback and the str and repr of every error in the chain."""
    texts = ["".join(traceback.format_exception(error))]
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


def test_a_long_secret_is_starred_everywhere_a_short_one_as_a_word() -> None:
    redact = Redactor(["sk-0123456789", "test", ""])

    assert redact("sk-0123456789 and xsk-0123456789y") == f"{STARS} and x{STARS}y"
    assert redact("test: a test of attestation") == f"{STARS}: a {STARS} of attestation"
    assert Redactor([])("nothing to hide") == "nothing to hide"
    assert "0123456789" not in repr(redact)


def test_a_secret_is_found_anywhere_down_the_chain() -> None:
    redact = Redactor([KEY])
    inner = ValueError(f"the server said {KEY}")
    outer = RuntimeError("wrapped")
    outer.__context__ = inner

    assert redact.shows_secret(outer)
    assert not redact.shows_secret(RuntimeError("clean"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"message": "model not found", "code": 404}}, "model not found"),
        ({"message": "unwrapped by the SDK"}, "unwrapped by the SDK"),
        ({"error": "a bare error string"}, "a bare error string"),
        ({"detail": "Not Found"}, "Not Found"),
        ("Ollama says no", "Ollama says no"),
        ({"unexpected": 1}, None),
        (None, None),
    ],
)
def test_error_message_reads_every_known_shape(body: Any, message: str | None) -> None:
    assert error_message(body) == message


@pytest.mark.parametrize(
    ("limits", "named"),
    [
        ({"max_concurrency": 0}, "max_concurrency=0"),
        ({"max_attempts": 0}, "max_attempts=0"),
        ({"timeout_s": 0.0}, "timeout_s=0.0"),
        ({"retry_backoff_s": -1.0}, "retry_backoff_s=-1.0"),
    ],
)
def test_limits_out_of_range_are_configuration_errors(limits: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        HttpLimits(**limits)


async def test_a_refusal_echoing_the_key_is_starred_and_not_chained() -> None:
    """Plant: drop the `redact(...)` around the messages in `HttpLayer._translate`, or chain
    the SDK/httpx error unconditionally -> the key shows in the message or the traceback."""

    def refuse(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(401, json={"error": {"message": f"Incorrect key {sent}"}})

    layer = layer_over(refuse)
    with pytest.raises(ProviderResponseError) as caught:
        await post(layer)
    await layer.aclose()

    assert str(caught.value) == (
        f"http://server.test/route refused the request with HTTP 401: Incorrect key {STARS}. "
        "Check the API key."
    )
    assert KEY not in everything_shown(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_a_clean_failure_is_chained_and_retried_with_a_count() -> None:
    """Plant: never chain the cause (debugging loses the SDK error), or stop counting
    retries -> fails."""
    calls: list[int] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    layer = layer_over(unavailable, limits=HttpLimits(max_attempts=3, retry_backoff_s=0.0))
    with pytest.raises(ProviderUnavailableError, match="still failing after 3 attempt") as caught:
        await post(layer)
    await layer.aclose()

    assert len(calls) == 3 and layer.retries.by_reason == {"http_503": 2}
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


async def test_a_garbled_body_is_retried_then_unusable_with_the_hint() -> None:
    layer = layer_over(lambda request: httpx.Response(200, text='{"cut": sho'))
    with pytest.raises(
        ProviderResponseError, match=r"unusable after 4 attempt\(s\): JSONDecodeError: .*base_url"
    ):
        await post(layer)
    await layer.aclose()
    assert layer.retries.by_reason == {"invalid_json": 3}


async def test_a_library_error_inside_the_call_is_not_translated() -> None:
    layer = layer_over(lambda request: httpx.Response(200, json={}))

    async def call(client: httpx.AsyncClient) -> None:
        raise ConfigurationError("a bad option, not the server's doing")

    with pytest.raises(ConfigurationError, match="bad option"):
        await layer.send(call, where="here")


def test_each_event_loop_gets_its_own_client_and_a_shared_one_is_never_closed() -> None:
    """Plant: keep one client for every loop -> the second `asyncio.run` reuses a client
    bound to a closed loop; close the caller's client -> its owner finds it closed."""
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient(transport=httpx.MockTransport(ok)))
        return made[-1]

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    layer: HttpLayer[httpx.AsyncClient] = HttpLayer(
        make_client=make, close_client=httpx.AsyncClient.aclose, api_key=SecretStr(""), hints=HINTS
    )

    async def twice_then_close() -> None:
        await post(layer)
        await post(layer)
        await layer.aclose()

    asyncio.run(twice_then_close())
    asyncio.run(twice_then_close())

    assert len(made) == 2 and all(client.is_closed for client in made)
    assert layer.bearer_headers() == {}

    shared = httpx.AsyncClient(transport=httpx.MockTransport(ok))
    layer = HttpLayer(
        make_client=make,
        close_client=httpx.AsyncClient.aclose,
        shared_client=shared,
        api_key=SecretStr(KEY),
        hints=HINTS,
    )
    asyncio.run(twice_then_close())
    asyncio.run(twice_then_close())

    assert len(made) == 2 and not shared.is_closed
    assert layer.bearer_headers() == {"Authorization": f"Bearer {KEY}"}
    asyncio.run(shared.aclose())
