"""Hugging Face front end: a config (inline dict, config.json, directory, cached model id) -> Workload.

The model is built from its config on the `meta` device (shapes only: no weights are allocated and
nothing is downloaded), then its modules are walked. For the architectures in `ANALYTIC_TYPES` each
Linear/Conv1D, Embedding, norm, expert bank and attention module becomes an operator with the same
conventions as the built-in zoo (`engine.zoo_transformers`); layers repeated N times become one
operator with count N. Other architectures fall back to `FlopCounterMode` on meta tensors
(`hf_fallback`), and `frontend_path` says which path was used.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from phantom_report.engine.ir import Operator, Workload
from phantom_report.errors import ModelError

# model_type -> (family, generative, default tokens per sample, sequence length scalable)
_FAMILY: dict[str, tuple[str, bool, int, bool]] = {
    "llama": ("decoder", True, 512, True),
    "mistral": ("decoder", True, 512, True),
    "mixtral": ("decoder", True, 512, True),
    "qwen2": ("decoder", True, 512, True),
    "qwen2_moe": ("decoder", True, 512, True),
    "gemma": ("decoder", True, 512, True),
    "gemma2": ("decoder", True, 512, True),
    "gpt2": ("decoder", True, 512, True),
    "bert": ("encoder", False, 128, True),
    "roberta": ("encoder", False, 128, True),
    # T5 is modelled like the zoo: encoder + decoder over the same tokens (teacher forcing)
    "t5": ("encoder-decoder", False, 512, True),
    "vit": ("vit", False, 0, False),  # tokens = patches + 1, set from the config
    # Whisper: a fixed audio window is encoded once per sample; tokens are generated one by one
    "whisper": ("speech", True, 1, True),
}
ANALYTIC_TYPES = frozenset(_FAMILY)

# Encoders are deployed as backbone (+ small task head); their pretraining heads (MLM/NSP) named
# in `architectures` would add a vocabulary-sized projection nobody runs in production.
_BACKBONE_TYPES = frozenset({"bert", "roberta"})

_NO_CONFIG_HINT = (
    "nothing is downloaded: save the model's config.json locally (e.g. `huggingface-cli download "
    "{id} config.json --local-dir DIR`) and pass DIR or the file, or give the config inline as "
    "`model: {{hf: {id}, config: {{model_type: ..., ...}}}}`"
)


@dataclass(frozen=True)
class HfSource:
    """A resolved Hugging Face source: the raw config dict and where it came from."""

    config: Mapping[str, Any]
    origin: str  # file path, model id or "inline config", for messages
    name: str  # workload name


def read_config_file(path: Path) -> dict[str, Any]:
    """A config.json as a dict; malformed JSON is a ModelError naming line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object (a Hugging Face config), got {type(data).__name__}")
    return data


def resolve_source(ref: str | None, inline: Mapping[str, Any] | None = None) -> HfSource:
    """`ref` is a config.json path, a directory holding one, or a model id in the local HF cache."""
    if inline is not None:
        if not isinstance(inline, Mapping):
            raise ModelError(f"hf source {ref!r}: 'config' must be a mapping of config keys, got {type(inline).__name__}")
        name = _name_from_ref(ref) if ref else str(inline.get("_name_or_path") or inline.get("model_type") or "hf-model")
        return HfSource(dict(inline), "inline config", name)
    if not ref:
        raise ModelError("hf source: give a config.json path, a directory, a model id or an inline `config:`")
    path = Path(ref).expanduser()
    if path.is_dir():
        cfg = path / "config.json"
        if not cfg.is_file():
            raise ModelError(f"{path}: directory has no config.json")
        return HfSource(read_config_file(cfg), str(cfg), path.resolve().name)
    if path.is_file():
        name = path.parent.resolve().name if path.name == "config.json" else path.stem
        return HfSource(read_config_file(path), str(path), name)
    if path.suffix == ".json" or ref.startswith((".", "/", "~")):
        raise ModelError(f"{ref}: file not found")
    return HfSource(_cached_config(ref), f"Hugging Face cache ({ref})", _name_from_ref(ref))


def _name_from_ref(ref: str) -> str:
    return ref.rstrip("/").split("/")[-1]


def _cached_config(model_id: str) -> dict[str, Any]:
    """A model id's config.json from the local Hugging Face cache only (never the network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        raise ModelError(f"no local config for model id {model_id!r}; " + _NO_CONFIG_HINT.format(id=model_id)) from None
    try:
        found = try_to_load_from_cache(model_id, "config.json", cache_dir=_hub_cache_dir())
    except Exception:  # malformed repo ids raise validation errors
        found = None
    if not isinstance(found, str):
        raise ModelError(f"no local config.json for Hugging Face model id {model_id!r}; "
                         + _NO_CONFIG_HINT.format(id=model_id))
    return read_config_file(Path(found))


def _hub_cache_dir() -> str | None:
    """The hub cache as the environment says now (huggingface_hub reads it once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def build_config(data: Mapping[str, Any], origin: str):
    """A transformers config object from a raw dict (nothing is fetched)."""
    import transformers

    model_type = data.get("model_type")
    if not model_type:
        raise ModelError(f"{origin}: config has no 'model_type' key (expected e.g. 'llama', 'bert', 'vit')")
    kwargs = {k: v for k, v in data.items() if k not in ("model_type", "transformers_version")}
    try:
        return transformers.AutoConfig.for_model(str(model_type), **kwargs)
    except ValueError:
        raise ModelError(f"{origin}: model_type {model_type!r} is not known to transformers "
                         f"{transformers.__version__}") from None
    except (TypeError, AttributeError) as exc:
        raise ModelError(f"{origin}: invalid config for {model_type!r}: {exc}") from None


def instantiate_meta(config, origin: str, architecture: str | None = None):
    """The model with every tensor on the meta device, and the class name used."""
    import torch
    import transformers

    model_type = config.model_type
    arch = architecture
    if arch is None and model_type not in _BACKBONE_TYPES:
        for candidate in getattr(config, "architectures", None) or ():
            if hasattr(transformers, candidate):
                arch = candidate
                break
    try:
        with torch.device("meta"):
            if arch is not None:
                cls = getattr(transformers, arch, None)
                if cls is None:
                    raise ModelError(f"{origin}: transformers has no architecture {arch!r}")
                model = cls(config)
            elif _FAMILY.get(model_type, ("",))[0] == "decoder" or _is_causal(config):
                model = transformers.AutoModelForCausalLM.from_config(config)
            elif model_type in ("t5", "whisper") or getattr(config, "is_encoder_decoder", False):
                auto = (transformers.AutoModelForSpeechSeq2Seq if model_type == "whisper"
                        else transformers.AutoModelForSeq2SeqLM)
                model = auto.from_config(config)
            else:
                model = transformers.AutoModel.from_config(config)
    except ModelError:
        raise
    except Exception as exc:  # transformers raises many kinds for inconsistent configs
        raise ModelError(f"{origin}: transformers could not build {arch or model_type!r} from this config: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return model, type(model).__name__


def _is_causal(config) -> bool:
    return any("CausalLM" in a for a in (getattr(config, "architectures", None) or ()))


def load_hf(source: HfSource, *, seq_len: int | None = None, architecture: str | None = None) -> Workload:
    """Workload of a resolved Hugging Face config, built on the meta device: the analytic operator
    walk for `ANALYTIC_TYPES`, FlopCounterMode otherwise (`frontend_path` says which). architecture:
    the model class to instantiate when the config names several."""
    config = build_config(source.config, source.origin)
    model, arch = instantiate_meta(config, source.origin, architecture)
    if config.model_type in ANALYTIC_TYPES:
        return analytic_workload(model, config, arch, source, seq_len)
    from phantom_report.engine.frontends.hf_fallback import flop_counter_workload

    return flop_counter_workload(model, config, arch, source, seq_len)


# ----------------------------------------------------------------------------- analytic walk

_LAYER_INDEX = re.compile(r"\.\d+(?=\.|$)")
_CROSS = re.compile(r"(encoder_attn|EncDecAttention|crossattention)")
_Q_NAMES = ("q_proj", "query", "q", "q_lin")
_K_NAMES = ("k_proj", "key", "k", "k_lin")
_FUSED_QKV = ("c_attn",)
_PER_SAMPLE_HEADS = ("pooler", "classifier")


@dataclass(frozen=True)
class _Geometry:
    """How many tokens a module sees: per token (None) or a fixed count per sample."""

    encoder_tokens: int | None  # Whisper: encoder frames after the stride-2 conv

    def scope(self, name: str, arch: str) -> int | None:
        if self.encoder_tokens is not None and (".encoder." in f".{name}" or name.startswith("encoder")):
            return self.encoder_tokens
        head = name.split(".")[-2] if name.endswith(".dense") else name.split(".")[-1]
        if head in _PER_SAMPLE_HEADS and not arch.endswith(("TokenClassification", "QuestionAnswering")):
            return 1  # pooler / sequence classifier: on the [CLS] token only
        return None


class _Ops:
    """Accumulates operators, merging identical ones (same kind name and figures) into counts."""

    def __init__(self) -> None:
        self._ops: OrderedDict[Operator, int] = OrderedDict()

    def add(self, op: Operator) -> None:
        self._ops[op] = self._ops.get(op, 0) + 1

    def operators(self) -> tuple[Operator, ...]:
        out = []
        for op, n in self._ops.items():
            out.append(Operator(**{**op.__dict__, "count": op.count * n}))
        return tuple(out)


def _kind(name: str) -> str:
    """`model.layers.7.self_attn.q_proj` -> `layers.self_attn.q_proj` (one name per layer kind)."""
    short = _LAYER_INDEX.sub("", name)
    for prefix in ("model.", "transformer."):
        if short.startswith(prefix):
            short = short[len(prefix):]
    return short or "root"


def _linear_op(name: str, d_in: int, d_out: int, params: float, tokens: int | None,
               vocabulary: bool = False) -> Operator:
    if tokens is None:
        return Operator(name=name, op_class="gemm", flops_per_token=2.0 * d_in * d_out, params=params,
                        act_elems_per_token=float(d_in + d_out), vocabulary=vocabulary)
    return Operator(name=name, op_class="gemm", flops_per_sample=2.0 * d_in * d_out * tokens, params=params,
                    act_elems_per_sample=float(d_in + d_out) * tokens, vocabulary=vocabulary)


def _per(tokens: int | None, per_token: float) -> dict[str, float]:
    """Activation elements per token, or per sample when the module sees a fixed token count."""
    if tokens is None:
        return {"act_elems_per_token": per_token}
    return {"act_elems_per_sample": per_token * tokens}


def _conv_out(size: tuple[int, ...], conv) -> tuple[int, ...]:
    out = []
    for i, n in enumerate(size):
        k, s, p, d = conv.kernel_size[i], conv.stride[i], conv.padding[i], conv.dilation[i]
        out.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    return tuple(out)


def _top_k(config) -> int:
    for attr in ("num_experts_per_tok", "moe_top_k", "top_k"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    return 1


@dataclass
class _Walk:
    """One analytic walk over a model's modules: what every pass reads (the module list, the
    architecture class, the token geometry, the config's widths) and what they build (operators,
    notes, the parameters already owned by an operator: tied weights count once)."""

    modules: list
    arch: str
    geo: _Geometry
    config: Any
    hidden: int
    top_k: int
    enc_frames: int | None  # Whisper: encoder frames per sample (None otherwise)
    image: int | None  # ViT: image side in pixels (None otherwise)
    # ids of the token-embedding and output-head modules (`Operator.vocabulary`)
    vocabulary: frozenset = frozenset()
    ops: _Ops = field(default_factory=_Ops)
    notes: list[str] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)
    expert_params_total: float = 0.0

    def own(self, params) -> float:
        """Elements of `params` not yet owned by an operator, now owned."""
        total = 0.0
        for p in params:
            if id(p) not in self.claimed:
                self.claimed.add(id(p))
                total += p.numel()
        return total


def analytic_workload(model, config, arch: str, source: HfSource, seq_len: int | None) -> Workload:
    """Workload of a meta-device model of an `ANALYTIC_TYPES` architecture, built operator by
    operator from its modules (streamed weights, convolutions, norms and embeddings, attention
    cores and per-block elementwise work); seq_len overrides the default tokens per sample of
    sequence-scalable models. FLOPs per token or per sample, parameters in elements."""
    model_type = config.model_type
    family, generative, default_seq, scalable = _FAMILY[model_type]
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    enc_frames = int(config.max_source_positions) if model_type == "whisper" else None
    image = int(config.image_size) if model_type == "vit" else None
    walk = _Walk(list(model.named_modules()), arch, _Geometry(enc_frames), config, hidden, _top_k(config),
                 enc_frames, image, vocabulary=_vocabulary_modules(model))
    _add_weight_ops(walk)
    _add_conv_ops(walk)
    _add_parameter_ops(walk)
    kv_cache, blocks, token_blocks = _add_attention_and_block_ops(walk, generative)
    operators = walk.ops.operators()
    if enc_frames:
        operators = _whisper_cross_kv_per_sample(operators, enc_frames)
    params_total, params_active = _parameter_counts(model, operators, walk)
    if model_type == "vit":
        patches = (image // int(config.patch_size)) ** 2
        default_seq = patches + 1
    if seq_len and scalable:
        default_seq = int(seq_len)
    return Workload(
        name=source.name, display_name=f"{source.name} ({arch}, HF config)", family=family,
        operators=operators, params_total=params_total, params_active=params_active,
        generative=generative, default_seq_len=int(default_seq), seq_scalable=scalable,
        max_seq_len=_max_positions(config, model_type), kv_elems_per_token=kv_cache,
        # Korthikanti et al. 2022: ~34*h bytes per token and layer at 16 bit = 17*h elements
        saved_act_elems_per_token=17.0 * hidden * max(token_blocks, 1),
        hidden_size=hidden, num_layers=blocks, source=source.origin, frontend="hf",
        frontend_path=f"hf:analytic-{model_type}", notes="; ".join(walk.notes),
    )


def _vocabulary_modules(model) -> frozenset:
    """ids of the model's token-embedding and output-head modules (as transformers names them)."""
    found = []
    for getter in ("get_input_embeddings", "get_output_embeddings"):
        try:
            found.append(getattr(model, getter)())
        except (AttributeError, NotImplementedError):  # a model class without that head
            continue
    return frozenset(id(m) for m in found if m is not None)


def _add_weight_ops(walk: _Walk) -> None:
    """Pass 1, streamed weights: Linear/Conv1D projections, fused expert banks and routers. First,
    so a weight tied between an embedding and a projection is owned by the projection, whose reads
    cost bandwidth (the gather reads only a few rows)."""
    import torch.nn as nn
    from transformers.pytorch_utils import Conv1D

    top_k = walk.top_k
    for name, mod in walk.modules:
        kind = _kind(name)
        tokens = walk.geo.scope(name, walk.arch)
        direct = list(mod.parameters(recurse=False))
        if isinstance(mod, nn.Linear):
            walk.ops.add(_linear_op(kind, mod.in_features, mod.out_features, walk.own(direct), tokens,
                                    vocabulary=id(mod) in walk.vocabulary))
        elif isinstance(mod, Conv1D):
            d_in, d_out = mod.weight.shape
            walk.ops.add(_linear_op(kind, int(d_in), int(d_out), walk.own(direct), tokens))
        elif direct and "expert" in type(mod).__name__.lower() and all(p.dim() == 3 for p in direct):
            # fused expert bank: each parameter is [experts, out, in]
            experts = int(direct[0].shape[0])
            params = walk.own(direct)
            walk.expert_params_total += params
            per_expert = params / experts
            walk.ops.add(Operator(name=kind, op_class="gemm", flops_per_token=2.0 * per_expert * top_k,
                                  params=params, moe_experts=experts, moe_top_k=min(top_k, experts),
                                  **_per(tokens, float(sum(int(p.shape[1]) + int(p.shape[2]) for p in direct)) * top_k)))
        elif len(direct) == 1 and direct[0].dim() == 2 and not isinstance(mod, nn.Embedding) \
                and "router" in type(mod).__name__.lower():
            out_f, in_f = (int(x) for x in direct[0].shape)
            walk.ops.add(_linear_op(kind, in_f, out_f, walk.own(direct), tokens))


def _add_conv_ops(walk: _Walk) -> None:
    """Pass 2, convolutions (patch embeddings, audio front ends): a fixed input size per sample,
    each convolution's output size feeding the next; counted as parameters only where unknown."""
    import torch.nn as nn

    enc_frames, image = walk.enc_frames, walk.image
    conv_size: tuple[int, ...] | None = None
    for name, mod in walk.modules:
        if not isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            continue
        if conv_size is None:
            conv_size = (2 * enc_frames,) if enc_frames else ((image, image) if image else None)
        if conv_size is None:
            walk.notes.append(f"{name}: convolution input size unknown; counted as parameters only")
            walk.ops.add(Operator(name=_kind(name), op_class="conv", params=walk.own(mod.parameters(recurse=False))))
            continue
        out = _conv_out(conv_size, mod)
        positions = 1
        for n in out:
            positions *= n
        in_positions = 1
        for n in conv_size:
            in_positions *= n
        kernel = mod.weight[0].numel()  # in/groups * prod(kernel)
        walk.ops.add(Operator(name=_kind(name), op_class="grouped_conv" if mod.groups > 1 else "conv",
                              flops_per_sample=2.0 * kernel * mod.out_channels * positions,
                              params=walk.own(mod.parameters(recurse=False)),
                              act_elems_per_sample=float(mod.in_channels * in_positions + mod.out_channels * positions)))
        conv_size = out


def _add_parameter_ops(walk: _Walk) -> None:
    """Pass 3, norms, embeddings and stray parameters (ViT's class token and position table)."""
    import torch.nn as nn

    for name, mod in walk.modules:
        kind = _kind(name)
        tokens = walk.geo.scope(name, walk.arch)
        direct = [p for p in mod.parameters(recurse=False) if id(p) not in walk.claimed]
        if isinstance(mod, nn.Embedding):
            width = int(mod.weight.shape[1])
            walk.ops.add(Operator(name=kind, op_class="embedding", params=walk.own([mod.weight]),
                                  weights_streamed=False, vocabulary=id(mod) in walk.vocabulary,
                                  **_per(tokens, float(width))))
        elif direct and "norm" in type(mod).__name__.lower():
            width = int(direct[0].numel())
            walk.ops.add(Operator(name=kind, op_class="norm", params=walk.own(direct), **_per(tokens, 2.0 * width)))
        elif direct:
            walk.ops.add(Operator(name=f"{kind}.params", op_class="elementwise", params=walk.own(direct),
                                  **_per(tokens, 2.0 * walk.hidden)))


def _add_attention_and_block_ops(walk: _Walk, generative: bool) -> tuple[float, int, int]:
    """Pass 4, attention cores and per-block elementwise work (activations, residual adds).
    Returns (KV-cache elements per token, blocks, blocks that run per token)."""
    from transformers.pytorch_utils import Conv1D
    import torch.nn as nn

    kv_cache = 0.0
    blocks = 0
    token_blocks = 0
    block_names: list[str] = []  # a block nested in a block (T5's layer.N) is not a new block
    for name, mod in walk.modules:
        kind = _kind(name)
        tokens = walk.geo.scope(name, walk.arch)
        children = dict(mod.named_children())
        if "attention" in type(mod).__name__.lower() and any(
                isinstance(c, (nn.Linear, Conv1D)) for c in children.values()):
            widths = _qk_widths(children, walk.config)
            if widths is None:
                walk.notes.append(f"{name}: attention projections not recognised; core not counted")
                continue
            op, kv = _attention_core(kind, name, widths, tokens, walk.enc_frames, generative)
            kv_cache += kv
            walk.ops.add(op)
        elif re.search(r"\.\d+$", name) and not any(name.startswith(b + ".") for b in block_names) \
                and _is_block(mod):
            block_names.append(name)
            blocks += 1
            if tokens is None:
                token_blocks += 1
            elems = _block_elementwise(mod, walk.hidden, walk.top_k)
            walk.ops.add(Operator(name=kind + ".act_and_residual", op_class="elementwise", **_per(tokens, elems)))
    return kv_cache, blocks, token_blocks


def _attention_core(kind: str, name: str, widths: tuple[int, int], tokens: int | None, enc_frames: int | None,
                    generative: bool) -> tuple[Operator, float]:
    """(the attention core operator of module `name`, the KV-cache elements per token it adds):
    encoder self-attention over a fixed window, decoder cross-attention over the encoder output,
    or self-attention over the context (the only kind that keeps a KV cache while generating)."""
    hq, hkv = widths
    cross = bool(_CROSS.search(name))
    if tokens is not None:  # encoder self-attention over a fixed window (Whisper)
        return Operator(name=kind + ".core", op_class="attention", flops_per_sample=4.0 * hq * tokens * tokens,
                        act_elems_per_sample=4.0 * tokens * hq), 0.0
    if cross and enc_frames:  # decoder cross-attention over the fixed encoder output
        return Operator(name=kind + ".core", op_class="attention", flops_per_token=4.0 * hq * enc_frames,
                        act_elems_per_token=2.0 * hq + 2.0 * enc_frames * hq / 64), 0.0
    op = Operator(name=kind + ".core", op_class="attention", flops_per_token_ctx=4.0 * hq,
                  act_elems_per_token=2.0 * hq, kv_elems_per_ctx_token=2.0 * hkv)
    return op, (2.0 * hkv if generative and not cross else 0.0)


def _parameter_counts(model, operators: tuple[Operator, ...], walk: _Walk) -> tuple[float, float]:
    """(parameters in total, parameters active per token: the experts a token is not routed to
    left out); notes a mismatch between the model's and the operators' parameters."""
    params_total = float(sum(p.numel() for p in model.parameters()))
    op_params = sum(op.params * op.count for op in operators)
    if abs(op_params - params_total) > 0.5:
        walk.notes.append(f"operators hold {op_params:,.0f} of {params_total:,.0f} parameters")
    params_active = params_total
    experts = next((op for op in operators if op.moe_experts), None)
    if experts is not None:
        params_active = params_total - walk.expert_params_total * (experts.moe_experts - experts.moe_top_k) / experts.moe_experts
    return params_total, params_active


def _qk_widths(children: Mapping[str, Any], config) -> tuple[int, int] | None:
    """(heads*head_dim of the queries, kv_heads*head_dim of the keys) from the projections."""
    def width(names):
        for n in names:
            if n in children:
                mod = children[n]
                return int(getattr(mod, "out_features", 0) or getattr(mod, "nf", 0))
        return None

    q, k = width(_Q_NAMES), width(_K_NAMES)
    if q and k:
        return q, k
    fused = width(_FUSED_QKV)
    if fused:
        return fused // 3, fused // 3
    return None


def _is_block(mod) -> bool:
    """A repeated transformer block: holds an attention module among its descendants."""
    return any("attention" in type(m).__name__.lower() for m in mod.modules() if m is not mod)


def _block_elementwise(block, hidden: int, top_k: int) -> float:
    """Activation elements of a block's pointwise work: two residual adds plus the MLP activation
    (gated MLPs read gate and up, write the product)."""
    import torch.nn as nn

    ffn, gated, moe = 0, False, False
    for name, m in block.named_modules():
        lname = name.lower()
        if isinstance(m, nn.Linear) and m.in_features > ffn and "attn" not in lname and "attention" not in lname:
            ffn = m.in_features
        if "gate" in lname.split(".")[-1]:
            gated = True
        for p in m.parameters(recurse=False):
            if p.dim() == 3 and int(p.shape[1]) == hidden:  # expert down projection [experts, hidden, ffn]
                moe, gated, ffn = True, True, max(ffn, int(p.shape[2]))
    width = (3 if gated else 2) * ffn * (top_k if moe else 1)
    return float(2 * hidden + width)


def _whisper_cross_kv_per_sample(ops: tuple[Operator, ...], frames: int) -> tuple[Operator, ...]:
    """Whisper's cross-attention K/V projections run once per sample over the encoder frames."""
    out = []
    for op in ops:
        if _CROSS.search(op.name) and op.name.endswith(("k_proj", "v_proj")) and op.flops_per_token:
            d_in_out = op.act_elems_per_token
            op = Operator(**{**op.__dict__, "flops_per_sample": op.flops_per_token * frames, "flops_per_token": 0.0,
                             "act_elems_per_sample": d_in_out * frames, "act_elems_per_token": 0.0})
        out.append(op)
    return tuple(out)


def _max_positions(config, model_type: str) -> int | None:
    if model_type == "whisper":
        return int(config.max_target_positions)
    if model_type == "t5":
        return 512
    for attr in ("max_position_embeddings", "n_positions", "n_ctx"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    return None
