"""The bodies of the `bench`, `report` and `calibrate` commands; `cli.py` only parses.

Each takes plain options, prints what it made and returns the exit code; errors are
`ReasoningGraphError`s, which the CLI prints as one line (exit code 2).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.table import Table

from reasoning_graph.bench.manifest import manifest_model
from reasoning_graph.bench.records import RESULTS_FILE, load_records
from reasoning_graph.bench.report import format_summary, write_report
from reasoning_graph.bench.runner import oracle_verifier, run_bench
from reasoning_graph.errors import ConfigurationError
from reasoning_graph.options import build_config
from reasoning_graph.providers.base import Generator
from reasoning_graph.providers.registry import make_generator
from reasoning_graph.strategies import POLICY_USERS

if TYPE_CHECKING:
    from reasoning_graph.policy import PlanChoice

__all__ = ["bench_command", "calibrate_command", "report_command"]


def bench_command(
    *,
    data: str,
    strategies: Sequence[str],
    ns: Sequence[int],
    out: Path,
    limit: int | None = None,
    offset: int = 0,
    options: dict[str, Any],
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    extra_body: dict[str, Any] | None = None,
    cache: Path | None = None,
    replay: Path | None = None,
    concurrency: int = 4,
    quiet: bool = False,
    verifier: Literal["default", "oracle"] = "default",
) -> int:
    """Run the bench, write results, summary and plots into `out`, print the summary.

    Args:
        options: `ReasoningConfig` fields shared by every run (max tokens, seed, policy...);
            a `policy` needs `compute_optimal` among the `strategies`.
        cache: Record every sample to this generation cache (and serve repeats from it).
        replay: Serve every sample from this cache; no model is called, a miss is an error.
        verifier: `default` lets each strategy use its default verifier (the LLM judge where
            scores are needed); `oracle` grades candidates against each example's reference
            answer (`oracle_verifier`): search with a perfect verifier, an upper bound. Use a
            separate `out` per verifier.
    """
    from reasoning_graph.bench.datasets import load_dataset
    from reasoning_graph.providers.cache import CachingGenerator

    config = build_config(None, options)
    if config.policy is not None and not set(strategies) & set(POLICY_USERS):
        users = " or ".join(POLICY_USERS)
        raise ConfigurationError(
            f"--policy is read by the {users} strategy only, and --strategies "
            f"{','.join(strategies)} does not run it: drop --policy, or add {users}"
        )
    if config.policy is not None:
        from reasoning_graph.policy import load_policy

        load_policy(config.policy)  # a bad file is one line now, not one error per question
    dataset = load_dataset(data, limit=limit, offset=offset)
    if replay is not None:
        if provider is not None or base_url is not None or extra_body is not None:
            raise ConfigurationError(
                "--replay serves recorded samples and calls no model: drop --provider, "
                "--base-url and --extra-body (--model picks the recorded model when the cache "
                "holds several)"
            )
        inner: Generator | None = None
        generator: Generator = CachingGenerator(None, replay, mode="replay", model_name=model)
    else:
        inner = make_generator(provider, model=model, base_url=base_url, extra_body=extra_body)
        generator = CachingGenerator(inner, cache) if cache is not None else inner

    try:
        records = run_bench(
            dataset,
            strategies=strategies,
            ns=ns,
            generator=generator,
            verifier=oracle_verifier(dataset) if verifier == "oracle" else None,
            base_config=config,
            out_dir=out,
            concurrency=concurrency,
            progress=not quiet,
            close=[inner],  # the HTTP clients inside a caching generator
        )
    finally:
        if isinstance(generator, CachingGenerator):
            generator.close()
    summary = write_report(records, out)
    sys.stdout.write(format_summary(summary))
    if not quiet:
        sys.stderr.write(
            f"wrote {RESULTS_FILE}, summary.md, summary.json, accuracy_vs_tokens.png and "
            f"accuracy_by_difficulty.png to {out}\n"
        )
    return 0


def report_command(directory: Path) -> int:
    """Re-write `summary.md`, `summary.json` and the plots of a bench from its results."""
    records = load_records(directory)
    if not records:
        raise ConfigurationError(f"{directory} holds no bench records; run `bench` first")
    out = directory if directory.is_dir() else directory.parent
    sys.stdout.write(format_summary(write_report(records, out)))
    return 0


def calibrate_command(
    results: Path,
    *,
    out: Path,
    probe_n: int,
    budgets: Sequence[int],
    model: str | None = None,
    tolerance: float = 0.0,
    early_stop: Literal["none", "settled", "confidence"] = "confidence",
    wave_size: int = 2,
    prior: bool = False,
    solvable_n: int | None = None,
    give_up_loss: float | None = None,
    heldout: Path | None = None,
) -> int:
    """Fit a compute-optimal policy from bench results, write it to `out`, print its table.

    The model name recorded in the policy is `model`, else the one in the bench's
    `bench.json`. With `prior`, a difficulty prior is fitted too (`fit_policy`), its
    AUROCs reported on `heldout`'s records when given.
    """
    from reasoning_graph.bench.calibrate import fit_policy

    if probe_n < 1 or min(budgets) < 1:
        raise ConfigurationError(
            f"--probe-n and --budgets must be at least 1 (got {probe_n} and "
            f"{','.join(map(str, budgets))})"
        )
    if not prior and (solvable_n, give_up_loss, heldout) != (None, None, None):
        raise ConfigurationError("--solvable-n, --give-up-loss and --heldout need --prior")
    if give_up_loss is not None and not 0.0 <= give_up_loss < 1.0:
        raise ConfigurationError(f"--give-up-loss must be in [0, 1), got {give_up_loss}")
    records = load_records(results)
    if model is None:
        model = manifest_model(results if results.is_dir() else results.parent)
    policy = fit_policy(
        records,
        probe_n=probe_n,
        budgets=budgets,
        model=str(model),
        accuracy_tolerance=tolerance,
        early_stop=early_stop,
        wave_size=wave_size,
        prior=prior,
        solvable_n=solvable_n,
        give_up_loss=give_up_loss,
        heldout=None if heldout is None else load_records(heldout),
        fitted_on={
            "results": str(results),
            "data": sorted({r.dataset for r in records}),
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    policy.save(out)
    table = Table(title=f"policy for {policy.model} (probe_n={policy.probe_n}), written to {out}")
    table.add_column("bin")
    table.add_column("difficulty")
    fitted = sorted({int(b) for plans in policy.plans.values() for b in plans})
    for budget in fitted:
        table.add_column(f"budget {budget}")
    edges = [0.0, *policy.bin_edges, 1.0]
    for name in sorted(policy.plans, key=int):
        number = int(name)
        low, high = edges[min(number - 1, len(edges) - 2)], edges[min(number, len(edges) - 1)]
        cells = [_policy_cell(policy.plans[name].get(str(budget))) for budget in fitted]
        table.add_row(name, f"{low:.2f}-{high:.2f}", *cells)
    Console().print(table)
    if policy.prior is not None:
        evidence = ", ".join(f"{k}={v}" for k, v in policy.prior.evidence.items())
        Console().print(f"prior (solvable at n={policy.prior.solvable_n}): {evidence}")
    return 0


def _policy_cell(choice: PlanChoice | None) -> str:
    """One plan in the `calibrate` table: strategy, `n`, a search's shape, accuracy."""
    if choice is None:
        return "-"
    shape = "" if choice.beams is None else f" ({choice.beams} beams, {choice.max_steps} steps)"
    accuracy = "" if choice.accuracy is None else f" {choice.accuracy:.0%}"
    return f"{choice.strategy} x{choice.n}{shape}{accuracy}"
