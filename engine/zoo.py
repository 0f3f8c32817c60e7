"""The built-in model zoo: published architecture hyper-parameters (never weights) -> Workload.

`PUBLISHED_PARAMS` holds each model's published parameter total with its source; a test checks
that every builder lands within 2% of it.
"""

from __future__ import annotations

import difflib
from functools import cache, lru_cache
from typing import Callable

from phantom_report.engine import zoo_transformers as T
from phantom_report.engine import zoo_vision as V
from phantom_report.engine.ir import Workload
from phantom_report.engine.model_names import ModelResolution, last_spelling, resolve_model_name
from phantom_report.engine.profiles import normalize_name
from phantom_report.errors import ModelError

_HF = "https://huggingface.co/{}/blob/main/config.json"
MAX_MODEL_NAME_CHARS = 300

_BUILDERS: dict[str, Callable[[], Workload]] = {
    "resnet-50": V.resnet50,
    "bert-base": lambda: T.bert("bert-base", "BERT-base (uncased)", vocab=30522, hidden=768, layers=12,
                                heads=12, ffn=3072, max_pos=512, source=_HF.format("bert-base-uncased"),
                                aliases=("bert-base-uncased", "bert_base", "bertbase")),
    "bert-large": lambda: T.bert("bert-large", "BERT-large (uncased)", vocab=30522, hidden=1024, layers=24,
                                 heads=16, ffn=4096, max_pos=512, source=_HF.format("bert-large-uncased"),
                                 aliases=("bert-large-uncased", "bert_large", "bertlarge")),
    "gpt-2": lambda: T.gpt2("gpt-2", "GPT-2 (124M)", vocab=50257, hidden=768, layers=12, heads=12,
                            n_ctx=1024, source=_HF.format("openai-community/gpt2"), aliases=("gpt2", "gpt2-small")),
    "vit-b-16": lambda: T.vit("vit-b-16", "ViT-B/16 (224x224)", image=224, patch=16, hidden=768, layers=12,
                              heads=12, ffn=3072, classes=1000,
                              source="Dosovitskiy et al. 2020 (arXiv:2010.11929) Table 1; google/vit-base-patch16-224",
                              aliases=("vit-base", "vit-b/16", "vit_b_16", "vit-base-patch16-224")),
    "vit-l-16": lambda: T.vit("vit-l-16", "ViT-L/16 (224x224)", image=224, patch=16, hidden=1024, layers=24,
                              heads=16, ffn=4096, classes=1000,
                              source="Dosovitskiy et al. 2020 (arXiv:2010.11929) Table 1; google/vit-large-patch16-224",
                              aliases=("vit-large", "vit-l/16", "vit_l_16", "vit-large-patch16-224")),
    "resnext101-32x4d": V.resnext101_32x4d,
    "se-resnext101-32x4d": lambda: V.resnext101_32x4d(se=True),
    "efficientnet-b0": lambda: V.efficientnet("b0"),
    "efficientnet-b4": lambda: V.efficientnet("b4"),
    "yolov8-m": V.yolov8m,
    "sd-1.5-unet": V.sd15_unet,
    "sdxl-unet": V.sdxl_unet,
    # 'whisper-large-v3' is here because v3 keeps v2's layer shapes; it reads 128 mel bins instead of 80
    # (the first conv layer only: < 0.1% of the FLOPs) and has one more vocabulary entry
    "whisper-large": lambda: T.whisper("whisper-large", "Whisper large-v2", d_model=1280, enc_layers=32,
                                       dec_layers=32, heads=20, ffn=5120, vocab=51865, n_mels=80,
                                       enc_frames=1500, max_target=448, source=_HF.format("openai/whisper-large-v2"),
                                       aliases=("whisper-large-v2", "whisper-large-v3", "whisper_large")),
    "t5-base": lambda: T.t5("t5-base", "T5-base", vocab=32128, d_model=768, layers=12, heads=12, d_kv=64,
                            d_ff=3072, source=_HF.format("google-t5/t5-base"), aliases=("t5_base",)),
    "llama-2-7b": lambda: T.decoder_llm("llama-2-7b", "Llama-2-7B", vocab=32000, hidden=4096, layers=32,
                                        heads=32, kv_heads=32, ffn=11008, max_seq=4096,
                                        source=_HF.format("meta-llama/Llama-2-7b-hf"),
                                        # LLaMA (v1) 7B has exactly these layer shapes and vocabulary (only
                                        # its training and 2k context differ): llama.cpp prints both "llama 7B"
                                        aliases=("llama2-7b", "llama-2-7b-hf", "llama-2-7b-chat", "llama2-7b-chat", "llama-7b")),
    "llama-2-13b": lambda: T.decoder_llm("llama-2-13b", "Llama-2-13B", vocab=32000, hidden=5120, layers=40,
                                         heads=40, kv_heads=40, ffn=13824, max_seq=4096,
                                         source=_HF.format("meta-llama/Llama-2-13b-hf"),
                                         aliases=("llama2-13b", "llama-2-13b-hf", "llama-2-13b-chat")),
    "llama-2-70b": lambda: T.decoder_llm("llama-2-70b", "Llama-2-70B", vocab=32000, hidden=8192, layers=80,
                                         heads=64, kv_heads=8, ffn=28672, max_seq=4096,
                                         source=_HF.format("meta-llama/Llama-2-70b-hf"),
                                         aliases=("llama2-70b", "llama-2-70b-hf", "llama-2-70b-chat", "llama2-70b-99")),
    # 'llama-3-8b' is here because Llama 3 8B has exactly these layer shapes and vocabulary; only its
    # context (8k vs 128k) and RoPE scaling differ, which change nothing at sequence lengths under 8k
    "llama-3.1-8b": lambda: T.decoder_llm("llama-3.1-8b", "Llama-3.1-8B", vocab=128256, hidden=4096, layers=32,
                                          heads=32, kv_heads=8, ffn=14336, max_seq=131072,
                                          source=_HF.format("meta-llama/Llama-3.1-8B"),
                                          aliases=("llama3.1-8b", "llama-3-8b", "llama3-8b", "meta-llama-3.1-8b",
                                                   "llama-3.1-8b-instruct", "llama-3-8b-instruct")),
    "llama-3.1-70b": lambda: T.decoder_llm("llama-3.1-70b", "Llama-3.1-70B", vocab=128256, hidden=8192,
                                           layers=80, heads=64, kv_heads=8, ffn=28672, max_seq=131072,
                                           source=_HF.format("meta-llama/Llama-3.1-70B"),
                                           aliases=("llama3.1-70b", "llama-3-70b", "llama3-70b",
                                                    "llama-3.1-70b-instruct", "llama-3.3-70b", "llama-3-70b-instruct")),
    "mistral-7b": lambda: T.decoder_llm("mistral-7b", "Mistral-7B (v0.1)", vocab=32000, hidden=4096, layers=32,
                                        heads=32, kv_heads=8, ffn=14336, max_seq=32768,
                                        source=_HF.format("mistralai/Mistral-7B-v0.1"),
                                        aliases=("mistral-7b-v0.1", "mistral-7b-instruct", "mistral7b")),
    "mixtral-8x7b": lambda: T.decoder_llm("mixtral-8x7b", "Mixtral-8x7B", vocab=32000, hidden=4096, layers=32,
                                          heads=32, kv_heads=8, ffn=14336, max_seq=32768, experts=8, top_k=2,
                                          source=_HF.format("mistralai/Mixtral-8x7B-v0.1"),
                                          aliases=("mixtral", "mixtral-8x7b-v0.1", "mixtral-8x7b-instruct")),
    "gpt-j-6b": lambda: T.decoder_llm("gpt-j-6b", "GPT-J-6B", vocab=50400, hidden=4096, layers=28, heads=16,
                                      kv_heads=16, ffn=16384, max_seq=2048, gated=False,
                                      source=_HF.format("EleutherAI/gpt-j-6b"), aliases=("gptj-6b", "gpt-j", "gptj")),
    "llama-3.1-405b": lambda: T.decoder_llm("llama-3.1-405b", "Llama-3.1-405B", vocab=128256, hidden=16384,
                                            layers=126, heads=128, kv_heads=8, ffn=53248, max_seq=131072,
                                            source=_HF.format("meta-llama/Llama-3.1-405B"),
                                            aliases=("llama3.1-405b", "llama-3.1-405b-instruct")),
    "mixtral-8x22b": lambda: T.decoder_llm("mixtral-8x22b", "Mixtral-8x22B", vocab=32768, hidden=6144, layers=56,
                                           heads=48, kv_heads=8, ffn=16384, max_seq=65536, experts=8, top_k=2,
                                           source=_HF.format("mistralai/Mixtral-8x22B-v0.1"),
                                           aliases=("mixtral-8x22b-v0.1", "mixtral-8x22b-instruct")),
}

# Published parameter totals (total, active) and where they are printed.
PUBLISHED_PARAMS: dict[str, tuple[float, float | None, str]] = {
    "resnet-50": (25.6e6, None, "torchvision model card: 25,557,032 params"),
    "bert-base": (110e6, None, "Devlin et al. 2018: BERT-BASE 110M"),
    "bert-large": (340e6, None, "Devlin et al. 2018: BERT-LARGE 340M"),
    "gpt-2": (124e6, None, "HF openai-community/gpt2: 124M"),
    "vit-b-16": (86e6, None, "Dosovitskiy et al. 2020 Table 1: ViT-Base 86M"),
    "vit-l-16": (307e6, None, "Dosovitskiy et al. 2020 Table 1: ViT-Large 307M"),
    "yolov8-m": (25.9e6, None, "Ultralytics YOLOv8 docs table: YOLOv8m 25.9M params, 78.9 GFLOPs"),
    "sd-1.5-unet": (859.5e6, None, "diffusers UNet of stable-diffusion-v1-5: 859.52M"),
    "sdxl-unet": (2.567e9, None, "Podell et al. 2023 (SDXL) Table 1: UNet 2.6B (2,567M)"),
    "whisper-large": (1550e6, None, "Radford et al. 2022 (Whisper) Table 1: large 1550M"),
    "t5-base": (220e6, None, "Raffel et al. 2020: T5-Base 220M"),
    "llama-2-7b": (6.74e9, None, "HF meta-llama/Llama-2-7b-hf: 6.74B"),
    "llama-2-13b": (13.0e9, None, "HF meta-llama/Llama-2-13b-hf: 13.0B"),
    "llama-2-70b": (69.0e9, None, "HF meta-llama/Llama-2-70b-hf: 69.0B"),
    "llama-3.1-8b": (8.03e9, None, "HF meta-llama/Llama-3.1-8B: 8.03B"),
    "llama-3.1-70b": (70.6e9, None, "HF meta-llama/Llama-3.1-70B: 70.6B"),
    "mistral-7b": (7.24e9, None, "HF mistralai/Mistral-7B-v0.1: 7.24B"),
    "resnext101-32x4d": (44.18e6, None, "torchvision-style count, NVIDIA DLE ConvNets README: 44.18M"),
    "se-resnext101-32x4d": (48.96e6, None, "Hu et al. 2017 Table: SE-ResNeXt-101 (32x4d) 48.96M"),
    "efficientnet-b0": (5.3e6, None, "Tan & Le 2019 Table 2: EfficientNet-B0 5.3M params, 0.39B FLOPs (MACs)"),
    "efficientnet-b4": (19e6, None, "Tan & Le 2019 Table 2: EfficientNet-B4 19M params, 4.2B FLOPs (MACs)"),
    "gpt-j-6b": (6.05e9, None, "EleutherAI GPT-J-6B model card: 6,053,381,344 parameters"),
    "llama-3.1-405b": (405.9e9, None, "HF meta-llama/Llama-3.1-405B: 406B"),
    "mixtral-8x22b": (141e9, 39e9, "Mistral AI, Mixtral 8x22B announcement: 141B total, 39B active"),
    "mixtral-8x7b": (46.7e9, 12.9e9, "Mistral AI, Mixtral of experts (2023): 46.7B total, 12.9B active"),
}


@cache
def builtin_workloads() -> dict[str, Workload]:
    """All zoo models by canonical name (built once per process: pure, immutable results)."""
    return {name: build() for name, build in _BUILDERS.items()}


@cache
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, w in builtin_workloads().items():
        for alias in (name, *w.aliases):
            index[normalize_name(alias)] = name
    return index


def resolve_builtin(name: str) -> str:
    """Zoo name for a model name as written ('Meta-Llama-3.1-8B-Instruct', 'meta-llama/Llama-2-7b-hf',
    'llama-2-7b.Q4_K_M.gguf'); ModelError naming the closest zoo models otherwise."""
    return resolve_builtin_detail(name).canonical


def resolve_builtin_detail(name: str) -> ModelResolution:
    """`ModelResolution` (zoo name, rule used, precision the name announces); rules in model_names.py."""
    found = _resolve_cached(name)
    if isinstance(found, str):
        raise ModelError(found)
    return found


@lru_cache(maxsize=4096)
def _resolve_cached(name: str) -> ModelResolution | str:
    """The resolution, or the error message (corpus loading asks for the same names thousands of times)."""
    try:
        return _resolve_uncached(name)
    except ModelError as exc:
        return str(exc)


def _resolve_uncached(name: str) -> ModelResolution:
    if not name.strip():
        raise ModelError("empty model name; expected a zoo model such as 'llama-3.1-8b' (see `phantom-report models list`)")
    if len(name) > MAX_MODEL_NAME_CHARS:  # bound the fuzzy search's work on hostile input
        raise ModelError(f"model name of {len(name)} characters; expected at most {MAX_MODEL_NAME_CHARS}")
    index = _alias_index()
    res = resolve_model_name(name, index)
    if res is not None:
        return res
    reduced = last_spelling(name)
    close: list[str] = []
    for probe in dict.fromkeys((normalize_name(name), normalize_name(reduced))):
        close += difflib.get_close_matches(probe, list(index), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(list(dict.fromkeys(index[c] for c in close))[:4])}?" if close else ""
    read = f" (read as {reduced!r})" if normalize_name(reduced) != normalize_name(name) else ""
    raise ModelError(f"unknown model {name!r}{read}{hint} (see `phantom-report models list`; a model outside the "
                     "zoo can be given as a Hugging Face config.json)")


def get_builtin(name: str) -> Workload:
    """The zoo workload a name or alias resolves to; ModelError when none does."""
    return builtin_workloads()[resolve_builtin(name)]
