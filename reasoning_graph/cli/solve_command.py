"""The body of `reasoning-graph solve`: read the question, run it, print the result."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console

from reasoning_graph.cli.flags import config_options, flag_of
from reasoning_graph.cli.view import LiveView, print_summary
from reasoning_graph.config import clean_question
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.options import build_config
from reasoning_graph.providers.registry import make_generator
from reasoning_graph.result import Result
from reasoning_graph.solve import asolve, run_blocking, sqlite_checkpointer
from reasoning_graph.strategies import POLICY_USERS, strategy_spec

__all__ = ["read_question", "solve_command"]

_log = logging.getLogger(__name__)


def solve_command(args: argparse.Namespace) -> int:
    """Answer the question `args` name; print JSON or a summary; return the exit code.

    Raises:
        ConfigurationError: No question, an unreadable question file, an invalid option,
            `--policy` without `--strategy compute_optimal`, or `--checkpoint` without
            `--thread-id` (or the reverse).
    """
    options = config_options(args, "solve")
    config = build_config(None, options)
    if "policy" in options and not strategy_spec(config.strategy).uses_policy:
        users = " or ".join(f"--strategy {name}" for name in POLICY_USERS)
        raise ConfigurationError(
            f"--policy is read by {users} only, not {config.strategy}: "
            f"drop --policy, or pass {users}"
        )
    question = clean_question(
        read_question(args.question, args.question_file), max_chars=config.max_question_chars
    )
    if (args.checkpoint is None) != (args.thread_id is None):
        raise ConfigurationError(
            "--checkpoint and --thread-id go together: pass both to save (and resume) a run"
        )
    generator = make_generator(
        args.provider, model=args.model, base_url=args.base_url, extra_body=args.extra_body
    )
    _log.debug("model %s, %s", generator.model_name, config.model_dump(exclude_defaults=True))
    show_progress = not (args.json or args.quiet)
    with LiveView(Console(stderr=True)) if show_progress else nullcontext() as view:

        async def run() -> Result:
            if args.checkpoint is None:
                return await asolve(question, generator=generator, config=config, on_event=view)
            async with sqlite_checkpointer(args.checkpoint) as saver:
                return await asolve(
                    question,
                    generator=generator,
                    config=config,
                    on_event=view,
                    checkpointer=saver,
                    thread_id=args.thread_id,
                )

        result = run_blocking(run, generator)
    if result.ignored_options:
        ignored = ", ".join(
            f"{flag_of(o.name, o.given)} (the run keeps {o.kept!r})" for o in result.ignored_options
        )
        sys.stderr.write(
            f"reasoning-graph: note: thread {args.thread_id!r} continues with the settings it "
            f"started with; not applied: {ignored}\n"
        )
    for note in result.notes:
        sys.stderr.write(f"reasoning-graph: note: {note}\n")
    if args.json:
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
    else:
        print_summary(result, Console())
    return 0


def read_question(question: str | None, path: Path | None) -> str:
    """The question text: the argument, standard input (`-`), or a file, read as UTF-8.

    Bytes that are not UTF-8 are kept as lone surrogates, which `clean_question` turns into
    U+FFFD; a byte-order mark is dropped.

    Raises:
        ConfigurationError: No question was given, or the file cannot be read.
    """
    if question is None and path is None:
        raise ConfigurationError(
            "no question: give it as an argument, '-' to read standard input, or "
            "--question-file PATH"
        )
    if path is None and question != "-":
        return str(question)
    from_stdin = path is None or str(path) == "-"
    try:
        if from_stdin:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode()
        else:
            assert path is not None
            data = path.read_bytes()
    except OSError as error:
        where = "standard input" if from_stdin else str(path)
        raise ConfigurationError(
            f"cannot read the question from {where}: {error.strerror or error}; "
            "pass a readable UTF-8 file"
        ) from None
    return data.decode("utf-8-sig", errors="surrogateescape")
