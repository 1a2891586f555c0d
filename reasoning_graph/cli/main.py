"""`main`: parse the command line, run the command, turn errors into one line and exit 2.

```
reasoning-graph solve "What is 17 + 25?" --strategy self_consistency --n 8 --json
reasoning-graph solve - --n 8 < question.txt
reasoning-graph solve "What is 17 + 25?" --n 8 --max-calls 6 --deadline-s 30 \
    --checkpoint runs.sqlite --thread-id q1
reasoning-graph bench --data gsm8k:test.jsonl --strategies self_consistency,weighted_vote \
    --n 1,2,4,8,16 --out runs/gsm8k --limit 100 --base-url http://localhost:8000/v1 --model M
reasoning-graph report runs/gsm8k
reasoning-graph calibrate runs/gsm8k --out policy.json --probe-n 4 --budgets 2,4,8,16
```

Modules: `parser` (the commands and their options; `flags` maps options to
`ReasoningConfig` fields from one table), `solve_command` and `view` (solve and what it
shows), `reasoning_graph.bench.commands` (bench, report, calibrate). Each command's modules
are imported when it runs, so `--help` imports none of the models' libraries.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from reasoning_graph.cli.flags import config_options
from reasoning_graph.cli.parser import EXIT_USAGE, build_parser
from reasoning_graph.errors import ReasoningGraphError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 on success, 2 on bad input or a failed run)."""
    args = build_parser().parse_args(argv)
    try:
        with _logging(verbose=args.verbose, quiet=args.quiet):
            return _run(args)
    except ReasoningGraphError as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"reasoning-graph: error: {message}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("reasoning-graph: interrupted\n")
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "solve":
        from reasoning_graph.cli.solve_command import solve_command

        return solve_command(args)
    if args.command == "serve":
        from reasoning_graph.serve.command import run_serve

        return run_serve(args)
    if args.command == "doctor":
        from reasoning_graph.doctor import doctor_command

        return doctor_command(json_output=args.json, extra_buffer_types=args.extra_buffer_types)
    from reasoning_graph.bench import commands

    if args.command == "bench":
        return commands.bench_command(
            data=args.data,
            strategies=args.strategies,
            ns=args.n,
            out=args.out,
            limit=args.limit,
            offset=args.offset,
            options=config_options(args, "bench"),
            provider=args.provider,
            model=args.model,
            base_url=args.base_url,
            extra_body=args.extra_body,
            cache=args.cache,
            replay=args.replay,
            concurrency=args.concurrency,
            quiet=args.quiet,
            verifier=args.verifier,
        )
    if args.command == "report":
        return commands.report_command(args.dir)
    return commands.calibrate_command(
        args.results,
        out=args.out,
        probe_n=args.probe_n,
        budgets=args.budgets,
        model=args.model,
        tolerance=args.tolerance,
        early_stop=args.early_stop,
        wave_size=args.wave_size,
        prior=args.prior,
        solvable_n=args.solvable_n,
        give_up_loss=args.give_up_loss,
        heldout=args.heldout,
    )


@contextmanager
def _logging(*, verbose: bool, quiet: bool) -> Iterator[None]:
    """`-v`: the package's DEBUG messages on stderr; `-q`: errors only; else warnings."""
    import logging  # here, not at the top: `--help` exits before it is needed

    logger = logging.getLogger("reasoning_graph")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("reasoning-graph: %(levelname)s: %(message)s"))
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    before = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


if __name__ == "__main__":
    sys.exit(main())
