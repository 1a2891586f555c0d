"""`python -m reasoning_graph.testing.openai_server`: the stub server, run from a shell.

```bash
python -m reasoning_graph.testing.openai_server --port 8000 --latency 0.2
reasoning-graph solve "What is 17 + 25?" --base-url http://127.0.0.1:8000/v1 --model stub-model
```

It prints the base URL on one line of stdout once it listens, serves until Ctrl-C or
SIGTERM, then prints how many requests it answered on stderr. The options are
`OpenAIStubServer`'s knobs: latency, a fixed reply, whether `n` is honoured, the model name,
a required API key, and fault injection (`Faults`). Needs `aiohttp` (the `dev` extra).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import cast

from reasoning_graph.testing.faults import FAULT_KINDS, FaultKind, Faults
from reasoning_graph.testing.openai_server import DEFAULT_REPLY, OpenAIStubServer

__all__ = ["main"]

PROG = "python -m reasoning_graph.testing.openai_server"


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until interrupted (or until `stop` is set); return the exit code.

    Example:
        ```python
        main(["--port", "8000", "--latency", "0.2"])
        ```
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = (
            Faults(
                rate=args.fault_rate,
                seed=args.fault_seed,
                kinds=cast(list[FaultKind], args.fault_kinds),
            )
            if args.fault_rate > 0
            else None
        )
    except ValueError as error:
        parser.error(str(error))
    server = OpenAIStubServer(
        args.reply,
        latency_s=args.latency,
        honour_n=not args.ignore_n,
        model=args.model,
        port=args.port,
        faults=faults,
        api_key=args.api_key,
    )
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except OSError as error:
        sys.stderr.write(f"{PROG}: error: cannot listen on port {args.port}: {error}\n")
        return 2
    try:
        print(server.base_url, flush=True)
        sys.stderr.write(f"{PROG}: serving {args.model!r} on {server.base_url}; Ctrl-C stops it\n")
        stop.wait()
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    sys.stderr.write(
        f"{PROG}: answered {len(server.responses)} of {len(server.requests)} requests; "
        f"faults injected: {server.injected or 'none'}\n"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A scripted OpenAI-compatible chat server on 127.0.0.1, for trying the "
        "CLI and benchmarks without a model. Usage is counted in words.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on; 0 picks a free one (default: 8000)",
    )
    parser.add_argument(
        "--latency",
        type=_non_negative,
        default=0.0,
        metavar="SECONDS",
        help="wait before answering each chat request (default: 0)",
    )
    parser.add_argument(
        "--reply", default=DEFAULT_REPLY, help=f"text of every choice (default: {DEFAULT_REPLY!r})"
    )
    parser.add_argument(
        "--ignore-n",
        action="store_true",
        help="return one choice whatever n is, as Ollama and llama.cpp servers do "
        "(default: n choices, as OpenAI and vLLM)",
    )
    parser.add_argument(
        "--model", default="stub-model", help="model listed by /v1/models (default: stub-model)"
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="require this key as 'Authorization: Bearer KEY' (default: accept any)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of chat requests answered with a fault, 0 to 1 (default: 0, none)",
    )
    parser.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault draws (default: 0)"
    )
    parser.add_argument(
        "--fault-kinds",
        type=_kinds,
        default=list(FAULT_KINDS),
        metavar="KIND,...",
        help=f"faults to pick from (default: all of {','.join(FAULT_KINDS)})",
    )
    return parser


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def _kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind(s) {', '.join(unknown) or text!r}; choose from "
            f"{', '.join(FAULT_KINDS)}"
        )
    return kinds
