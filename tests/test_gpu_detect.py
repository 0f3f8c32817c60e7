"""`gpus detect` / `--gpu local`: recorded nvidia-smi and rocm-smi outputs replayed (tests/fixtures/gpu_tools,
provenance in its PROVENANCE.md), through an injected runner and through fake tools on PATH."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from phantom_report.engine.gpu_detect import (
    NVIDIA_SMI_ARGS, ROCM_SMI_ARGS, NoLocalGpuError, ToolFailed, detect_gpus, local_gpu_profiles, no_gpu_message,
    parse_nvidia_smi_csv, parse_rocm_smi_json,
)
from phantom_report.engine.profiles import load_catalog
from phantom_report.errors import ProfileError

TOOLS = Path(__file__).parent / "fixtures" / "gpu_tools"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def replay(nvidia: str | None = None, rocm: str | None = None, nvidia_fails: str | None = None):
    """A runner answering like a machine with these recorded outputs (None: tool not installed)."""
    def runner(argv):
        if argv[0] == "nvidia-smi":
            assert tuple(argv) == NVIDIA_SMI_ARGS
            if nvidia_fails:
                raise ToolFailed(f"nvidia-smi exited with 9: {(TOOLS / nvidia_fails).read_text().splitlines()[0]}")
            if nvidia:
                return (TOOLS / nvidia).read_text(encoding="utf-8")
        if argv[0] == "rocm-smi":
            assert tuple(argv) == ROCM_SMI_ARGS
            if rocm:
                return (TOOLS / rocm).read_text(encoding="utf-8")
        raise FileNotFoundError(argv[0])
    return runner


def no_nvml():
    return None


@pytest.mark.parametrize("fixture, count, profile, memory_gb", [
    ("nvidia-smi-h100-sxm-x8.txt", 8, "H100-SXM", 79.6),
    ("nvidia-smi-v100-sxm2-x2.txt", 2, "V100-SXM2-16GB", 16.0),
    ("nvidia-smi-rtx4090-x2.txt", 2, "RTX-4090", 24.0),
    ("nvidia-smi-a10g.txt", 1, "A10G", 22.5),
    ("nvidia-smi-a100-sxm4-40gb.txt", 1, "A100-40GB-SXM", 40.0),
])
def test_nvidia_smi_recordings_resolve_to_profiles(catalog, fixture, count, profile, memory_gb):
    detected, _ = detect_gpus(catalog, replay(nvidia=fixture), no_nvml)
    assert len(detected) == count
    assert {d.profile for d in detected} == {profile}
    assert all(d.device.tool == "nvidia-smi" and d.device.memory_gb == pytest.approx(memory_gb, abs=0.1)
               for d in detected)
    assert [d.device.index for d in detected] == list(range(count))


def test_a_gpu_without_a_profile_is_reported_not_guessed(catalog):
    (d,) = detect_gpus(catalog, replay(nvidia="nvidia-smi-rtx2080-nounits.txt"), no_nvml)[0]
    assert d.profile is None and d.device.name == "GeForce RTX 2080"
    assert d.device.memory_gb == pytest.approx(7979 / 1024)  # nounits: MiB without the unit
    assert "unknown GPU 'GeForce RTX 2080'" in d.explanation
    with pytest.raises(ProfileError, match="GPU 0 .*GeForce RTX 2080"):
        local_gpu_profiles(catalog, replay(nvidia="nvidia-smi-rtx2080-nounits.txt"), no_nvml)


def test_rocm_smi_pci_id_names_the_mi250x_its_series_does_not(catalog):
    detected, notes = detect_gpus(catalog, replay(rocm="rocm-smi-mi250x.json"), no_nvml)
    (d,) = detected
    assert d.device.tool == "rocm-smi" and d.device.pci_device_id == "7408"
    assert d.profile == "MI250X" and "alias table" in d.explanation
    assert "nvidia-smi: not found" in notes and "NVML: nvidia-ml-py not installed" in notes


def test_rocm_smi_older_keys_without_a_device_id_stay_unresolved(catalog):
    (d,) = detect_gpus(catalog, replay(rocm="rocm-smi-mi200-old-keys.json"), no_nvml)[0]
    assert d.device.name.startswith("AMD INSTINCT MI200") and d.device.pci_device_id == ""
    assert d.profile is None  # 'MI200' is a family (MI210/MI250/MI250X): never a silent guess


def test_driver_failure_falls_through_to_rocm_smi_then_says_no_gpu(catalog):
    detected, notes = detect_gpus(catalog, replay(nvidia_fails="nvidia-smi-driver-failed.txt",
                                                  rocm="rocm-smi-mi250x.json"), no_nvml)
    assert [d.profile for d in detected] == ["MI250X"]
    assert any("couldn't communicate with the NVIDIA driver" in n for n in notes)
    detected, notes = detect_gpus(catalog, replay(nvidia_fails="nvidia-smi-driver-failed.txt"), no_nvml)
    assert detected == []
    msg = no_gpu_message(notes)
    assert msg.startswith("no GPU found on this machine") and "\n" not in msg and "rocm-smi: not found" in msg


def test_local_gpu_profiles_groups_devices(catalog):
    assert local_gpu_profiles(catalog, replay(nvidia="nvidia-smi-h100-sxm-x8.txt"), no_nvml) == [
        ("H100-SXM", 8, "NVIDIA H100 80GB HBM3")]
    with pytest.raises(NoLocalGpuError, match="--gpu local: no GPU found"):
        local_gpu_profiles(catalog, replay(), no_nvml)


@pytest.mark.parametrize("text", ["garbage without comma\n", "{not json"])
def test_malformed_tool_output_is_a_tool_failure(text):
    with pytest.raises(ToolFailed):
        parse_nvidia_smi_csv(text) if "{" not in text else parse_rocm_smi_json(text)


def test_rocm_smi_json_must_be_an_object():
    with pytest.raises(ToolFailed, match="not an object"):
        parse_rocm_smi_json("[1, 2]")


# --- the real CLI, with recorded outputs served by fake tools on PATH ----------------------------


def _fake_tool(bin_dir: Path, tool: str, fixture: str, exit_code: int = 0) -> None:
    script = bin_dir / tool
    stream = ">&2" if exit_code else ""
    script.write_text(f"#!/bin/sh\ncat '{TOOLS / fixture}' {stream}\nexit {exit_code}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _path_env(bin_dir: Path) -> dict:
    return {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"}


def test_cli_detect_with_recorded_nvidia_smi(cli_in_process, tmp_path):
    _fake_tool(tmp_path, "nvidia-smi", "nvidia-smi-h100-sxm-x8.txt")
    r = cli_in_process("gpus", "detect", "--format", "json", env=_path_env(tmp_path))
    assert r.returncode == 0, r.stderr
    gpus = json.loads(r.stdout)["gpus"]
    assert len(gpus) == 8 and {g["profile"] for g in gpus} == {"H100-SXM"}
    assert gpus[0]["name"] == "NVIDIA H100 80GB HBM3" and gpus[0]["tool"] == "nvidia-smi"


def test_cli_detect_without_gpu_says_so_in_one_line_exit_1(cli_in_process, tmp_path):
    r = cli_in_process("gpus", "detect", env=_path_env(tmp_path))
    assert r.returncode == 1
    assert r.stdout == "" and r.stderr.strip().count("\n") == 0
    assert "no GPU found on this machine" in r.stderr and "Traceback" not in r.stderr


def test_cli_detect_driver_failure_exit_1(cli_in_process, tmp_path):
    _fake_tool(tmp_path, "nvidia-smi", "nvidia-smi-driver-failed.txt", exit_code=9)
    r = cli_in_process("gpus", "detect", env=_path_env(tmp_path))
    assert r.returncode == 1 and "couldn't communicate with the NVIDIA driver" in r.stderr


def test_cli_detect_unknown_gpu_prints_table_then_exit_2(cli_in_process, tmp_path):
    _fake_tool(tmp_path, "nvidia-smi", "nvidia-smi-rtx2080-nounits.txt")
    r = cli_in_process("gpus", "detect", env=_path_env(tmp_path))
    assert r.returncode == 2
    assert "GPU 0: GeForce RTX 2080" in r.stdout and "no profile" in r.stdout
    assert "unknown GPU 'GeForce RTX 2080'" in r.stderr


def test_cli_predict_gpu_local_uses_the_detected_profile(cli_in_process, tmp_path):
    _fake_tool(tmp_path, "nvidia-smi", "nvidia-smi-a10g.txt")
    r = cli_in_process("predict", "--model", "llama-3.1-8b", "--gpu", "local", "--precision", "fp16", "--batch", "1",
            "--format", "json", env=_path_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["gpu"] == "A10G"
    assert "local GPUs: 1 x NVIDIA A10G -> A10G" in r.stderr


def test_cli_predict_gpu_local_without_gpu_is_a_one_line_error(cli_in_process, tmp_path):
    r = cli_in_process("predict", "--model", "llama-3.1-8b", "--gpu", "local", env=_path_env(tmp_path))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "--gpu local: no GPU found on this machine" in r.stderr


def test_cli_compare_gpus_local_adds_the_local_profile(cli_in_process, tmp_path):
    _fake_tool(tmp_path, "rocm-smi", "rocm-smi-mi250x.json")
    r = cli_in_process("compare", "--models", "bert-base", "--gpus", "local,t4", "--format", "csv", env=_path_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "MI250X" in r.stdout and "T4" in r.stdout
