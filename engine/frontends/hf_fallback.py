"""Hugging Face fallback for architectures without an analytic walk: count FLOPs on meta tensors.

The model runs forward on meta tensors (shapes only) under `FlopCounterMode` at two sequence
lengths. Per op class, FLOPs(s) = a*s + c*s^2 is solved for the per-token term a and the
token x context term c (attention scores), so the result scales with sequence length like the
analytic path. Parameters come from the modules (Linear -> gemm, Embedding -> gather, rest -> other).
"""

from __future__ import annotations

from phantom_report.engine.frontends.flop_count import count_flops
from phantom_report.engine.ir import Operator, Workload
from phantom_report.errors import ModelError

_PROBE_TOKENS = (32, 64)


def _forward_flops(model, config, tokens: int) -> dict[str, float]:
    import torch

    ids = torch.zeros((1, tokens), dtype=torch.long, device="meta")
    kwargs = {"input_ids": ids}
    if getattr(config, "is_encoder_decoder", False):
        kwargs["decoder_input_ids"] = ids
    _, per_module = count_flops(lambda: model(**kwargs))
    return per_module.get("Global", {})


def flop_counter_workload(model, config, arch: str, source, seq_len: int | None) -> Workload:
    """Workload of a text model without an analytic walk: FLOPs counted by FlopCounterMode on meta
    tensors at two sequence lengths and solved, per op class, for the per-token and token x context
    terms; parameters from the modules. ModelError for models whose input is not input_ids."""
    if getattr(model, "main_input_name", "input_ids") != "input_ids":
        raise ModelError(f"{source.origin}: {arch} takes {model.main_input_name!r}, and only text models "
                         "(input_ids) can be counted without an analytic walk; export it to ONNX and pass the .onnx file")
    model.eval()
    s1, s2 = _PROBE_TOKENS
    try:
        f1, f2 = (_forward_flops(model, config, s) for s in (s1, s2))
    except Exception as exc:  # a forward that needs real data (e.g. data-dependent routing)
        raise ModelError(f"{source.origin}: {arch} cannot run on meta tensors for FLOP counting "
                         f"({type(exc).__name__}); export it to ONNX and pass the .onnx file") from None

    from phantom_report.engine.frontends.hf import _vocabulary_modules

    sizes = _module_params(model, _vocabulary_modules(model))
    linear_params, embed_params, linear_act = sizes["linear"], sizes["embedding"], sizes["linear_act"]
    params_total = float(sum(p.numel() for p in model.parameters()))
    other_params = params_total - sum(v for k, v in sizes.items() if k != "linear_act")

    hidden = int(getattr(config, "hidden_size", 0) or 0)
    ops = []
    ctx_total = 0.0  # token x context FLOPs (attention scores and weighted values), whatever kernel ran
    attention_per_token = 0.0
    for cls in sorted(set(f1) | set(f2)):
        a1, a2 = f1.get(cls, 0.0) / s1, f2.get(cls, 0.0) / s2
        ctx = max((a2 - a1) / (s2 - s1), 0.0)
        per_token = max(a1 - ctx * s1, 0.0)
        ctx_total += ctx
        if cls == "attention":
            attention_per_token += per_token
        elif per_token:
            ops.append(Operator(
                name=f"{cls} (FlopCounterMode)", op_class=cls, flops_per_token=per_token,
                params=linear_params if cls == "gemm" else 0.0,
                act_elems_per_token=linear_act if cls == "gemm" else 2.0 * hidden,
            ))
    if ctx_total or attention_per_token:
        ops.append(Operator(name="attention (FlopCounterMode)", op_class="attention",
                            flops_per_token=attention_per_token, flops_per_token_ctx=ctx_total,
                            act_elems_per_token=2.0 * hidden))
    # the vocabulary matrices (token embedding, output head) apart: quantization keeps them at 16 bits
    if sizes["vocab_linear"]:
        ops.append(Operator(name="output head", op_class="gemm", params=sizes["vocab_linear"], vocabulary=True))
    if sizes["vocab_embedding"]:
        ops.append(Operator(name="token embedding", op_class="embedding", params=sizes["vocab_embedding"],
                            weights_streamed=False, act_elems_per_token=float(hidden), vocabulary=True))
    if embed_params:
        ops.append(Operator(name="embeddings", op_class="embedding", params=embed_params, weights_streamed=False,
                            act_elems_per_token=float(hidden)))
    if other_params > 0:
        ops.append(Operator(name="other parameters", op_class="other", params=other_params,
                            act_elems_per_token=2.0 * hidden))
    if not any(op.op_class == "gemm" for op in ops) and linear_params:
        ops.append(Operator(name="linear weights", op_class="gemm", params=linear_params))

    generative = "CausalLM" in arch or "LMHead" in arch
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    kv_heads = getattr(config, "num_key_value_heads", None) or getattr(config, "num_attention_heads", 0) or 0
    heads = getattr(config, "num_attention_heads", 0) or 0
    head_dim = getattr(config, "head_dim", None) or (hidden // heads if heads else 0)
    max_seq = getattr(config, "max_position_embeddings", None)
    return Workload(
        name=source.name, display_name=f"{source.name} ({arch}, HF config)",
        family="decoder" if generative else ("encoder-decoder" if getattr(config, "is_encoder_decoder", False) else "encoder"),
        operators=tuple(ops), params_total=params_total, params_active=params_total, generative=generative,
        default_seq_len=int(seq_len or (512 if generative else 128)), seq_scalable=True,
        max_seq_len=int(max_seq) if isinstance(max_seq, int) else None,
        kv_elems_per_token=2.0 * layers * kv_heads * head_dim if generative else 0.0,
        saved_act_elems_per_token=17.0 * hidden * max(layers, 1), hidden_size=hidden, num_layers=layers,
        source=source.origin, frontend="hf", frontend_path=f"hf:flop-counter-{config.model_type}",
        notes="no analytic walk for this architecture: FLOPs counted with torch FlopCounterMode on meta "
              "tensors; MoE active parameters are not separated",
    )


def _module_params(model, vocabulary: frozenset) -> dict[str, float]:
    """Parameters of Linear modules (``linear``) and Embedding modules (``embedding``), those of the
    ``vocabulary`` modules (ids: token embedding, output head) apart (``vocab_linear``,
    ``vocab_embedding``), and the activation elements per token of all Linear modules (inputs +
    outputs, ``linear_act``). A shared parameter counts once, for the module that owns it
    (`torch_fe.parameter_owners`: a Linear when one shares it)."""
    import torch.nn as nn

    from phantom_report.engine.frontends.torch_fe import parameter_owners

    named = dict(model.named_modules())
    owner = parameter_owners(named)
    out = dict.fromkeys(("linear", "embedding", "vocab_linear", "vocab_embedding", "linear_act"), 0.0)
    for name, mod in named.items():
        linear = isinstance(mod, nn.Linear)
        if linear:
            out["linear_act"] += mod.in_features + mod.out_features
        elif not isinstance(mod, nn.Embedding):
            continue
        kind = ("vocab_" if id(mod) in vocabulary else "") + ("linear" if linear else "embedding")
        out[kind] += sum(p.numel() for p in mod.parameters(recurse=False) if owner[id(p)] == name)
    return out
