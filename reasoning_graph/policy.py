"""Compute-optimal policies: which plan to run for a question, by difficulty bin and budget.

A policy is a small versioned JSON file. `reasoning-graph calibrate` fits one from bench
results (see `reasoning_graph.bench.calibrate`); one fitted on the embedded model ships with the
package and is what `compute_optimal` uses unless `ReasoningConfig.policy` names another.

```json
{"version": 1, "model": "SmolLM2-135M-Instruct", "probe_n": 4,
 "early_stop": "confidence", "stop_confidence": 0.95, "wave_size": 2,
 "bin_edges": [0.2, 0.4, 0.6, 0.8],
 "plans": {"1": {"4": {"strategy": "self_consistency", "n": 4}}, "...": {}},
 "fitted_on": {"data": "...", "questions": 100}}
```

`bin_edges` are the difficulty-score quantiles that split the calibration questions into
five bins (1 easiest); `plans[bin][budget]` is the plan for a run whose budget is `n`
generations, the probe included.

A plan's `strategy` is any registry row with a `policy_choice`
(`strategies.POLICY_STRATEGIES`): the sampling strategies, `parallel_revision`, and the step
searches; any other name fails at load with the allowed ones listed. Its `n` is the most
generations it spends, the probe included (capped at the run's `n`). A step search plan
also records the benched search's shape and runs after the probe; its `n` is the probe plus
the search's worst case, every step and rollout step one generation (verifier scores are on
top of `n`, as for `weighted_vote`), and the search is shrunk at run time to fit what the
probe left (docs/compute-optimal.md, "Step searches in a plan"):

```json
{"strategy": "beam_search", "n": 8, "beams": 2, "max_steps": 3, "beam_width": 1}
```

A policy may also hold a `prior` (`reasoning_graph.prior.DifficultyPrior`, fitted by
`calibrate --prior`): a logistic model of the question's text features and one of the probe's
signals, which together give a continuous difficulty score (its `bin_edges` are then quantiles
of that score), and a threshold below which a question is given up before any sample is
drawn. A policy without one works as before: the score is `estimate_difficulty`'s.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reasoning_graph.errors import ConfigurationError
from reasoning_graph.prior import DifficultyPrior

__all__ = ["POLICY_VERSION", "PlanChoice", "Policy", "load_policy"]

POLICY_VERSION = 1


def _unset(value: object) -> bool:
    return value is None


class PlanChoice(BaseModel):
    """One plan in a policy: a base strategy and how many generations it spends in all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    """A strategy a policy may choose (`strategies.POLICY_STRATEGIES`: the registry rows
    with a `policy_choice`); a revision plan's chains start from the probe's samples, so its
    chain count is the policy's `probe_n`."""
    n: int = Field(ge=1)
    """The most generations the plan spends, the probe included (capped at the run's `n`).
    For a step search: the probe's plus the search's worst case
    (`strategies.step_search.search_generations`)."""
    beams: int | None = Field(default=None, ge=1, exclude_if=_unset)
    """Step searches only (required): first steps (beams, particles) as benched."""
    max_steps: int | None = Field(default=None, ge=1, exclude_if=_unset)
    """Step searches only (required): the most steps per beam, as benched."""
    beam_width: int | None = Field(default=None, ge=1, exclude_if=_unset)
    """Step searches only: next steps per kept beam (M); `None`: the run's `beam_width`."""
    lookahead: int | None = Field(default=None, ge=0, exclude_if=_unset)
    """`lookahead` only: rollout steps behind each step; `None`: the run's `lookahead`."""
    accuracy: float | None = None
    """Accuracy this plan reached on the calibration bin (evidence, not used at run time)."""
    mean_completion_tokens: float | None = None

    @field_validator("strategy")
    @classmethod
    def _choosable(cls, strategy: str) -> str:
        # Imported here: the registry imports this module (compute_optimal reads policies).
        from reasoning_graph.strategies import POLICY_STRATEGIES

        if strategy not in POLICY_STRATEGIES:
            raise ValueError(
                f"a policy cannot choose strategy {strategy!r} (it cannot run after "
                f"compute_optimal's probe); choose one of: "
                f"{', '.join(POLICY_STRATEGIES)}"
            )
        return strategy

    @model_validator(mode="after")
    def _search_shape(self) -> PlanChoice:
        from reasoning_graph.strategies import REGISTRY

        shape = {"beams": self.beams, "max_steps": self.max_steps}
        if REGISTRY[self.strategy].policy_choice == "search":
            missing = [name for name, value in shape.items() if value is None]
            if missing:
                raise ValueError(
                    f"a {self.strategy} plan needs {' and '.join(missing)} (the benched "
                    "search's first steps and most steps per beam)"
                )
            return self
        shape |= {"beam_width": self.beam_width, "lookahead": self.lookahead}
        given = [name for name, value in shape.items() if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} size a step search; a {self.strategy} plan has only `n`"
            )
        return self


class Policy(BaseModel):
    """A fitted compute-optimal policy; see the module docstring for the file format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    model: str
    probe_n: int = Field(ge=1)
    early_stop: Literal["none", "settled", "confidence"] = "confidence"
    stop_confidence: float = Field(default=0.95, gt=0.5, le=1.0)
    wave_size: int = Field(default=2, ge=1)
    bin_edges: list[float]
    plans: dict[str, dict[str, PlanChoice]]
    fitted_on: dict[str, Any] = Field(default_factory=dict)
    prior: DifficultyPrior | None = None
    """The learned difficulty (question prior and score model); `None`: the probe's score."""

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != POLICY_VERSION:
            raise ValueError(
                f"policy version {version} is not supported (this release reads version "
                f"{POLICY_VERSION}); re-run `reasoning-graph calibrate` to write a new one"
            )
        return version

    @field_validator("bin_edges")
    @classmethod
    def _sorted_edges(cls, edges: list[float]) -> list[float]:
        if edges != sorted(edges):
            raise ValueError(f"bin_edges must be increasing, got {edges}")
        return edges

    def bin_of(self, score: float | None) -> int:
        """The difficulty bin (1 easiest) of a difficulty score; `None` counts as the middle."""
        if score is None:
            return (len(self.bin_edges) + 2) // 2
        return bisect_right(self.bin_edges, score) + 1

    @property
    def hardest_bin(self) -> int:
        """The last bin, where a question given up on is counted."""
        return len(self.bin_edges) + 1

    def plan_for(self, difficulty_bin: int, budget: int) -> PlanChoice:
        """The plan for a bin at a budget of `budget` generations.

        Uses the largest fitted budget not above `budget` (the smallest when all are above),
        with `n` capped at `budget`.
        """
        by_budget = self.plans.get(str(difficulty_bin))
        if not by_budget:
            raise ConfigurationError(
                f"the policy has no plans for difficulty bin {difficulty_bin}; "
                f"it covers bins {sorted(self.plans)}"
            )
        fitted = sorted(int(b) for b in by_budget)
        affordable = [b for b in fitted if b <= budget]
        choice = by_budget[str(affordable[-1] if affordable else fitted[0])]
        return choice.model_copy(update={"n": min(choice.n, budget)})

    def save(self, path: str | Path) -> None:
        """Write the policy as indented JSON (without a `prior` key when it has none, so a
        policy without one reads as it did before priors existed)."""
        text = self.model_dump_json(indent=2, exclude={"prior"} if self.prior is None else None)
        Path(path).write_text(text + "\n", encoding="utf-8")


def load_policy(path: str | Path | None = None) -> Policy:
    """Read a policy file; `None` reads the default policy shipped with the package.

    Raises:
        ConfigurationError: The file is missing, not JSON, or not a valid policy (an
            unknown version included); the message says which.
    """
    if path is None:
        text = resources.files("reasoning_graph").joinpath("policies/default.json").read_text()
        where = "the packaged default policy"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(f"cannot read policy file {path}: {error.strerror}") from None
        where = f"policy file {path}"
    try:
        return Policy.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{where} is not JSON: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise ConfigurationError(f"{where} is not a valid policy: {problems}") from None
