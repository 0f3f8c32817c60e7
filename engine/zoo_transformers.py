"""Transformer builders for the built-in zoo: decoder LLMs, BERT-style encoders, ViT, T5, Whisper.

Each builder turns published architecture hyper-parameters (the model's config / paper) into
`Operator`s. Conventions (shared with the Hugging Face front end):
- a linear layer in->out: flops_per_token = 2*in*out, params = in*out (+ out if biased),
  activation elements per token = in + out;
- attention core (softmax(QK^T)V): flops_per_token_ctx = 4 * heads * head_dim (QK^T and AV over
  the full context; the predictor halves it for a causal prefill), KV-cache elements per context token
  = 2 * kv_heads * head_dim; the score matrix is not materialised (flash attention);
- embeddings are gathers (weights_streamed=False): only the looked-up rows move.
"""

from __future__ import annotations

from phantom_report.engine.ir import Operator, Workload


def linear(name: str, d_in: int, d_out: int, count: int, bias: bool = False, **kw) -> Operator:
    """A dense projection d_in -> d_out run per token: 2 d_in d_out FLOPs, its weights (and bias)
    as parameters, input and output as activations."""
    return Operator(
        name=name, op_class="gemm", count=count,
        flops_per_token=2.0 * d_in * d_out,
        params=d_in * d_out + (d_out if bias else 0),
        act_elems_per_token=d_in + d_out, **kw,
    )


def attention_core(name: str, heads: int, kv_heads: int, head_dim: int, count: int) -> Operator:
    """The attention core (QK^T, softmax, xV) per token and context token: 4 heads x head_dim FLOPs,
    and K and V of kv_heads x head_dim each kept in the KV cache."""
    return Operator(
        name=name, op_class="attention", count=count,
        flops_per_token_ctx=4.0 * heads * head_dim,
        act_elems_per_token=2.0 * heads * head_dim,
        kv_elems_per_ctx_token=2.0 * kv_heads * head_dim,
    )


def norm(name: str, width: int, count: int, bias: bool) -> Operator:
    """A LayerNorm/RMSNorm of `width` per token (scale, and bias when `bias`)."""
    return Operator(
        name=name, op_class="norm", count=count,
        params=width * (2 if bias else 1), act_elems_per_token=2.0 * width,
    )


def elementwise(name: str, elems_per_token: float, count: int) -> Operator:
    """Per-token elementwise work (activations, residual adds) touching `elems_per_token` elements."""
    return Operator(name=name, op_class="elementwise", count=count, act_elems_per_token=elems_per_token)


def embedding(name: str, rows: int, width: int, params: bool = True, vocabulary: bool = False) -> Operator:
    """A table of rows x width gathered per token (not streamed: only the looked-up rows are read);
    params=False for a table whose weights another operator owns (tied); vocabulary=True for the
    token-embedding table (`Operator.vocabulary`)."""
    return Operator(
        name=name, op_class="embedding", params=rows * width if params else 0,
        act_elems_per_token=width, weights_streamed=False, vocabulary=vocabulary,
    )


def _sum_params(ops: list[Operator]) -> float:
    return float(sum(op.params * op.count for op in ops))


def decoder_llm(
    name: str, display: str, *, vocab: int, hidden: int, layers: int, heads: int, kv_heads: int,
    ffn: int, max_seq: int, tied: bool = False, gated: bool = True, qkv_bias: bool = False,
    experts: int = 0, top_k: int = 0, source: str, aliases: tuple[str, ...] = (),
) -> Workload:
    """Llama/Mistral/Mixtral-style pre-norm decoder with RMSNorm and (gated) MLP."""
    hd = hidden // heads
    qkv_out = (heads + 2 * kv_heads) * hd
    ops = [
        embedding("embed_tokens", vocab, hidden, params=not tied, vocabulary=True),
        norm("input_norm", hidden, layers, bias=False),
        linear("qkv_proj", hidden, qkv_out, layers, bias=qkv_bias),
        attention_core("attention", heads, kv_heads, hd, layers),
        linear("o_proj", heads * hd, hidden, layers),
        norm("post_attn_norm", hidden, layers, bias=False),
    ]
    mlp_mats = 3 if gated else 2
    if experts:
        ops.append(linear("router", hidden, experts, layers))
        ops.append(Operator(
            name="experts_mlp", op_class="gemm", count=layers,
            flops_per_token=2.0 * mlp_mats * hidden * ffn * top_k,
            params=mlp_mats * hidden * ffn * experts,
            act_elems_per_token=(hidden + 3 * ffn) * top_k,
            moe_experts=experts, moe_top_k=top_k,
        ))
    else:
        ops.append(linear("mlp_in", hidden, (mlp_mats - 1) * ffn, layers))
        ops.append(linear("mlp_out", ffn, hidden, layers))
    ops += [
        elementwise("act_and_residual", 2 * hidden + 3 * ffn * max(top_k, 1), layers),
        norm("final_norm", hidden, 1, bias=False),
        # tied: the LM head reads the embedding matrix; its params are counted once (here)
        linear("lm_head", hidden, vocab, 1, vocabulary=True),
    ]
    total = _sum_params(ops)
    active = total
    if experts:
        expert_params = mlp_mats * hidden * ffn * layers
        active = total - expert_params * (experts - top_k)
    return Workload(
        name=name, display_name=display, family="decoder", operators=tuple(ops),
        params_total=total, params_active=active, generative=True, default_seq_len=512,
        seq_scalable=True, max_seq_len=max_seq, kv_elems_per_token=2.0 * layers * kv_heads * hd,
        # Korthikanti et al. 2022: ~34*h bytes/token/layer at 16 bit without recompute = 17*h elements
        saved_act_elems_per_token=17.0 * hidden * layers,
        hidden_size=hidden, num_layers=layers, source=source, aliases=aliases,
    )


def gpt2(name: str, display: str, *, vocab: int, hidden: int, layers: int, heads: int, n_ctx: int,
         source: str, aliases: tuple[str, ...] = ()) -> Workload:
    """A GPT-2-style decoder (learned positions, LayerNorm with bias, fused QKV, GELU MLP of 4 x hidden)
    with the output head tied to the token embedding."""
    hd = hidden // heads
    ops = [
        embedding("wte", vocab, hidden, params=False, vocabulary=True),  # owned by the tied head
        embedding("wpe", n_ctx, hidden),
        norm("ln_1", hidden, layers, bias=True),
        linear("c_attn", hidden, 3 * hidden, layers, bias=True),
        attention_core("attention", heads, heads, hd, layers),
        linear("attn_c_proj", hidden, hidden, layers, bias=True),
        norm("ln_2", hidden, layers, bias=True),
        linear("mlp_c_fc", hidden, 4 * hidden, layers, bias=True),
        linear("mlp_c_proj", 4 * hidden, hidden, layers, bias=True),
        elementwise("gelu_and_residual", 2 * hidden + 8 * hidden, layers),
        norm("ln_f", hidden, 1, bias=True),
        linear("lm_head(tied)", hidden, vocab, 1, vocabulary=True),
    ]
    total = _sum_params(ops)
    return Workload(
        name=name, display_name=display, family="decoder", operators=tuple(ops),
        params_total=total, params_active=total, generative=True, default_seq_len=512,
        seq_scalable=True, max_seq_len=n_ctx, kv_elems_per_token=2.0 * layers * hidden,
        saved_act_elems_per_token=17.0 * hidden * layers,
        hidden_size=hidden, num_layers=layers, source=source, aliases=aliases,
    )


def _encoder_layer_ops(prefix: str, hidden: int, heads: int, ffn: int, layers: int, bias: bool = True) -> list[Operator]:
    hd = hidden // heads
    return [
        linear(f"{prefix}qkv", hidden, 3 * hidden, layers, bias=bias),
        attention_core(f"{prefix}attention", heads, heads, hd, layers),
        linear(f"{prefix}attn_out", hidden, hidden, layers, bias=bias),
        norm(f"{prefix}ln_attn", hidden, layers, bias=bias),
        linear(f"{prefix}ffn_in", hidden, ffn, layers, bias=bias),
        linear(f"{prefix}ffn_out", ffn, hidden, layers, bias=bias),
        norm(f"{prefix}ln_ffn", hidden, layers, bias=bias),
        elementwise(f"{prefix}gelu_and_residual", 2 * hidden + 2 * ffn, layers),
    ]


def bert(name: str, display: str, *, vocab: int, hidden: int, layers: int, heads: int, ffn: int,
         max_pos: int, source: str, aliases: tuple[str, ...] = ()) -> Workload:
    """A BERT-style encoder (word, position and token-type embeddings, post-LN layers, pooler on [CLS])."""
    ops = [
        embedding("word_embeddings", vocab, hidden, vocabulary=True),
        embedding("position_embeddings", max_pos, hidden),
        embedding("token_type_embeddings", 2, hidden),
        norm("embeddings_ln", hidden, 1, bias=True),
        *_encoder_layer_ops("", hidden, heads, ffn, layers),
        # the pooler runs on the [CLS] token only: per-sample, not per-token
        Operator(name="pooler", op_class="gemm", flops_per_sample=2.0 * hidden * hidden,
                 params=hidden * hidden + hidden, act_elems_per_sample=2.0 * hidden),
    ]
    total = _sum_params(ops)
    return Workload(
        name=name, display_name=display, family="encoder", operators=tuple(ops),
        params_total=total, params_active=total, default_seq_len=128, seq_scalable=True,
        max_seq_len=max_pos, saved_act_elems_per_token=17.0 * hidden * layers,
        hidden_size=hidden, num_layers=layers, source=source, aliases=aliases,
    )


def vit(name: str, display: str, *, image: int, patch: int, hidden: int, layers: int, heads: int,
        ffn: int, classes: int, source: str, aliases: tuple[str, ...] = ()) -> Workload:
    """A Vision Transformer classifier: patch-embedding convolution, class token and position table,
    pre-LN encoder layers over patches + 1 tokens, and a classification head on the class token."""
    patches = (image // patch) ** 2
    tokens = patches + 1
    k = 3 * patch * patch
    ops = [
        Operator(name="patch_embed", op_class="conv", flops_per_sample=2.0 * k * hidden * patches,
                 params=k * hidden + hidden, act_elems_per_sample=3 * image * image + patches * hidden),
        Operator(name="cls_and_pos_embed", op_class="elementwise", params=hidden + tokens * hidden,
                 act_elems_per_token=2 * hidden),
        *_encoder_layer_ops("", hidden, heads, ffn, layers),
        norm("final_ln", hidden, 1, bias=True),
        Operator(name="head", op_class="gemm", flops_per_sample=2.0 * hidden * classes,
                 params=hidden * classes + classes, act_elems_per_sample=hidden + classes),
    ]
    total = _sum_params(ops)
    return Workload(
        name=name, display_name=display, family="vit", operators=tuple(ops),
        params_total=total, params_active=total, default_seq_len=tokens, seq_scalable=False,
        max_seq_len=tokens, saved_act_elems_per_token=17.0 * hidden * layers, image_size=image,
        hidden_size=hidden, num_layers=layers, source=source, aliases=aliases,
    )


def t5(name: str, display: str, *, vocab: int, d_model: int, layers: int, heads: int, d_kv: int,
       d_ff: int, source: str, aliases: tuple[str, ...] = ()) -> Workload:
    """T5 v1.0: shared tied embedding, ReLU FFN, no biases, relative position bias.

    The forward pass is modelled as encoder + decoder over the same number of tokens (teacher
    forcing), which is how T5 is benchmarked for throughput and trained."""
    inner = heads * d_kv
    ops = [
        embedding("shared_embedding", vocab, d_model, params=False, vocabulary=True),  # owned by the tied head
        Operator(name="relative_attention_bias", op_class="embedding", params=2 * 32 * heads,
                 weights_streamed=False),
        linear("enc_qkv", d_model, 3 * inner, layers),
        attention_core("enc_attention", heads, heads, d_kv, layers),
        linear("enc_o", inner, d_model, layers),
        linear("enc_ffn_in", d_model, d_ff, layers),
        linear("enc_ffn_out", d_ff, d_model, layers),
        norm("enc_ln", d_model, 2 * layers + 1, bias=False),
        linear("dec_self_qkv", d_model, 3 * inner, layers),
        attention_core("dec_self_attention", heads, heads, d_kv, layers),
        linear("dec_self_o", inner, d_model, layers),
        linear("dec_cross_q", d_model, inner, layers),
        linear("dec_cross_kv", d_model, 2 * inner, layers),
        attention_core("dec_cross_attention", heads, heads, d_kv, layers),
        linear("dec_cross_o", inner, d_model, layers),
        linear("dec_ffn_in", d_model, d_ff, layers),
        linear("dec_ffn_out", d_ff, d_model, layers),
        norm("dec_ln", d_model, 3 * layers + 1, bias=False),
        elementwise("relu_and_residual", 2 * d_model + 2 * d_ff, 2 * layers),
        linear("lm_head(tied)", d_model, vocab, 1, vocabulary=True),
    ]
    total = _sum_params(ops)
    return Workload(
        name=name, display_name=display, family="encoder-decoder", operators=tuple(ops),
        params_total=total, params_active=total, default_seq_len=512, seq_scalable=True,
        max_seq_len=512, saved_act_elems_per_token=17.0 * d_model * 2 * layers,
        hidden_size=d_model, num_layers=2 * layers, source=source, aliases=aliases,
    )


def whisper(name: str, display: str, *, d_model: int, enc_layers: int, dec_layers: int, heads: int,
            ffn: int, vocab: int, n_mels: int, enc_frames: int, max_target: int, source: str,
            aliases: tuple[str, ...] = ()) -> Workload:
    """Whisper: a fixed 30 s log-mel window (enc_frames after the stride-2 conv) is encoded once per
    sample (per-sample terms); the decoder generates tokens with self-attention KV cache and
    cross-attention over the encoder output (a fixed context per token)."""
    hd = d_model // heads
    T = enc_frames
    per_tok = lambda din, dout: 2.0 * din * dout  # noqa: E731
    enc_layer_flops = T * (per_tok(d_model, 3 * d_model) + per_tok(d_model, d_model) + 2 * per_tok(d_model, ffn))
    enc_attn_flops = T * T * 4.0 * d_model
    ops = [
        Operator(name="enc_conv1", op_class="conv", flops_per_sample=2.0 * n_mels * 3 * d_model * 2 * T,
                 params=n_mels * 3 * d_model + d_model, act_elems_per_sample=n_mels * 2 * T + d_model * 2 * T),
        Operator(name="enc_conv2", op_class="conv", flops_per_sample=2.0 * d_model * 3 * d_model * T,
                 params=d_model * 3 * d_model + d_model, act_elems_per_sample=d_model * 3 * T),
        Operator(name="enc_positions", op_class="embedding", params=T * d_model, weights_streamed=False,
                 act_elems_per_sample=T * d_model),
        Operator(name="enc_layers_gemm", op_class="gemm", count=enc_layers, flops_per_sample=enc_layer_flops,
                 params=4 * d_model * d_model + 3 * d_model + 2 * d_model * ffn + ffn + d_model,
                 act_elems_per_sample=T * (6 * d_model + 2 * ffn)),
        Operator(name="enc_attention", op_class="attention", count=enc_layers, flops_per_sample=enc_attn_flops,
                 act_elems_per_sample=4.0 * T * d_model),
        Operator(name="enc_norms", op_class="norm", count=2 * enc_layers + 1, params=2 * d_model,
                 act_elems_per_sample=2.0 * T * d_model),
        embedding("dec_embed_tokens", vocab, d_model, params=False, vocabulary=True),  # owned by the tied head
        embedding("dec_positions", max_target, d_model),
        linear("dec_self_qkv", d_model, 3 * d_model, dec_layers, bias=True),
        attention_core("dec_self_attention", heads, heads, hd, dec_layers),
        linear("dec_self_o", d_model, d_model, dec_layers, bias=True),
        linear("dec_cross_q", d_model, d_model, dec_layers, bias=True),
        linear("dec_cross_o", d_model, d_model, dec_layers, bias=True),
        # cross-attention K/V are projected once per sample from the encoder output
        Operator(name="dec_cross_kv_proj", op_class="gemm", count=dec_layers,
                 flops_per_sample=T * per_tok(d_model, 2 * d_model), params=2 * d_model * d_model + d_model,
                 act_elems_per_sample=3.0 * T * d_model),
        Operator(name="dec_cross_attention", op_class="attention", count=dec_layers,
                 flops_per_token=4.0 * d_model * T, act_elems_per_token=2.0 * d_model + 2.0 * T * d_model / 64),
        linear("dec_ffn_in", d_model, ffn, dec_layers, bias=True),
        linear("dec_ffn_out", ffn, d_model, dec_layers, bias=True),
        norm("dec_norms", d_model, 3 * dec_layers + 1, bias=True),
        elementwise("dec_gelu_and_residual", 3 * d_model + 2 * ffn, dec_layers),
        linear("proj_out(tied)", d_model, vocab, 1, vocabulary=True),
    ]
    total = _sum_params(ops)
    return Workload(
        name=name, display_name=display, family="speech", operators=tuple(ops),
        params_total=total, params_active=total, generative=True, default_seq_len=1, seq_scalable=True,
        max_seq_len=max_target, kv_elems_per_token=2.0 * dec_layers * d_model,
        saved_act_elems_per_token=17.0 * d_model * dec_layers,
        hidden_size=d_model, num_layers=enc_layers + dec_layers, source=source, aliases=aliases,
    )
