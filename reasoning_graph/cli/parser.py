"""The `reasoning-graph` argument parser: commands, their options, one-line errors.

The `ReasoningConfig` flags come from the table in `reasoning_graph.cli.flags`; this module
adds what is not config: where the question comes from, the provider, saving, output, and
the bench's lists and files. Building the parser imports nothing heavy, so `--help` and
`--version` are quick.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from reasoning_graph.cli.flags import add_config_flags
from reasoning_graph.config import STRATEGIES, ReasoningConfig
from reasoning_graph.providers.registry import PROVIDERS
from reasoning_graph.serve.command import add_serve_arguments

__all__ = ["EXIT_USAGE", "build_parser"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the rest of the CLI's."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; `main` runs what it parses."""
    parser = _Parser(
        prog="reasoning-graph",
        description="Spend test-time compute to answer better: sample, verify, revise, select.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log the package's DEBUG messages to stderr (default: warnings only)",
    )
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="no progress view (default: shown on stderr)"
    )
    _solve_parser(commands, common)
    _bench_parser(commands, common)
    report = commands.add_parser(
        "report", parents=[common], help="re-write a bench's summary and plots"
    )
    report.add_argument("dir", type=Path, help="a bench --out directory")
    _calibrate_parser(commands, common)
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve an OpenAI-compatible chat API that answers by reasoning",
        description="Serve POST /v1/chat/completions, GET /v1/models and GET /health. "
        "With no provider options, runs the embedded SmolLM2-135M-Instruct model. The "
        "reasoning options set the defaults that a request's model name or "
        "extra_body.reasoning_graph override.",
    )
    add_config_flags(serve, "serve")
    add_provider_options(serve)
    add_serve_arguments(serve)
    doctor = commands.add_parser(
        "doctor", parents=[common], help="check that the embedded model runs on this machine"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument(
        "--extra-buffer-types",
        action="store_true",
        help="probe with llama.cpp's extra buffer types (AMX, repacking) on (default: off)",
    )
    return parser


def _solve_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    solve = commands.add_parser(
        "solve",
        parents=[common],
        help="answer one question",
        description="Answer QUESTION. With no provider options, runs the embedded "
        "SmolLM2-135M-Instruct model on the CPU.",
    )
    source = solve.add_mutually_exclusive_group()
    source.add_argument(
        "question",
        nargs="?",
        default=None,
        help="the question to answer; '-' reads it from standard input",
    )
    source.add_argument(
        "--question-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="read the question from this UTF-8 file ('-': standard input), for questions "
        "too long for one argument or holding bytes a shell drops (default: the argument)",
    )
    add_config_flags(solve, "solve")
    add_provider_options(solve)
    solve.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH.sqlite",
        help="save every step to this SQLite file (needs --thread-id); re-running the same "
        "command resumes an unfinished run, with the settings it started with, or prints a "
        "finished one (default: not saved)",
    )
    solve.add_argument(
        "--thread-id",
        default=None,
        metavar="ID",
        help="names the run in --checkpoint (default: none)",
    )
    solve.add_argument(
        "--json", action="store_true", help="print one JSON object (default: a summary)"
    )


def add_provider_options(command: argparse.ArgumentParser) -> None:
    """Which model answers: shared by `solve`, `bench` and `serve`."""
    command.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=None,
        help="llamacpp (the embedded model) or openai (any OpenAI-compatible server) "
        "(default: openai with --base-url, else llamacpp)",
    )
    command.add_argument(
        "--model",
        default=None,
        help="served model name, or a GGUF path for llamacpp "
        "(default: the embedded SmolLM2-135M-Instruct)",
    )
    command.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible server, e.g. http://localhost:8000/v1 "
        "(default: OpenAI's own API for --provider openai)",
    )
    command.add_argument(
        "--extra-body",
        type=_json_object,
        default=None,
        metavar="JSON",
        help="more JSON fields in every request to that server, its own sampling options, "
        """e.g. '{"repeat_penalty": 1.0}' (llama.cpp) or '{"top_k": 20}' (vLLM) """
        "(default: none)",
    )


def _json_object(text: str) -> dict[str, Any]:
    """An argparse type for a JSON object: `'{"top_k": 20}'` -> `{"top_k": 20}`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object such as '{{\"top_k\": 20}}', got {text!r}"
        )
    return value


def _listed(item: Callable[[str], Any], what: str) -> Callable[[str], list[Any]]:
    """An argparse type for comma-separated lists: `1,2,4` -> `[1, 2, 4]`."""

    def parse(text: str) -> list[Any]:
        try:
            values = [item(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what} separated by commas, got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one of {what}, got {text!r}")
        return values

    return parse


def _strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}"
        )
    return name


def _bench_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    default_strategy = ReasoningConfig.model_fields["strategy"].default
    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="run strategies over a data set at several budgets",
        description="Run every strategy at every n over a data set; write results.jsonl "
        "(resumable), summary.md, summary.json and accuracy plots into --out.",
    )
    bench.add_argument(
        "--data",
        required=True,
        help="data set: gsm8k:PATH, math:PATH, jsonl:PATH?question=F&answer=F, gym:TASK?size=N",
    )
    bench.add_argument(
        "--strategies",
        type=_listed(_strategy, "strategy names"),
        default=[default_strategy],
        metavar="NAME,...",
        help=f"comma-separated strategies (default: {default_strategy})",
    )
    bench.add_argument(
        "--n",
        type=_listed(int, "integers"),
        default=[1, 2, 4, 8],
        metavar="N,...",
        help="generations per question to compare (default: 1,2,4,8)",
    )
    bench.add_argument("--out", type=Path, required=True, help="output directory (resumed)")
    bench.add_argument("--limit", type=int, default=None, help="questions to run (default: all)")
    bench.add_argument("--offset", type=int, default=0, help="questions to skip first (default: 0)")
    add_config_flags(bench, "bench")
    add_provider_options(bench)
    bench.add_argument("--concurrency", type=int, default=4, help="runs in flight (default: 4)")
    caching = bench.add_mutually_exclusive_group()
    caching.add_argument(
        "--cache",
        type=Path,
        help="generation cache to record to (and serve repeats from) (default: none)",
    )
    caching.add_argument(
        "--replay",
        type=Path,
        help="generation cache to replay; no model calls, misses fail (default: none)",
    )
    bench.add_argument(
        "--verifier",
        choices=("default", "oracle"),
        default="default",
        help="default: each strategy's own (an LLM judge where scores are needed); oracle: "
        "grade candidates against the reference answer (an upper bound for search) "
        "(default: default)",
    )


def _calibrate_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    calibrate = commands.add_parser(
        "calibrate", parents=[common], help="fit a compute_optimal policy from bench results"
    )
    calibrate.add_argument("results", type=Path, help="results.jsonl or a bench directory")
    calibrate.add_argument("--out", type=Path, required=True, help="policy file to write")
    calibrate.add_argument(
        "--probe-n", type=int, default=4, help="samples in the difficulty probe (default: 4)"
    )
    calibrate.add_argument(
        "--budgets",
        type=_listed(int, "integers"),
        default=[2, 4, 8, 16],
        metavar="N,...",
        help="budgets in generations to fit plans for (default: 2,4,8,16)",
    )
    calibrate.add_argument("--model", default=None, help="model name (default: from bench.json)")
    calibrate.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="plans within this accuracy of the best count as tied; ties go to fewer tokens "
        "(default: 0.0)",
    )
    calibrate.add_argument(
        "--early-stop",
        choices=("none", "settled", "confidence"),
        default="confidence",
        help="stopping rule compute_optimal applies to voting plans (default: confidence)",
    )
    calibrate.add_argument(
        "--wave-size", type=int, default=2, help="samples per wave after the probe (default: 2)"
    )
    calibrate.add_argument(
        "--prior",
        action="store_true",
        help="fit a difficulty prior (question text features + probe signals, logistic "
        "regression; needs scikit-learn) and bin its continuous score (default: off, the "
        "probe's score)",
    )
    calibrate.add_argument(
        "--solvable-n",
        type=int,
        default=None,
        help="with --prior: the self_consistency n whose result labels a question solvable "
        "(default: the largest n benched)",
    )
    calibrate.add_argument(
        "--give-up-loss",
        type=float,
        default=None,
        help="with --prior: give up before the probe (one sample) below a prior that loses at "
        "most this share of calibration questions solvable at --solvable-n (default: never)",
    )
    calibrate.add_argument(
        "--heldout",
        type=Path,
        default=None,
        help="with --prior: bench results of a held-out split to report the prior's AUROC on "
        "(default: none)",
    )


class _Version(argparse.Action):
    """`--version`, read from the installed package's metadata only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("reasoning-graph")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "(not installed)"
        sys.stdout.write(f"{parser.prog} {number}\n")
        parser.exit()
