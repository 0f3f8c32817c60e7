"""Workload IR: a model as a small list of operators whose cost is linear in a few scaling terms.

Every front end (built-in zoo, Hugging Face, ONNX, PyTorch, TensorFlow) produces a `Workload`;
everything downstream (predictor, memory model, reports) reads only this IR.

Cost of one operator for one forward pass over a batch of ``B`` samples, each with ``q`` query
tokens attending over ``k`` context tokens (prefill: q = k = sequence length; one decode step:
q = 1, k = context so far; vision/CNN models: q = k = their fixed token count, or 1):

    flops        = count * B * (flops_per_sample + q * flops_per_token + q * k * flops_per_token_ctx)
    act_elems    = count * B * (act_elems_per_sample + q * act_elems_per_token + q * k * act_elems_per_token_ctx)
    kv_elems     = count * B * k * kv_elems_per_ctx_token          (KV cache read by attention)
    weight_elems = count * params * touched_fraction               (read once per pass, not per sample)

For generative workloads, per-sample terms (encoders, cross-attention K/V projections) are paid once
per request, in the prefill pass; decode steps run only the operators with per-token terms.

FLOPs count a multiply-add as 2. Element counts become bytes through the precision
(`engine.precision`): weights at the weight width, activations and KV cache at the activation width.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

OP_CLASSES = (
    "gemm",  # dense matmul / linear / 1x1 conv lowered to GEMM
    "conv",  # spatial convolution
    "grouped_conv",  # spatial convolution with groups > 1 (ResNeXt cardinality, depthwise): small per-group GEMMs
    "attention",  # softmax(QK^T)V core (projections are gemm)
    "elementwise",  # activations, residual adds, scaling
    "norm",  # layer/batch/group/RMS norm
    "embedding",  # table lookups (gather: only the looked-up rows are read)
    "reduction",  # softmax outside attention, pooling-like reductions
    "pool",
    "other",
)

FAMILIES = ("cnn", "encoder", "decoder", "encoder-decoder", "vit", "diffusion", "detector", "speech", "other")


# A looked-up table at least this tall is a token vocabulary (position and token-type tables are far
# shorter); the graph front ends mark the tallest such table and the products as wide as it.
MIN_VOCABULARY_ROWS = 1000


def vocabulary_rows(table_rows) -> int | None:
    """Rows of the token vocabulary among a model's looked-up tables (their row counts): the tallest,
    if it has at least MIN_VOCABULARY_ROWS; None for a model without one (a CNN, a model fed embeddings)."""
    tallest = max(table_rows, default=0)
    return tallest if tallest >= MIN_VOCABULARY_ROWS else None


@dataclass(frozen=True)
class Operator:
    """One operator kind of a workload, repeated `count` times per forward pass. Costs are per
    instance and split by how they scale: per sample, per token (q), per token x context token
    (q x k: attention scores); FLOPs, activation elements (read + written, at the activation
    precision), parameters (elements, at the weight precision) and KV-cache elements per context token.
    Mixture-of-experts banks give their expert count and top-k."""

    name: str
    op_class: str
    count: int = 1
    flops_per_sample: float = 0.0
    flops_per_token: float = 0.0
    flops_per_token_ctx: float = 0.0
    params: float = 0.0
    act_elems_per_sample: float = 0.0
    act_elems_per_token: float = 0.0
    act_elems_per_token_ctx: float = 0.0
    kv_elems_per_ctx_token: float = 0.0
    # False for gathers (embeddings): only the rows looked up are read, counted as activations.
    weights_streamed: bool = True
    # Mixture of experts: this operator holds `moe_experts` experts of which `moe_top_k` run per
    # token; `params` is the total over all experts, `flops_per_token` the cost of the active ones.
    moe_experts: int = 0
    moe_top_k: int = 0
    # A vocabulary matrix (token embedding, output head): quantization tools leave it at 16 bits,
    # so its bytes follow `precision.VOCAB_BYTES`, not the format's weight width. Graph front ends
    # (ONNX, torch) that see no names find it by shape: see MIN_VOCABULARY_ROWS.
    vocabulary: bool = False

    def __post_init__(self) -> None:
        if self.op_class not in OP_CLASSES:
            raise ValueError(f"operator {self.name!r}: op_class {self.op_class!r} not in {OP_CLASSES}")
        if self.count < 1:
            raise ValueError(f"operator {self.name!r}: count must be >= 1")

    def flops(self, batch: float, q: float, k: float) -> float:
        """FLOPs of all `count` instances for `batch` samples of q tokens attending to k context tokens."""
        return self.count * batch * (
            self.flops_per_sample + q * self.flops_per_token + q * k * self.flops_per_token_ctx
        )


@dataclass(frozen=True)
class Workload:
    """A model as operators plus the facts the memory model and reports need."""

    name: str  # canonical id, e.g. "llama-3.1-8b"
    display_name: str
    family: str  # one of FAMILIES
    operators: tuple[Operator, ...]
    params_total: float
    params_active: float  # per token; == params_total except for MoE
    # decoder models generate tokens: prediction reports TTFT/TPOT; others process fixed inputs
    generative: bool = False
    # tokens per sample when the model's input size is fixed (ViT: 197 patches; CNN: 1)
    default_seq_len: int = 1
    # whether the user may vary sequence length (text models) or not (fixed-resolution vision)
    seq_scalable: bool = False
    max_seq_len: int | None = None
    # vision models: the input side in pixels the operators were traced at; a point's `seq_in`
    # (image side) rescales per-sample and per-token work by (side / image_size)^2
    image_size: int = 0
    # KV-cache elements per token per sample, all layers (2 * layers * kv_heads * head_dim)
    kv_elems_per_token: float = 0.0
    # activation elements per sample kept for backward (training memory), per token if seq_scalable
    saved_act_elems_per_token: float = 0.0
    hidden_size: int = 0
    num_layers: int = 0
    source: str = ""  # where the architecture figures come from
    frontend: str = "builtin"  # builtin | hf | onnx | torch | tensorflow
    frontend_path: str = ""  # how the front end derived the IR (e.g. "hf:analytic", "hf:flop-counter")
    unknown_ops: Mapping[str, int] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"workload {self.name!r}: family {self.family!r} not in {FAMILIES}")

    # --- totals, scalar helpers (the predictor evaluates the same terms vectorized) ---
    def flops(self, batch: float = 1, q: float | None = None, k: float | None = None) -> float:
        """FLOPs of one forward pass for `batch` samples of q tokens (default: the workload's default
        length) attending to k context tokens (default: q)."""
        q = self.default_seq_len if q is None else q
        k = q if k is None else k
        return sum(op.flops(batch, q, k) for op in self.operators)

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Forward FLOPs per token at a given context (prefill of `seq_len` tokens / seq_len)."""
        s = seq_len or self.default_seq_len
        return self.flops(1, s, s) / s

    def weight_params_streamed(self) -> float:
        """Parameters read from memory on every pass (embedding tables, which are gathered, excluded)."""
        return sum(op.count * op.params for op in self.operators if op.weights_streamed)

    @cached_property
    def vocab_params(self) -> float:
        """Parameters of the vocabulary matrices (token embedding and output head; a tied matrix
        once: its owner holds the parameters), stored at `precision.VOCAB_BYTES`."""
        return float(sum(op.count * op.params for op in self.operators if op.vocabulary))

    def weight_bytes(self, weight_bytes, vocab_extra_bytes=0.0):
        """Bytes of all parameters stored at `weight_bytes` per weight, the vocabulary matrices'
        at `vocab_extra_bytes` more (scalars or numpy arrays)."""
        return self.params_total * weight_bytes + self.vocab_params * vocab_extra_bytes

    def with_name(self, name: str, display_name: str | None = None) -> "Workload":
        """This workload under another name (display name: `display_name`, else the name)."""
        return replace(self, name=name, display_name=display_name or name)
