"""The `reasoning-graph` command line; `main` is its entry point (see `cli.main`)."""

from reasoning_graph.cli.main import main

__all__ = ["main"]
