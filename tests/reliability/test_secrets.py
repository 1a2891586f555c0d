"""The API key never leaves `OpenAIProvider`: not in state, checkpoints, streams, logs, files,
errors or reprs, even when the server echoes it back in a 401.

Each test uses `KEY` on a stub server that either accepts it (`good_server`) or refuses it
with a 401 whose message repeats it (`refusing_server`), and looks for `KEY` (and a
distinctive piece of it) in everything a user may see, store or print. The refusal of every
keyed backend (this provider, `RewardModelVerifier`, `LangChainProvider` over `ChatOpenAI`) by
a server that echoes the key in its body, headers and URLs is `test_secrets_backends.py`.
"""

from __future__ import annotations

import json
import socket
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from reasoning_graph import (
    NoCandidatesError,
    ProviderResponseError,
    ProviderUnavailableError,
    ReasoningConfig,
    asolve,
    create_reasoning_graph,
)
from reasoning_graph.bench.datasets import Example, MathDataset
from reasoning_graph.bench.report import write_report
from reasoning_graph.bench.runner import arun_bench
from reasoning_graph.providers.base import ChatMessage
from reasoning_graph.providers.openai import OpenAIProvider
from reasoning_graph.testing import OpenAIStubServer

KEY = "sk-test-SECRET-1234567890"
PIECES = (KEY, "SECRET-1234567890")
QUESTION = "What is 17 + 25?"
MESSAGES: list[ChatMessage] = [{"role": "user", "content": QUESTION}]
CONFIG = ReasoningConfig(strategy="self_consistency", n=4, share_prompt=False)


def assert_no_key(text: str | bytes, where: str) -> None:
    for piece in PIECES:
        found = piece.encode() in text if isinstance(text, bytes) else piece in text
        assert not found, f"the API key leaked into {where}"


def error_texts(error: BaseException) -> Iterator[str]:
    """Everything an error may show: str, repr, args, and the formatted traceback chain."""
    yield "".join(traceback.format_exception(error))
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        current = current.__cause__ or current.__context__


@pytest.fixture
def good_server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def refusing_server() -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(api_key="sk-another-key-0000000000") as server:
        yield server


def provider_for(server: OpenAIStubServer, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(
        "m", base_url=server.base_url, api_key=KEY, retry_backoff_s=0.0, **options
    )


def test_the_refusing_server_echoes_the_key(refusing_server: OpenAIStubServer) -> None:
    """The stub really repeats the key in its 401, so the tests below are not vacuous."""
    import httpx

    response = httpx.post(
        f"{refusing_server.base_url}/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )

    assert response.status_code == 401 and KEY in response.text


def test_not_in_repr_or_attributes(good_server: OpenAIStubServer) -> None:
    provider = provider_for(good_server)

    for text in (repr(provider), str(provider), repr(vars(provider)), repr(provider.retries)):
        assert_no_key(text, "the provider's repr")


async def test_not_in_the_result_nor_in_the_logs(
    good_server: OpenAIStubServer, logs: pytest.LogCaptureFixture
) -> None:
    provider = provider_for(good_server)
    try:
        result = await asolve(QUESTION, generator=provider, config=CONFIG)
    finally:
        await provider.aclose()

    assert result.answer == "42" and len(good_server.responses) == 4
    assert_no_key(result.model_dump_json(), "the Result")
    assert_no_key(repr(result), "the Result's repr")
    assert any(r.name.startswith(("openai", "httpx", "httpcore")) for r in logs.records)
    assert_no_key(logs.text, "the logs")
    assert_no_key(repr([vars(r) for r in logs.records]), "a log record")


async def test_not_in_errors_nor_logs_when_the_server_echoes_it(
    refusing_server: OpenAIStubServer, logs: pytest.LogCaptureFixture
) -> None:
    provider = provider_for(refusing_server)
    try:
        with pytest.raises(ProviderResponseError, match="HTTP 401") as refused:
            await provider.generate(MESSAGES)
        with pytest.raises(NoCandidatesError, match="HTTP 401") as none_left:
            await asolve(QUESTION, generator=provider, config=CONFIG)
    finally:
        await provider.aclose()

    for error in (refused.value, none_left.value):
        for text in error_texts(error):
            assert_no_key(text, "an exception")
    assert "**********" in str(refused.value)  # the echo is there, starred out
    assert any(r.name.startswith(("openai", "httpx", "httpcore")) for r in logs.records)
    assert_no_key(logs.text, "the logs")
    assert_no_key(repr([vars(r) for r in logs.records]), "a log record")


async def test_not_in_connection_errors(logs: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAIProvider(
        "m", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_attempts=2
    )
    try:
        with pytest.raises(ProviderUnavailableError, match="2 attempt") as caught:
            await provider.generate(MESSAGES)
    finally:
        await provider.aclose()

    for text in error_texts(caught.value):
        assert_no_key(text, "a connection error")
    assert_no_key(logs.text, "the logs")


async def test_a_short_key_is_starred_as_a_word_only(refusing_server: OpenAIStubServer) -> None:
    """A placeholder key like "test" is starred where it stands alone, not inside words."""
    provider = OpenAIProvider("m", base_url=refusing_server.base_url, api_key="test")
    try:
        with pytest.raises(ProviderResponseError) as caught:
            await provider.generate(MESSAGES)
    finally:
        await provider.aclose()

    message = str(caught.value)
    assert "Incorrect API key provided: **********." in message
    assert "refused the request with HTTP 401" in message  # no letters starred out


async def run_graph(
    server: OpenAIStubServer, saver: AsyncSqliteSaver, thread: str
) -> tuple[list[Any], list[Any], list[BaseException]]:
    """Stream one question through a checkpointed graph, twice (`astream` over several modes,
    then `astream_events`), each stream in its own `try`: a refused run raises only after it
    streamed what it did, and those chunks are kept. Returns the chunks, the events of
    `astream_events` and the state snapshot, and the errors raised."""
    provider = provider_for(server, max_attempts=1)
    graph = create_reasoning_graph(provider, config=CONFIG).compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": thread}}
    chunks: list[Any] = []
    events: list[Any] = []
    errors: list[BaseException] = []
    try:
        try:
            async for chunk in graph.astream(
                {"question": QUESTION},
                config,
                stream_mode=["values", "updates", "debug", "custom"],
            ):
                chunks.append(chunk)
        except NoCandidatesError as raised:
            errors.append(raised)
        try:
            async for event in graph.astream_events(
                {"question": QUESTION}, {"configurable": {"thread_id": thread + "-events"}}
            ):
                events.append(event)
        except NoCandidatesError as raised:
            errors.append(raised)
    finally:
        await provider.aclose()
    events.append(await graph.aget_state(config))
    return chunks, events, errors


async def test_not_in_checkpoints_state_or_streamed_events(
    tmp_path: Path, good_server: OpenAIStubServer, refusing_server: OpenAIStubServer
) -> None:
    """Plant: let a failure entry or a `failure` event carry the provider error's raw text
    (the 401 echo) -> the key is in the streamed chunks and events and in the database.
    The refused run's streams raise at the end; what they streamed before is checked too
    (before, `astream` raised first and `astream_events` never ran: 0 events checked)."""
    database = tmp_path / "checkpoints.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(database)) as saver:
        answered, answered_events, no_errors = await run_graph(good_server, saver, "answered")
        refused, refused_events, errors = await run_graph(refusing_server, saver, "refused")

    files = sorted(tmp_path.glob("checkpoints.sqlite*"))  # the database and its WAL, if any
    stored = b"".join(path.read_bytes() for path in files)
    assert_no_key(stored, "the checkpoint database")
    checked = 0
    for chunks in (answered, answered_events, refused, refused_events):
        for chunk in chunks:
            assert_no_key(repr(chunk), "a streamed chunk or event, or the state")
            assert_no_key(json.dumps(chunk, default=repr), "a streamed chunk or event")
            checked += 1
    for error in errors:
        for text in error_texts(error):
            assert_no_key(text, "the run's error")

    assert no_errors == [] and answered_events[-1].values["answer"] == "42"
    assert len(errors) == 2 and all(isinstance(e, NoCandidatesError) for e in errors)
    refused_modes = [mode for mode, _ in refused]
    assert {"values", "updates", "debug", "custom"} <= set(refused_modes)  # streamed, checked
    assert len(refused_events) > 1 and checked > len(answered) + len(answered_events)
    failure_events = [c for m, c in refused if m == "custom" and c["type"] == "failure"]
    assert failure_events and all("**********" in e["message"] for e in failure_events)
    failures = refused_events[-1].values["failures"]  # the 401 echo is in state, starred out
    assert failures and all("**********" in f["message"] for f in failures)
    assert QUESTION.encode() in stored and b"**********" in stored  # the grep does see text


async def test_not_in_bench_results(
    tmp_path: Path, good_server: OpenAIStubServer, refusing_server: OpenAIStubServer
) -> None:
    dataset = MathDataset(
        "toy", [Example(id=f"q{i}", question=QUESTION, gold="42") for i in (1, 2)]
    )
    for server, out in ((good_server, tmp_path / "ok"), (refusing_server, tmp_path / "refused")):
        provider = provider_for(server)
        try:
            records = await arun_bench(
                dataset,
                strategies=["self_consistency"],
                ns=[2],
                generator=provider,
                base_config=CONFIG,
                out_dir=out,
                progress=False,
                fail_fast=False,
            )
        finally:
            await provider.aclose()
        write_report(records, out)

    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    for path in written:
        assert_no_key(path.read_bytes(), str(path.relative_to(tmp_path)))

    assert {"results.jsonl", "bench.json", "summary.md", "summary.json"} <= {
        p.name for p in written
    }
    assert json.loads((tmp_path / "ok" / "results.jsonl").read_text().splitlines()[0])["correct"]
    refused = (tmp_path / "refused" / "results.jsonl").read_text().splitlines()
    errors = [json.loads(line)["error"] for line in refused]
    assert len(errors) == 2 and all("HTTP 401" in e and "**********" in e for e in errors)


def test_the_check_does_find_the_key() -> None:
    """`assert_no_key` does find the key, so a pass above means something."""
    with pytest.raises(AssertionError):
        assert_no_key(json.dumps({"k": KEY}), "a test mapping")
    with pytest.raises(AssertionError):
        assert_no_key(b"..." + KEY[3:].encode(), "bytes")
    sample: Mapping[str, str] = {"k": "fine"}
    assert_no_key(json.dumps(sample), "a clean mapping")
