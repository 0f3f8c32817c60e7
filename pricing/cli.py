"""`phantom-report prices`: list GPU instance prices, cheapest per GPU-hour first.

Heavy imports (pandas, boto3, google, azure) happen inside the command so `phantom-report --help`
stays fast.
"""

from __future__ import annotations

from typing import List, Optional

import typer

FORMATS = ("table", "json", "csv")


def _age(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.0f} d"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min"


def prices(
    gpu: Optional[List[str]] = typer.Option(None, "--gpu", "-g", help="GPU name or family, case/punctuation-insensitive: 'H100-SXM', 'h100' (= H100-SXM, H100-PCIe, H100-NVL), 'a100'. Repeatable."),
    provider: Optional[List[str]] = typer.Option(None, "--provider", "-p", help="aws, gcp, azure, lambda, runpod. Repeatable."),
    region: Optional[List[str]] = typer.Option(None, "--region", "-r", help="Provider region code, e.g. us-east-1. Repeatable."),
    spot: bool = typer.Option(False, "--spot", help="Rank by spot price (quotes without one are left out)."),
    offline: bool = typer.Option(False, "--offline", help="Never touch the network: cache, else the embedded snapshot. Also PHANTOM_OFFLINE=1."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Show only the N cheapest."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Price cache folder (default ~/.cache/phantom-report/prices or PHANTOM_CACHE_DIR)."),
) -> None:
    """Cloud GPU prices (on-demand, spot, reserved) per instance and per GPU-hour, with source and age."""
    from datetime import datetime, timezone

    from phantom_report.errors import PricingError
    from phantom_report.pricing.catalog import get_quotes, quotes_to_frame

    if fmt not in FORMATS:
        raise PricingError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    now = datetime.now(timezone.utc)
    qs = get_quotes(gpus=gpu or None, providers=provider or None, regions=region or None,
                    offline=offline, cache_dir=cache_dir, now=now)
    df = quotes_to_frame(qs, now=now)
    key = "spot_usd_per_gpu_hour" if spot else "on_demand_usd_per_gpu_hour"
    if spot:
        df = df[df[key].notna()]
    df = df.sort_values([key, "provider", "region", "instance_type"], na_position="last", kind="stable").reset_index(drop=True)
    if limit:
        df = df.head(limit)
    if fmt == "csv":
        typer.echo(df.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        import json
        out = df.assign(fetched_at=df["fetched_at"].map(lambda t: t.isoformat()))
        doc = {"quotes": json.loads(out.to_json(orient="records")), "warnings": list(qs.warnings), "ranked_by": key}
        typer.echo(json.dumps(doc, indent=2))
        return
    _table(df, key, qs.warnings)


def _table(df, key: str, warnings: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    def money(v: float) -> str:
        return "-" if v != v else f"{v:,.3f}"  # NaN check without numpy

    t = Table(title="GPU prices, cheapest per GPU-hour first (USD)", show_lines=False)
    for col, just in (("provider", "left"), ("region", "left"), ("instance", "left"), ("gpu", "left"), ("#", "right"),
                      ("$/GPU-h" + (" spot" if key.startswith("spot") else ""), "right"), ("$/h on-demand", "right"),
                      ("$/h spot", "right"), ("$/GPU-h 1y", "right"), ("source", "left"), ("age", "right"), ("notes", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in df.itertuples(index=False):
        notes = "OUTLIER" if r.flagged else ""
        n_warn = len([w for w in r.warnings.split(" | ") if w and not w.startswith(("snapshot price as of", "OUTLIER"))]) if r.warnings else 0
        if n_warn:
            notes = (notes + " " if notes else "") + f"{n_warn} warning(s)"
        t.add_row(r.provider, r.region, r.instance_type, r.gpu, str(r.gpu_count), money(getattr(r, key)),
                  money(r.on_demand_usd_per_hour), money(r.spot_usd_per_hour), money(r.reserved_1y_usd_per_gpu_hour),
                  r.source, _age(r.age_hours), notes)
    console = Console()
    if not console.is_terminal:  # piped output: do not squeeze the table into 80 columns
        console = Console(width=240)
    console.print(t)
    err = Console(stderr=True)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if len(df) == 0:
        err.print("no quotes matched", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("prices")(prices)
