"""Zoo parameter counts and IR scaling laws."""

import pytest

from phantom_report.engine.zoo import PUBLISHED_PARAMS, builtin_workloads, get_builtin, resolve_builtin
from phantom_report.errors import ModelError

ZOO = builtin_workloads()


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_param_counts_match_published_within_2pct(name):
    total, active, _source = PUBLISHED_PARAMS[name]
    w = ZOO[name]
    assert w.params_total == pytest.approx(total, rel=0.02)
    if active:
        assert w.params_active == pytest.approx(active, rel=0.02)


def test_every_required_model_is_in_the_zoo():
    required = {"resnet-50", "bert-base", "bert-large", "gpt-2", "vit-b-16", "vit-l-16", "yolov8-m", "sd-1.5-unet",
                "sdxl-unet", "whisper-large", "t5-base", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b",
                "llama-3.1-70b", "mistral-7b", "mixtral-8x7b"}
    assert required <= set(ZOO)
    assert all(w.source for w in ZOO.values())


def test_published_flops_resnet50_and_yolov8m():
    # torchvision: 4.09 GMACs; Ultralytics: YOLOv8m 78.9 GFLOPs at 640 (both x2 = FLOPs, MAC = 2 FLOPs)
    assert ZOO["resnet-50"].flops() == pytest.approx(2 * 4.09e9, rel=0.03)
    assert ZOO["yolov8-m"].flops() == pytest.approx(78.9e9, rel=0.03)
    # Tan & Le 2019 Table 2: EfficientNet-B0 0.39B MACs; Xie et al.: ResNeXt-101 32x4d 8.0B MACs
    assert ZOO["efficientnet-b0"].flops() == pytest.approx(2 * 0.39e9, rel=0.03)
    assert ZOO["resnext101-32x4d"].flops() == pytest.approx(2 * 8.0e9, rel=0.03)


def test_llm_flops_per_token_is_about_twice_params():
    w = ZOO["llama-2-7b"]
    # 2 * params (minus the embedding gather) plus attention at short context
    assert w.flops_per_token(128) == pytest.approx(2 * (w.params_total - 32000 * 4096), rel=0.02)


def test_moe_active_params():
    w = ZOO["mixtral-8x7b"]
    assert w.params_active < w.params_total / 3


@pytest.mark.parametrize("name", ["resnet-50", "bert-base", "llama-3.1-8b", "sd-1.5-unet", "whisper-large"])
def test_flops_linear_in_batch(name):
    w = ZOO[name]
    assert w.flops(8) == pytest.approx(8 * w.flops(1), rel=1e-9)


def test_attention_quadratic_in_sequence():
    w = ZOO["bert-base"]
    attn = [op for op in w.operators if op.op_class == "attention"][0]
    assert attn.flops(1, 1024, 1024) == pytest.approx(4 * attn.flops(1, 512, 512))
    # the whole model grows faster than linearly with sequence length
    assert w.flops(1, 1024) > 2 * w.flops(1, 512)


def test_aliases_resolve_case_insensitively():
    assert resolve_builtin("ResNet50") == "resnet-50"
    assert resolve_builtin("Llama-3-8B") == "llama-3.1-8b"
    assert get_builtin("SDXL-UNet").name == "sdxl-unet"
    # a pipeline name is not the UNet: it must not silently resolve to one denoising step
    with pytest.raises(ModelError):
        resolve_builtin("stable-diffusion-v1-5")


def test_unknown_model_suggests_close_matches():
    with pytest.raises(ModelError, match="did you mean.*llama-2-7b"):
        resolve_builtin("llama-2-7")
