"""The one table from command-line flags to `ReasoningConfig` fields.

Each row names a config field and its help text; the flag (`--max-tokens`), the type, the
choices and the default come from the field itself, so the CLI cannot drift from the config.
`solve`, `bench` and `serve` add these flags (`bench` takes lists for `strategy` and `n`, so it
skips those two rows). A flag the user did not give is absent from the options, and the
config's default applies.
"""

from __future__ import annotations

import argparse
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from reasoning_graph.config import ReasoningConfig

__all__ = ["CONFIG_FLAGS", "ConfigFlag", "add_config_flags", "config_options", "flag_of"]

Command = Literal["solve", "bench", "serve"]


@dataclass(frozen=True)
class ConfigFlag:
    """One `ReasoningConfig` field on the command line."""

    field: str
    """The config field the flag sets; the flag is `--field-name`."""
    help: str
    """What the flag does; the default is appended from the config."""
    default_text: str | None = None
    """What the help says when the field's default is `None` (e.g. `"no cap"`)."""
    metavar: str | None = None
    solve_only: bool = False
    """`bench` takes its own list form of this field (`--strategies`, `--n 1,2,4`)."""

    @property
    def flag(self) -> str:
        """`--max-tokens` for `max_tokens`; `--no-share-prompt` for a field that is on."""
        name = self.field.replace("_", "-")
        return f"--no-{name}" if _default(self.field) is True else f"--{name}"


CONFIG_FLAGS: tuple[ConfigFlag, ...] = (
    ConfigFlag("strategy", "how to spend the samples", solve_only=True),
    ConfigFlag("n", "generations to spend", solve_only=True),
    ConfigFlag("chains", "parallel_revision: parallel chains", default_text="round(sqrt(n))"),
    ConfigFlag("budget_tokens", "hard cap on completion tokens", default_text="no cap"),
    ConfigFlag("max_tokens", "most completion tokens per generation"),
    ConfigFlag("temperature", "sampling temperature"),
    ConfigFlag("seed", "base seed: sample i uses seed + i, so runs repeat"),
    ConfigFlag("share_prompt", "send one request per sample instead of one request with n"),
    ConfigFlag("revision_context", "revision: earlier attempts of its chain a revision sees"),
    ConfigFlag(
        "system_prompt", "replaces the generator's system prompt", default_text="the built-in one"
    ),
    ConfigFlag(
        "early_stop",
        "stop self_consistency once the vote is settled (compute_optimal: its policy's rule)",
    ),
    ConfigFlag(
        "stop_confidence",
        "early_stop=confidence: how sure the leader must be; consensus: its weighted share",
    ),
    ConfigFlag(
        "wave_size", "samples per wave when stopping early", default_text="4 or the policy's"
    ),
    ConfigFlag(
        "logprobs", "ask for token log-probabilities: per-candidate confidence, sharper difficulty"
    ),
    ConfigFlag("top_logprobs", "with logprobs: alternatives per token (DeepConf's k)"),
    ConfigFlag("confidence_vote", "weight votes by token confidence (turns logprobs on)"),
    ConfigFlag(
        "confidence_filter",
        "keep the most confident share of candidates before the vote, e.g. 0.1 (logprobs on)",
        default_text="keep all",
        metavar="SHARE",
    ),
    ConfigFlag("confidence_measure", "the token-confidence measure that filters and weights"),
    ConfigFlag("confidence_window", "tokens per group of the group confidence"),
    ConfigFlag("confidence_tail", "tokens the tail confidence averages"),
    ConfigFlag(
        "online_stop",
        "stop samples after a warm-up once their group confidence falls below what this "
        "share of the warm-up clears, e.g. 0.9 (DeepConf online; logprobs on)",
        default_text="never stop",
        metavar="SHARE",
    ),
    ConfigFlag(
        "policy",
        "policy file for compute_optimal",
        default_text="the one shipped with the package",
        metavar="PATH",
    ),
    ConfigFlag(
        "max_calls",
        "hard cap on model calls per question: one per generation, one per verifier score",
        default_text="no cap",
    ),
    ConfigFlag(
        "deadline_s",
        "wall-clock seconds per question; then the best answer so far is returned",
        default_text="none",
        metavar="SECONDS",
    ),
    ConfigFlag(
        "beam_width", "step search: next steps per kept beam, M", default_text="min(4, sqrt(n))"
    ),
    ConfigFlag("max_steps", "step search: most steps per beam"),
    ConfigFlag("lookahead", "lookahead: greedy rollout steps per new step"),
    ConfigFlag(
        "step_tokens", "step search: most completion tokens per step", default_text="--max-tokens"
    ),
    ConfigFlag("step_separator", "step search: the text between two steps", metavar="TEXT"),
    ConfigFlag("step_aggregation", "step search: how step scores become a beam's score"),
    ConfigFlag("max_question_chars", "longest question accepted"),
)
"""Every `ReasoningConfig` field but `review` (a CLI run cannot wait for a person)."""


def add_config_flags(parser: argparse.ArgumentParser, command: Command) -> None:
    """Add the table's flags for `command` to `parser`; see the module docstring."""
    for row in CONFIG_FLAGS:
        if command == "bench" and row.solve_only:
            continue
        annotation = ReasoningConfig.model_fields[row.field].annotation
        default = _default(row.field)
        shown = row.default_text if row.default_text is not None else _shown(default)
        if isinstance(default, bool):
            shown = "off"  # the flag is off; `--no-x` for a field that is on by default
        options: dict[str, Any] = {
            "dest": row.field,
            "default": argparse.SUPPRESS,
            "help": f"{row.help} (default: {shown})",
        }
        kind = _unwrap(annotation)
        if kind is bool:
            options["action"] = "store_false" if default is True else "store_true"
        elif get_origin(kind) is Literal:
            options["choices"] = get_args(kind)
        else:
            options["type"] = kind
            options["metavar"] = row.metavar or row.field.split("_")[-1].upper()
        parser.add_argument(row.flag, **options)


def config_options(args: argparse.Namespace, command: Command) -> dict[str, Any]:
    """The config fields the user set with a flag of `command`, by field name."""
    given = vars(args)
    return {
        row.field: given[row.field]
        for row in CONFIG_FLAGS
        if row.field in given and not (command == "bench" and row.solve_only)
    }


def flag_of(field: str, value: Any = None) -> str:
    """How the user would have written `field` (and `value`): `--n 8`, or `n=8` with no flag."""
    row = next((r for r in CONFIG_FLAGS if r.field == field), None)
    if row is None:
        return f"{field}={value!r}"
    if _unwrap(ReasoningConfig.model_fields[field].annotation) is bool:
        return row.flag if value is not _default(field) else f"(no {row.flag})"
    return f"{row.flag} {value}"


def _default(field: str) -> Any:
    return ReasoningConfig.model_fields[field].default


def _unwrap(annotation: Any) -> Any:
    """`int` for `int | None`; other annotations as they are."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else annotation
    return annotation


def _shown(default: Any) -> str:
    if isinstance(default, str):
        return repr(default) if not default.strip() or default != default.strip() else default
    return str(default)
