"""The `reasoning-graph` command line: parsing and printing only.

```
reasoning-graph solve "What is 17 + 25?" --strategy self_consistency --n 8 --json
reasoning-graph solve "What is 17 + 25?" --n 8 --max-calls 6 --deadline-s 30 \
    --checkpoint runs.sqlite --thread-id q1
reasoning-graph bench --data gsm8k:test.jsonl --strategies self_consistency,weighted_vote \
    --n 1,2,4,8,16 --out runs/gsm8k --limit 100 --base-url http://localhost:8000/v1 --model M
reasoning-graph report runs/gsm8k
reasoning-graph calibrate runs/gsm8k --out policy.json --probe-n 4 --budgets 2,4,8,16
```

The bench commands' bodies live in `reasoning_graph.bench.commands`.

Bad input ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from reasoning_graph.answers import AnswerMatcher
from reasoning_graph.config import STRATEGIES, ReasoningConfig, clean_question
from reasoning_graph.errors import ConfigurationError, ReasoningGraphError
from reasoning_graph.events import ReasoningEvent, describe_event
from reasoning_graph.providers.registry import PROVIDERS, make_generator
from reasoning_graph.result import Result
from reasoning_graph.serve.command import add_serve_arguments, run_serve
from reasoning_graph.solve import asolve, build_config, run_blocking, sqlite_checkpointer

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the rest of the CLI's."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reasoning-graph",
        description="Spend test-time compute to answer better: sample, verify, revise, select.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    defaults = ReasoningConfig()
    solve_cmd = commands.add_parser(
        "solve",
        help="answer one question",
        description="Answer QUESTION. With no provider options, runs the embedded "
        "SmolLM2-135M-Instruct model on the CPU.",
    )
    solve_cmd.add_argument("question", help="the question to answer")
    solve_cmd.add_argument(
        "--strategy", choices=STRATEGIES, default=defaults.strategy, help="how to spend samples"
    )
    solve_cmd.add_argument("--n", type=int, default=defaults.n, help="generations to spend")
    solve_cmd.add_argument(
        "--chains", type=int, default=None, help="parallel chains for parallel_revision"
    )
    solve_cmd.add_argument(
        "--early-stop",
        choices=("none", "settled", "confidence"),
        default="none",
        help="stop self_consistency once the vote is settled (compute_optimal: its policy's rule)",
    )
    solve_cmd.add_argument(
        "--no-share-prompt",
        action="store_true",
        help="send one request per sample instead of one request with n",
    )
    _model_options(solve_cmd, defaults)
    solve_cmd.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH.sqlite",
        help="save every step to this SQLite file (needs --thread-id); re-running the same "
        "command resumes an unfinished run or prints a finished one",
    )
    solve_cmd.add_argument(
        "--thread-id", default=None, metavar="ID", help="names the run in --checkpoint"
    )
    solve_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    solve_cmd.add_argument("--quiet", action="store_true", help="no progress view")
    _bench_parsers(commands, defaults)
    add_serve_arguments(
        commands.add_parser(
            "serve",
            help="serve an OpenAI-compatible chat API that answers by reasoning",
            description="Serve POST /v1/chat/completions, GET /v1/models and GET /health. "
            "With no provider options, runs the embedded SmolLM2-135M-Instruct model.",
        )
    )
    return parser


def _model_options(command: argparse.ArgumentParser, defaults: ReasoningConfig) -> None:
    """The budget, sampling, search and provider options `solve` and `bench` share."""
    command.add_argument(
        "--beam-width",
        type=int,
        default=None,
        help="step search: next steps per kept beam, M (default: min(4, sqrt(n)))",
    )
    command.add_argument(
        "--max-steps",
        type=int,
        default=defaults.max_steps,
        help=f"step search: most steps per beam (default: {defaults.max_steps})",
    )
    command.add_argument(
        "--lookahead",
        type=int,
        default=defaults.lookahead,
        help=f"lookahead: greedy rollout steps per new step (default: {defaults.lookahead})",
    )
    command.add_argument(
        "--step-tokens",
        type=int,
        default=None,
        help="step search: most completion tokens per step (default: --max-tokens)",
    )
    command.add_argument(
        "--budget-tokens", type=int, default=None, help="hard cap on completion tokens"
    )
    command.add_argument(
        "--max-tokens", type=int, default=defaults.max_tokens, help="tokens per generation"
    )
    command.add_argument("--temperature", type=float, default=defaults.temperature)
    command.add_argument("--seed", type=int, default=defaults.seed)
    command.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=None,
        help="llamacpp (default; embedded model) or openai (any OpenAI-compatible server)",
    )
    command.add_argument(
        "--model", default=None, help="served model name, or a GGUF path for llamacpp"
    )
    command.add_argument(
        "--base-url", default=None, help="OpenAI-compatible server, e.g. http://localhost:8000/v1"
    )
    command.add_argument(
        "--policy", default=None, help="policy file for compute_optimal (default: the shipped one)"
    )
    command.add_argument(
        "--max-calls",
        type=int,
        default=None,
        help="hard cap on model calls per question: one per generation, one per verifier score",
    )
    command.add_argument(
        "--deadline-s",
        type=float,
        default=None,
        help="wall-clock seconds per question; then the best answer so far is returned",
    )
    command.add_argument(
        "--max-question-chars",
        type=int,
        default=defaults.max_question_chars,
        help=f"longest question accepted (default: {defaults.max_question_chars})",
    )


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


def _bench_parsers(commands: Any, defaults: ReasoningConfig) -> None:
    bench = commands.add_parser(
        "bench",
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
        default=[defaults.strategy],
        metavar="NAME,...",
        help=f"comma-separated strategies (default: {defaults.strategy})",
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
    bench.add_argument("--offset", type=int, default=0, help="questions to skip first")
    _model_options(bench, defaults)
    bench.add_argument("--concurrency", type=int, default=4, help="runs in flight (default: 4)")
    caching = bench.add_mutually_exclusive_group()
    caching.add_argument(
        "--cache", type=Path, help="generation cache to record to (and serve repeats from)"
    )
    caching.add_argument(
        "--replay", type=Path, help="generation cache to replay; no model calls, misses fail"
    )
    bench.add_argument(
        "--verifier",
        choices=("default", "oracle"),
        default="default",
        help="default: each strategy's own (an LLM judge where scores are needed); oracle: "
        "grade candidates against the reference answer (an upper bound for search)",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    report = commands.add_parser("report", help="re-write a bench's summary and plots")
    report.add_argument("dir", type=Path, help="a bench --out directory")
    calibrate = commands.add_parser(
        "calibrate", help="fit a compute_optimal policy from bench results"
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
        help="plans within this accuracy of the best count as tied; ties go to fewer tokens",
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


_EVENT_STYLES = {
    "plan": "bold",
    "difficulty": "cyan",
    "early_stop": "yellow",
    "failure": "red",
    "review": "magenta",
    "selected": "green",
    "budget": "dim",
}


class _LiveView:
    """The live view on stderr: one line per event above a spinner with the spend so far."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status = Status("loading the model...", console=console)
        self._candidates = 0

    def __enter__(self) -> _LiveView:
        self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.stop()

    def __call__(self, event: ReasoningEvent) -> None:
        # Answers come from model text: print them as text, never as rich markup.
        indent = "  " if event["type"] in ("candidate", "scored", "failure") else ""
        self._console.print(
            indent + describe_event(event),
            style=_EVENT_STYLES.get(event["type"], ""),
            markup=False,
            highlight=False,
        )
        if event["type"] == "candidate":
            self._candidates += 1
            self._status.update(f"thinking: {self._candidates} candidate(s)")
        elif event["type"] == "budget":
            self._status.update(
                f"thinking: {self._candidates} candidate(s), "
                f"{event['spent_tokens']} completion tokens, {event['spent_calls']} calls"
            )


def _print_human(result: Result, console: Console) -> None:
    # Answers come from model text: print them as text, never as rich markup.
    answer = escape(result.answer) if result.answer is not None else "-"
    console.print(f"[bold]Answer:[/bold] {answer}")
    difficulty = result.difficulty
    level = f"bin {difficulty.bin}/5" if difficulty.bin is not None else "not estimated"
    console.print(
        f"{result.strategy}, {len(result.candidates)} candidates, difficulty {level}, "
        f"{result.usage.completion_tokens} completion + {result.usage.prompt_tokens} prompt "
        f"tokens in {result.usage.llm_calls} calls",
        style="dim",
    )
    answers = [c.answer for c in result.candidates]
    groups = sorted(AnswerMatcher().groups(answers), key=len, reverse=True)
    votes = [f"{answers[group[0]]} x{len(group)}" for group in groups]
    abstained = answers.count(None)
    if abstained:
        votes.append(f"(no answer) x{abstained}")
    console.print("votes: " + ", ".join(votes), style="dim", markup=False)
    if result.failures:
        console.print(f"{len(result.failures)} branch(es) failed and were skipped", style="yellow")


def _solve(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {
        "strategy": args.strategy,
        "n": args.n,
        "budget_tokens": args.budget_tokens,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
        "chains": args.chains,
        "share_prompt": not args.no_share_prompt,
        "early_stop": args.early_stop,
        "policy": args.policy,
        **_limits(args),
    }
    config = build_config(None, options)
    question = clean_question(args.question, max_chars=config.max_question_chars)
    if (args.checkpoint is None) != (args.thread_id is None):
        raise ConfigurationError(
            "--checkpoint and --thread-id go together: pass both to save (and resume) a run"
        )
    generator = make_generator(args.provider, model=args.model, base_url=args.base_url)
    show_progress = not (args.json or args.quiet)
    with _LiveView(Console(stderr=True)) if show_progress else nullcontext() as view:

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
    if args.json:
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False) + "\n")
    else:
        _print_human(result, Console())
    return 0


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    """The per-question limits and step-search settings `solve` and `bench` share."""
    return {
        "max_calls": args.max_calls,
        "deadline_s": args.deadline_s,
        "max_question_chars": args.max_question_chars,
        "beam_width": args.beam_width,
        "max_steps": args.max_steps,
        "lookahead": args.lookahead,
        "step_tokens": args.step_tokens,
    }


def _run(args: argparse.Namespace) -> int:
    from reasoning_graph.bench import commands

    if args.command == "bench":
        options: dict[str, Any] = {
            "budget_tokens": args.budget_tokens,
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "seed": args.seed,
            "policy": args.policy,
            **_limits(args),
        }
        return commands.bench_command(
            data=args.data,
            strategies=args.strategies,
            ns=args.n,
            out=args.out,
            limit=args.limit,
            offset=args.offset,
            options=options,
            provider=args.provider,
            model=args.model,
            base_url=args.base_url,
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
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 on success, 2 on bad input or a failed run)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return run_serve(args)
        return _solve(args) if args.command == "solve" else _run(args)
    except ReasoningGraphError as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"reasoning-graph: error: {message}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("reasoning-graph: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
