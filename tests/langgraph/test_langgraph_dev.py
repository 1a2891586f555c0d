"""`langgraph dev` (in memory) serves `studio.py`'s graph as LangGraph Platform would.

One server per module, on a loopback port, over the bundled stub OpenAI server (no model):
it ignores `n`, as Ollama does, and answers the one-sample request seeded `s` after
`0.05 + 0.4 * (s % 4)` seconds, so the four candidates of a run end at different times.
Driven with the official `langgraph_sdk` client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.testing.openai_server import OpenAIStubServer

pytest.importorskip("langgraph_api", reason="needs langgraph-cli[inmem] (the dev extra)")
from langgraph_sdk import get_client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPH = "reasoning_graph"
QUESTION = {"question": "What is 17 + 25?"}
STEP_S = 0.4
START_TIMEOUT_S = 90.0


def by_seed(body: Mapping[str, Any]) -> float:
    return 0.05 + STEP_S * (int(body.get("seed", 0)) % 4)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _langgraph() -> str:
    found = Path(sys.executable).with_name("langgraph")
    return str(found) if found.exists() else (shutil.which("langgraph") or "langgraph")


def _served_config(directory: Path) -> Path:
    """The project's `langgraph.json` with its paths made absolute, in `directory`, so the
    server keeps its state (`.langgraph_api/`) there and starts with none."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str(ROOT / d) for d in config["dependencies"]]
    config["graphs"] = {name: str(ROOT / spec) for name, spec in config["graphs"].items()}
    path = directory / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev server's URL; its log is printed if it does not come up."""
    directory = tmp_path_factory.mktemp("langgraph_dev")
    config = _served_config(directory)
    log_path = directory / "server.log"
    with OpenAIStubServer(latency_s=by_seed, honour_n=False) as stub, log_path.open("w") as log:
        port = _free_port()
        env = {
            **os.environ,
            "REASONING_GRAPH_BASE_URL": stub.base_url,
            "REASONING_GRAPH_MODEL": "stub-model",
            "OPENAI_API_KEY": "stub-key",
            "PYTHONPATH": str(ROOT),
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        }
        command = [_langgraph(), "dev", "--config", str(config), "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--no-browser", "--no-reload"],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"langgraph dev did not start:\n{log_path.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_the_server_lists_every_config_field(server):
    async with get_client(url=server) as client:
        (assistant,) = await client.assistants.search(
            graph_id=GRAPH, metadata={"created_by": "system"}
        )
        schemas = await client.assistants.get_schemas(assistant["assistant_id"])
        for schema in (schemas["context_schema"], schemas["config_schema"]):
            assert set(schema["properties"]) == set(ReasoningConfig.model_fields)


async def test_context_configurable_and_assistants_configure_the_run(server):
    async with get_client(url=server) as client:
        default = await client.runs.wait(None, GRAPH, input=QUESTION)
        assert len(default["candidates"]) == 4  # studio.py's n=4
        by_context = await client.runs.wait(None, GRAPH, input=QUESTION, context={"n": 2})
        assert len(by_context["candidates"]) == 2 and by_context["plan"]["max_tokens"] == 256
        by_config = await client.runs.wait(
            None, GRAPH, input=QUESTION, config={"configurable": {"n": 3}}
        )
        assert len(by_config["candidates"]) == 3
        saved = await client.assistants.create(GRAPH, context={"n": 1, "max_tokens": 64})
        from_assistant = await client.runs.wait(None, saved["assistant_id"], input=QUESTION)
        assert len(from_assistant["candidates"]) == 1 and from_assistant["plan"]["max_tokens"] == 64
        overridden = await client.runs.wait(
            None, saved["assistant_id"], input=QUESTION, context={"n": 2}
        )
        assert len(overridden["candidates"]) == 2 and overridden["plan"]["max_tokens"] == 64


async def test_an_invalid_value_is_a_run_error(server):
    async with get_client(url=server) as client:
        with pytest.raises(Exception, match=r"(?s)ValidationError.*\bn\b.*greater than or equal"):
            await client.runs.wait(None, GRAPH, input=QUESTION, context={"n": 0}, raise_error=True)


async def test_review_round_trip_with_a_bad_then_a_good_resume(server):
    async with get_client(url=server) as client:
        reviewed = await client.assistants.create(GRAPH, context={"review": True, "n": 2})
        thread = (await client.threads.create())["thread_id"]
        paused = await client.runs.wait(thread, reviewed["assistant_id"], input=QUESTION)
        (request,) = paused["__interrupt__"]
        assert request["value"]["proposed_answer"] == "42" and request["value"]["error"] is None
        again = await client.runs.wait(
            thread, reviewed["assistant_id"], command={"resume": {"bogus": 1}}
        )
        (retry,) = again["__interrupt__"]
        assert "cannot apply review decision" in retry["value"]["error"]
        done = await client.runs.wait(
            thread, reviewed["assistant_id"], command={"resume": {"answer": "41"}}
        )
        assert "__interrupt__" not in done
        assert done["answer"] == "41" and done["selected_id"] is None


async def test_candidates_stream_before_think_ends(server):
    async with get_client(url=server) as client:
        arrivals: dict[str, float] = {}
        think_done = None
        async for part in client.runs.stream(
            None, GRAPH, input=QUESTION, stream_mode=["custom", "updates"]
        ):
            now = time.monotonic()
            if part.event == "custom" and part.data["type"] == "candidate":
                assert part.data["id"] not in arrivals, "a candidate streamed twice"
                arrivals[part.data["id"]] = now
            if part.event == "updates" and "think" in part.data:
                think_done = now
        assert sorted(arrivals) == ["c0", "c1", "c2", "c3"]
        first, last = min(arrivals.values()), max(arrivals.values())
        assert last - first > 2 * STEP_S, arrivals  # spread out, one per request
        assert think_done is not None and think_done - first > 2 * STEP_S
