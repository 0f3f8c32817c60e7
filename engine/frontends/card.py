"""Model report card: what a workload costs, independent of any GPU.

`model_card` returns plain JSON-able data (for `--format json` and reports); `render_card` turns
it into a rich table for the terminal. Both read only the workload IR, so every front end gets the
same card.
"""

from __future__ import annotations

from typing import Any

from phantom_report.engine.ir import OP_CLASSES, Workload
from phantom_report.engine.precision import ACTIVATION_BYTES, VOCAB_EXTRA_BYTES, WEIGHT_BYTES

# the card's arithmetic intensity is quoted at this precision (the common inference default)
_AI_PRECISION = "fp16"


def _tokens(w: Workload, seq_len: int | None) -> int:
    if seq_len and w.seq_scalable:
        return int(seq_len)
    return max(int(w.default_seq_len), 1)


def _traffic_elems(w: Workload, batch: int, q: float, k: float) -> tuple[float, float, float]:
    """(weight, activation, KV) elements moved by one forward pass of `batch` samples."""
    weights = acts = kv = 0.0
    for op in w.operators:
        acts += op.count * batch * (op.act_elems_per_sample + q * op.act_elems_per_token
                                    + q * k * op.act_elems_per_token_ctx)
        kv += op.count * batch * k * op.kv_elems_per_ctx_token
        if op.weights_streamed:
            touched = 1.0
            if op.moe_experts:
                # tokens routed to top_k of E experts: with few tokens only some experts are read
                touched = min(1.0, batch * q * op.moe_top_k / op.moe_experts)
            weights += op.count * op.params * touched
    return weights, acts, kv


def model_card(workload: Workload, batch_size: int = 1, seq_len: int | None = None) -> dict[str, Any]:
    """The workload's report card as JSON-able data: parameters, FLOPs per sample, token and batch at
    `seq_len` tokens (default: the workload's), weight bytes per precision, bytes moved and
    arithmetic intensity (FLOPs/byte) at fp16, and FLOPs and parameters per op class and operator."""
    w = workload
    batch = max(int(batch_size or 1), 1)
    seq = _tokens(w, seq_len)
    flops_sample = w.flops(1, seq, seq)
    flops_batch = w.flops(batch, seq, seq)
    weights, acts, kv = _traffic_elems(w, batch, seq, seq)
    traffic_bytes = weights * WEIGHT_BYTES[_AI_PRECISION] + (acts + kv) * ACTIVATION_BYTES[_AI_PRECISION]

    total_flops = sum(op.flops(1, seq, seq) for op in w.operators) or 1.0
    total_params = sum(op.params * op.count for op in w.operators) or 1.0
    by_class: dict[str, dict[str, float]] = {}
    for op in w.operators:
        row = by_class.setdefault(op.op_class, {"operators": 0, "layers": 0, "flops": 0.0, "params": 0.0})
        row["operators"] += 1
        row["layers"] += op.count
        row["flops"] += op.flops(1, seq, seq)
        row["params"] += op.params * op.count
    breakdown = [
        {"op_class": cls, "operators": r["operators"], "layers": r["layers"],
         "flops_per_sample": r["flops"], "flops_share": r["flops"] / total_flops,
         "params": r["params"], "params_share": r["params"] / total_params}
        for cls in OP_CLASSES if (r := by_class.get(cls))
    ]
    card: dict[str, Any] = {
        "name": w.name,
        "display_name": w.display_name,
        "family": w.family,
        "frontend": w.frontend,
        "frontend_path": w.frontend_path or w.frontend,
        "source": w.source,
        "batch_size": batch,
        "seq_len": seq,
        "generative": w.generative,
        "params_total": w.params_total,
        "params_active": w.params_active,
        "flops_per_sample": flops_sample,
        "flops_per_token": flops_sample / seq,
        "flops_per_batch": flops_batch,
        "weight_bytes": {p: w.weight_bytes(b, VOCAB_EXTRA_BYTES[p]) for p, b in WEIGHT_BYTES.items()},
        "arithmetic_intensity_flops_per_byte": flops_batch / traffic_bytes if traffic_bytes else None,
        "arithmetic_intensity_precision": _AI_PRECISION,
        "bytes_moved_per_batch": traffic_bytes,
        "op_classes": breakdown,
        "operators": [
            {"name": op.name, "op_class": op.op_class, "count": op.count,
             "flops_per_sample": op.flops(1, seq, seq), "params": op.params * op.count,
             **({"moe_experts": op.moe_experts, "moe_top_k": op.moe_top_k} if op.moe_experts else {})}
            for op in w.operators
        ],
        "unknown_ops": dict(w.unknown_ops),
        "notes": w.notes,
    }
    if w.generative:
        # one decode step: a single new token attending over `seq` tokens of context
        card["decode_flops_per_token"] = w.flops(1, 1, seq)
        card["kv_cache_elems_per_token"] = w.kv_elems_per_token
        card["kv_cache_bytes_per_token"] = {p: w.kv_elems_per_token * b for p, b in ACTIVATION_BYTES.items()
                                            if p in ("fp16", "fp8")}
    if w.max_seq_len:
        card["max_seq_len"] = w.max_seq_len
    return card


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:,.2f} {prefix}{unit}"
    return f"{value:,.0f} {unit}"


def _bytes(value: float) -> str:
    for factor, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:,.2f} {unit}"
    return f"{value:,.0f} B"


def render_card(card: dict[str, Any]):
    """A rich renderable (summary, op-class breakdown, unknown ops) for the terminal."""
    from rich.console import Group
    from rich.table import Table

    summary = Table(title=f"{card['display_name']}", show_header=False, title_justify="left")
    summary.add_column("field", style="bold")
    summary.add_column("value")
    summary.add_row("front end", f"{card['frontend_path']}  ({card['family']})")
    summary.add_row("source", str(card["source"]))
    params = _si(card["params_total"], "") + " params"
    if card["params_active"] != card["params_total"]:
        params += f" ({_si(card['params_active'], '')} active per token)"
    summary.add_row("parameters", params)
    summary.add_row("input", f"batch {card['batch_size']}, {card['seq_len']} token(s) per sample")
    summary.add_row("FLOPs / sample", _si(card["flops_per_sample"], "FLOP"))
    summary.add_row("FLOPs / token", _si(card["flops_per_token"], "FLOP"))
    if "decode_flops_per_token" in card:
        summary.add_row("FLOPs / decode token", _si(card["decode_flops_per_token"], "FLOP")
                        + f" at {card['seq_len']} context")
        summary.add_row("KV cache / token", ", ".join(f"{p} {_bytes(b)}" for p, b in card["kv_cache_bytes_per_token"].items()))
    summary.add_row("weights", ", ".join(f"{p} {_bytes(card['weight_bytes'][p])}"
                                          for p in ("fp32", "fp16", "fp8", "int4") if p in card["weight_bytes"]))
    ai = card["arithmetic_intensity_flops_per_byte"]
    summary.add_row("arithmetic intensity", f"{ai:,.1f} FLOP/byte ({card['arithmetic_intensity_precision']}, one batch)"
                    if ai is not None else "n/a")

    classes = Table(title="op classes", title_justify="left")
    for col in ("class", "operators", "layers", "FLOPs / sample", "FLOPs %", "params", "params %"):
        classes.add_column(col, justify="left" if col == "class" else "right")
    for row in card["op_classes"]:
        classes.add_row(row["op_class"], str(row["operators"]), str(row["layers"]),
                        _si(row["flops_per_sample"], "FLOP"), f"{100 * row['flops_share']:.1f}",
                        _si(row["params"], ""), f"{100 * row['params_share']:.1f}")
    parts: list[Any] = [summary, classes]
    if card["unknown_ops"]:
        unknown = Table(title="unknown ops (not costed)", title_justify="left")
        unknown.add_column("op")
        unknown.add_column("count", justify="right")
        for op, n in sorted(card["unknown_ops"].items(), key=lambda kv: -kv[1]):
            unknown.add_row(op, str(n))
        parts.append(unknown)
    if card.get("notes"):
        from rich.text import Text

        parts.append(Text(f"notes: {card['notes']}", style="dim"))
    return Group(*parts)
