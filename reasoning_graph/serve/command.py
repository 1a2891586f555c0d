"""The body of `reasoning-graph serve`: its options and `run_serve`.

```
reasoning-graph serve                                    # the embedded model on :8000
reasoning-graph serve --base-url http://localhost:8001/v1 --model Qwen/Qwen2.5-7B-Instruct \
    --strategy weighted_vote --n 8 --port 8000
REASONING_GRAPH_API_KEY=sk-mine reasoning-graph serve    # clients must send this key
```

Importing this module needs no server package: `starlette` and `uvicorn` (the `serve`
extra) are imported when the server starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from pydantic import ValidationError

from reasoning_graph.cli.flags import config_options
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.options import build_config
from reasoning_graph.serve.settings import ServeSettings

__all__ = ["API_KEY_ENV", "add_serve_arguments", "run_serve", "settings_from_args"]

API_KEY_ENV = "REASONING_GRAPH_API_KEY"
_INSTALL_HINT = "pip install 'reasoning-graph[serve]'"
_LOCAL_IN_FLIGHT = 4  # the embedded model serialises generations: queue few runs


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the server's own options to `parser` (the `serve` subcommand's parser).

    The reasoning defaults (`--strategy`, `--n`, budgets, `--policy`, ...) and the upstream
    (`--provider`, `--model`, `--base-url`) are the same flags as `solve`'s, added by
    `reasoning_graph.cli.parser` from its one table.
    """
    server = ServeSettings.model_fields
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"key clients must send as a bearer token (default: ${API_KEY_ENV}; none: open)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help=f"runs at once, 429 beyond (default: {server['max_in_flight'].default}; "
        f"{_LOCAL_IN_FLIGHT} on the embedded model)",
    )
    parser.add_argument(
        "--upstream-concurrency",
        type=int,
        default=server["upstream_concurrency"].default,
        help="most requests in flight to the upstream server",
    )
    parser.add_argument(
        "--max-n", type=int, default=server["max_n"].default, help="most n a request may ask"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=server["max_body_bytes"].default,
        help="largest request body (413 beyond)",
    )
    parser.add_argument(
        "--request-timeout-s",
        type=float,
        default=server["request_timeout_s"].default,
        help="deadline of every run; then the best answer so far",
    )
    parser.add_argument(
        "--shutdown-timeout-s",
        type=int,
        default=30,
        help="on SIGTERM/Ctrl-C, let runs in flight finish this long, then cancel them",
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The `ServeSettings` that parsed `serve` options describe.

    Raises:
        ConfigurationError: An option is out of range.
    """
    config = build_config(None, config_options(args, "serve"))
    local = (args.provider or ("openai" if args.base_url else "llamacpp")) == "llamacpp"
    in_flight = args.max_in_flight
    if in_flight is None:
        in_flight = (
            _LOCAL_IN_FLIGHT if local else ServeSettings.model_fields["max_in_flight"].default
        )
    options: dict[str, Any] = {
        "provider": args.provider,
        "model": args.model,
        "base_url": args.base_url,
        "upstream_extra_body": args.extra_body,
        "api_key": args.api_key or os.environ.get(API_KEY_ENV) or None,
        "config": config,
        "max_in_flight": in_flight,
        "max_n": args.max_n,
        "upstream_concurrency": args.upstream_concurrency,
        "max_body_bytes": args.max_body_bytes,
        "request_timeout_s": args.request_timeout_s,
    }
    try:
        return ServeSettings.model_validate(options)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]).replace("_", "-")
        raise ConfigurationError(f"--{field}: {first['msg']} (got {first['input']!r})") from None


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; return the exit code.

    Raises:
        ConfigurationError: A bad option, or the `serve` extra is missing.
    """
    settings = settings_from_args(args)
    try:
        import uvicorn

        from reasoning_graph.serve.app import create_app
    except ImportError as error:
        raise ConfigurationError(
            f"reasoning-graph serve needs the `serve` extra ({error.name} is missing): "
            f"{_INSTALL_HINT}"
        ) from None
    app = create_app(settings)
    _log_to_stderr(args.log_level)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        access_log=False,  # ours is structured: reasoning_graph.serve.access
        log_level=args.log_level,
        timeout_graceful_shutdown=args.shutdown_timeout_s,
        lifespan="on",
    )
    uvicorn.Server(config).run()
    return 0


def _log_to_stderr(level: str) -> None:
    """The server's own logs (JSON access lines among them) go to stderr, one per line."""
    logger = logging.getLogger("reasoning_graph.serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
