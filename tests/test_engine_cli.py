"""CLI behaviour of the engine commands: exit codes, one-line errors, JSON field names.

Most checks run `main` in-process (`cli_in_process`): same exit code, output and message, without
a second of interpreter start-up each; a few run the real entry point in a fresh process (JSON of
`predict`, usage errors, and what a cold `predict` imports)."""

import json


def test_compare_acceptance_table(cli_in_process):
    r = cli_in_process("compare", "--models", "resnet-50,bert-base,llama-3.1-8b", "--gpus", "t4,a100-80gb-sxm,h100-sxm",
            "--batch-sizes", "1,32", "--precisions", "fp16", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 18
    by = {(x["model"], x["batch_size"], x["gpu"]): x for x in rows}
    for m in ("resnet-50", "bert-base", "llama-3.1-8b"):
        tput = {(b, g): by[(m, b, g)]["throughput_per_s"] for b in (1, 32) for g in ("H100-SXM", "A100-80GB-SXM", "T4")}
        assert tput[32, "H100-SXM"] > tput[32, "A100-80GB-SXM"] > tput[32, "T4"]
        # at batch 1 eager PyTorch can be bound by the host launching kernels, the same on any GPU
        assert tput[1, "H100-SXM"] >= tput[1, "A100-80GB-SXM"] >= tput[1, "T4"]
    t4 = by[("llama-3.1-8b", 1, "T4")]
    assert t4["fits"] is False and "tensor parallel" in t4["fit_hint"]


def test_compare_table_shows_not_fitting_note(cli_in_process):
    r = cli_in_process("compare", "--models", "llama-3.1-8b", "--gpus", "t4,h100", "--batch-sizes", "1", "--precisions", "fp16")
    assert r.returncode == 0, r.stderr
    assert "needs" in r.stdout and "T4" in r.stdout


def test_predict_json_fields_carry_units(cli):
    r = cli("predict", "--model", "llama-3.1-8b", "--gpu", "h100", "--precision", "fp16", "--batch", "4",
            "--seq-in", "512", "--seq-out", "128", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("latency_ms", "throughput_per_s", "memory_gb", "ttft_ms", "tpot_ms", "tokens_per_s", "power_w",
                "latency_ms_low", "latency_ms_high"):
        assert isinstance(d[key], float), key


def _one_line_error(r, text):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert text in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


def test_unknown_gpu(cli_in_process):
    _one_line_error(cli_in_process("predict", "-m", "resnet-50", "-g", "h10"), "did you mean")


def test_batch_zero(cli_in_process):
    _one_line_error(cli_in_process("predict", "-m", "resnet-50", "-g", "t4", "-b", "0"), "batch")


def test_precision_the_gpu_lacks(cli_in_process):
    _one_line_error(cli_in_process("predict", "-m", "resnet-50", "-g", "t4", "-p", "bf16"), "no bf16")


def test_unknown_precision(cli_in_process):
    _one_line_error(cli_in_process("predict", "-m", "resnet-50", "-g", "t4", "-p", "fp64"), "unknown precision")


def test_quantized_precision_and_kv_precision(cli_in_process):
    _one_line_error(cli_in_process("predict", "-m", "llama-2-7b", "-g", "rtx-4090", "-p", "4bit"), "is ambiguous: it could be int4")
    _one_line_error(cli_in_process("predict", "-m", "llama-2-7b", "-g", "rtx-4090", "-p", "fp16", "--kv-precision", "q4_k_m"),
                    "not a KV-cache format")
    r = cli_in_process("predict", "-m", "llama-2-7b", "-g", "rtx-4090", "-p", "Q4_K_M", "--kv-precision", "q8_0", "-f", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["precision"] == "q4_k_m" and out["kv_precision"] == "q8_0"


def test_malformed_profile(cli_in_process, tmp_path):
    (tmp_path / "bad.toml").write_text("name = \"X\"\nmemory_gb = [\n")
    _one_line_error(cli_in_process("gpus", "list", env={"PHANTOM_PROFILES": str(tmp_path)}), "bad.toml")


def test_gpus_and_models_lists(cli_in_process):
    r = cli_in_process("gpus", "list", "--format", "json")
    assert r.returncode == 0 and len(json.loads(r.stdout)) >= 25
    r = cli_in_process("models", "list", "--format", "json")
    assert r.returncode == 0 and len(json.loads(r.stdout)) >= 18
    r = cli_in_process("gpus", "show", "h100")
    assert r.returncode == 0 and "H100" in r.stdout


def test_usage_errors_are_one_message_not_a_traceback(cli):
    for args in (("run", "examples/quickstart.yaml", "--output-dir", "x"), ("predict", "--model")):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and "Error:" in r.stderr, (args, r.stderr)


# `python -m phantom_report ARGS`, reporting at exit which of the heavy libraries the process loaded
_LOADED_AT_EXIT = """
import atexit, json, runpy, sys
heavy = ("pandas", "scipy", "matplotlib", "plotly", "jinja2", "sqlalchemy", "torch", "pydantic")
atexit.register(lambda: sys.stderr.write("\\nLOADED " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n"))
sys.argv = ["phantom-report", *sys.argv[1:]]
runpy.run_module("phantom_report", run_name="__main__", alter_sys=True)
"""


def test_cold_predict_process_loads_no_pandas(tmp_path):
    """One prediction takes the DataFrame-free path: a cold `phantom-report predict` process never
    imports pandas (nor other heavy libraries), in either output format, and still predicts.
    pydantic included: Typer 0.29 imports it to parse any command's options (pyproject keeps < 0.29)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PHANTOM_OFFLINE": "1"}
    for fmt in ("json", "table"):
        r = subprocess.run([sys.executable, "-c", _LOADED_AT_EXIT, "predict", "-m", "llama-3.1-8b", "-g", "h100",
                            "-b", "8", "--seq-in", "512", "--seq-out", "128", "-f", fmt],
                           capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        loaded = json.loads(r.stderr.rsplit("LOADED ", 1)[1])
        assert loaded == [], (fmt, loaded)
        if fmt == "json":
            assert json.loads(r.stdout)["latency_ms"] > 0
        else:
            assert "llama-3.1-8b" in r.stdout and "H100" in r.stdout
