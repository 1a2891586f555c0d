"""The bundled stub upstream in its own process, as a real server would be.

Run in the benchmark's own process, `OpenAIStubServer` shares the GIL with the client it
answers, so its request handling shows up as the client's overhead. `StubProcess` starts it
with `python -c` and talks to it over the child's stdin and stdout: `reset` forgets the
recorded requests, `stats` returns how many chat requests it saw and the most in flight.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType
from typing import Self

_CHILD = """\
import sys
from reasoning_graph.testing import OpenAIStubServer
server = OpenAIStubServer(latency_s=float(sys.argv[1])).start()
print(server.base_url, flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "reset":
        server.reset()
        print("ok", flush=True)
    elif command == "stats":
        print(len(server.requests), server.peak_in_flight, flush=True)
server.stop()
"""


class StubProcess:
    """`OpenAIStubServer(latency_s=latency)` in a child process; `base_url` once entered."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = self._ask(None)
        if not self.base_url.startswith("http"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the stub process did not start (it printed {self.base_url!r})")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reset(self) -> None:
        """Forget the requests recorded so far and the peak in flight."""
        self._ask("reset")

    def stats(self) -> tuple[int, int]:
        """(chat requests seen since the last reset, most of them in flight at once)."""
        requests, peak = self._ask("stats").split()
        return int(requests), int(peak)

    def _ask(self, command: str | None) -> str:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("StubProcess is not running: use it as a context manager")
        if command is not None:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        return process.stdout.readline().strip()
