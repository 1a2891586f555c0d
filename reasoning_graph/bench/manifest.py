"""`bench.json`: what produced a bench's records (data set, model, strategies, ns, config).

A resumed bench must run with the same model and base config as the records already in its
directory: mixing them in one file would make the numbers meaningless, so `write_manifest`
refuses a directory whose earlier bench used other settings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from reasoning_graph.config import ReasoningConfig
from reasoning_graph.errors import ConfigurationError

__all__ = ["MANIFEST_FILE", "manifest_model", "write_manifest"]

MANIFEST_FILE = "bench.json"


def write_manifest(
    out: Path,
    *,
    dataset: str,
    model: str,
    strategies: Sequence[str],
    ns: Sequence[int],
    base: ReasoningConfig,
    has_results: bool,
) -> None:
    """Write `out/bench.json`; refuse an `out` whose earlier bench used another model or config.

    Args:
        has_results: Whether `out` already holds records (only then must settings match).

    Raises:
        ConfigurationError: The earlier bench in `out` used another model or config.
    """
    settings = base.model_dump(mode="json", exclude={"strategy", "n"})
    manifest = {
        "dataset": dataset,
        "model": model,
        "strategies": list(strategies),
        "ns": list(ns),
        "config": settings,
    }
    path = out / MANIFEST_FILE
    if path.exists() and has_results:
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            earlier = {}
        before = {"model": earlier.get("model"), **(earlier.get("config") or {})}
        now = {"model": model, **settings}
        changed = [name for name, value in now.items() if name in before and before[name] != value]
        if changed:
            raise ConfigurationError(
                f"{out} holds a bench run with other settings ({', '.join(changed)} changed); "
                "pass a new --out directory, or the same settings to resume it"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def manifest_model(folder: Path) -> str:
    """The model name recorded in `folder/bench.json`.

    Raises:
        ConfigurationError: There is no readable manifest naming a model.
    """
    try:
        return str(json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"cannot tell which model made the results in {folder} (no {MANIFEST_FILE} "
            "beside them): pass --model"
        ) from None
