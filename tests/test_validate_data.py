"""`validate --data`: every unused row explained, grouped by reason with a fix; model_config rows."""

import json

import pytest

from phantom_report.engine.model_config import safe_config_path
from phantom_report.engine.row_reasons import classify

HEADER = "source,source_url,gpu,model,task,runtime,precision,batch_size,seq_in,seq_out,metric,value,model_config\n"
LLAMA_CONFIG = {  # a Llama-architecture model that is not in the zoo (1.3 B parameters)
    "model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
    "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 2048,
}


def _run(argv):
    from phantom_report.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return exc.value.code


@pytest.fixture
def user_dir(tmp_path):
    d = tmp_path / "bench"
    (d / "configs").mkdir(parents=True)
    (d / "configs" / "tiny-llama.json").write_text(json.dumps(LLAMA_CONFIG))
    (tmp_path / "outside.json").write_text(json.dumps(LLAMA_CONFIG))
    (d / "configs" / "huge.json").write_text(json.dumps({**LLAMA_CONFIG, "num_hidden_layers": 10**9}))
    rows = [
        # usable: a zoo model, and a model outside the zoo through its config.json
        "me,https://example.org,A100 80GB,resnet-50,inference,pytorch,fp16,64,,,throughput_per_s,2500,",
        "me,https://example.org,RTX 4090,my-tiny-llama,inference,llamacpp,Q4_K_M,1,128,128,tokens_per_s,250,"
        "configs/tiny-llama.json",
        "me,https://example.org,RTX 4090,my-tiny-llama,inference,llamacpp,f16,1,128,128,tokens_per_s,120,"
        "configs/tiny-llama.json",
        # unusable, one reason each (some twice, to count)
        "me,https://example.org,Voodoo5,resnet-50,inference,pytorch,fp16,64,,,throughput_per_s,10,",
        "me,https://example.org,Voodoo5,resnet-50,inference,pytorch,fp16,32,,,throughput_per_s,9,",
        "me,https://example.org,A100 80GB,falcon-180b,inference,vllm,fp16,1,128,128,tokens_per_s,10,",
        "me,https://example.org,A100 80GB,llama-2-7b,inference,llamacpp,4bit,1,128,128,tokens_per_s,10,",
        "me,https://example.org,A100 80GB,llama-2-7b,inference,llamacpp,nvfp4,1,128,128,tokens_per_s,10,",
        "me,https://example.org,T4,resnet-50,inference,mxnet,fp32,128,,,throughput_per_s,1142,",
        "me,https://example.org,A100 80GB,resnet-50,inference,pytorch,fp16,,,,throughput_per_s,100,",
        "me,https://example.org,A100 80GB,escape,inference,llamacpp,fp16,1,128,128,tokens_per_s,10,../outside.json",
        "me,https://example.org,A100 80GB,huge,inference,llamacpp,fp16,1,128,128,tokens_per_s,10,configs/huge.json",
    ]
    path = d / "mine.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_validate_data_groups_every_unused_row_with_a_fix(user_dir, capsys):
    assert _run(["validate", "--data", str(user_dir), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["n"] == 3  # the zoo row and both model_config rows
    assert {r["model"] for r in out["rows"]} == {"resnet-50", "hf:configs/tiny-llama.json"}
    groups = {g["group"]: g for g in out["not_used_by_reason"]}
    assert groups["unknown_gpu"]["rows"] == 2 and "Voodoo5 (2 rows)" in groups["unknown_gpu"]["values"]
    assert "alias" in groups["unknown_gpu"]["fix"] and "profile" in groups["unknown_gpu"]["fix"]
    assert "falcon-180b" in groups["unknown_model"]["values"] and "model_config" in groups["unknown_model"]["fix"]
    assert groups["unknown_model"]["rows"] == 3  # falcon + the escaping and the oversized config
    assert groups["unknown_precision"]["rows"] == 2
    assert "4bit" in groups["unknown_precision"]["values"] and "nvfp4" in groups["unknown_precision"]["values"]
    assert groups["implausible"]["rows"] == 1 and "precision label" in groups["implausible"]["fix"]
    assert groups["missing_value"]["rows"] == 1
    # every unused row is in exactly one group
    n_unused = len(out["not_interpreted"]) + len(out["not_predicted"])
    assert sum(g["rows"] for g in groups.values()) == n_unused == 9
    reasons = {r["row_id"].split(":")[1]: r["reason"] for r in out["not_interpreted"]}
    assert "ambiguous" in reasons["8"] and "outside the CSV's directory" in reasons["12"]
    assert "num_hidden_layers = 1000000000" in reasons["13"]


def test_validate_data_table_prints_the_grouped_reasons(user_dir, capsys):
    assert _run(["validate", "--data", str(user_dir)]) == 0
    text = capsys.readouterr().out
    assert "rows not used, by reason" in text and "unknown GPU" in text and "Voodoo5 (2 rows)" in text


def test_model_config_paths_cannot_escape_the_csv_directory(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    csv_path = d / "m.csv"
    (d / "ok.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    (d / "link.json").symlink_to(tmp_path / "secret.json")
    assert safe_config_path(csv_path, "ok.json") == (d / "ok.json").resolve()
    for bad, why in (("../secret.json", "outside"), (str(tmp_path / "secret.json"), "relative"),
                     ("link.json", "outside"), ("~/x.json", "relative"), ("nope.json", "no such"),
                     ("m.csv", "no such .json")):
        with pytest.raises(ValueError, match=why):
            safe_config_path(csv_path, bad)


def test_reason_classification_order():
    assert classify("excluded by interpretation.csv: precision not printed").key == "excluded"
    assert classify("faster than the datasheet allows: ... at precision fp32").key == "implausible"
    assert classify("unknown GPU 'X'").key == "unknown_gpu"
    assert classify("something new").key == "other"
