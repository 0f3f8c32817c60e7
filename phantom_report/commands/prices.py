"""`phantom-report prices`: list GPU instance prices, cheapest per GPU-hour first;
`prices refresh` stores the user's own live snapshot, `prices diff` compares it with the embedded one.

Heavy imports (pandas, boto3, google, azure) happen inside the command so `phantom-report --help`
stays fast.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from phantom_report.numfmt import is_missing
from phantom_report.vocab import LISTING_FORMATS


def _age(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.0f} d"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min"


def prices(
    ctx: typer.Context,
    gpu: Optional[List[str]] = typer.Option(None, "--gpu", "-g", help="GPU name or family, case/punctuation-insensitive: 'H100-SXM', 'h100' (= H100-SXM, H100-PCIe, H100-NVL), 'a100'. Repeatable."),
    provider: Optional[List[str]] = typer.Option(None, "--provider", "-p", help="aws, gcp, azure, lambda, runpod. Repeatable."),
    region: Optional[List[str]] = typer.Option(None, "--region", "-r", help="Provider region code, e.g. us-east-1. Repeatable."),
    spot: bool = typer.Option(False, "--spot", help="Rank by spot price (quotes without one are left out)."),
    offline: bool = typer.Option(False, "--offline", help="Never touch the network: cache, else the embedded snapshot. Also PHANTOM_OFFLINE=1."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Show only the N cheapest."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Price cache folder (default ~/.cache/phantom-report/prices or PHANTOM_CACHE_DIR)."),
) -> None:
    """Cloud GPU prices (on-demand, spot, reserved) per instance and per GPU-hour, with source and age.
    Also: `prices refresh` keeps your own live snapshot; `prices diff` compares it with the embedded one."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import datetime, timezone

    from phantom_report.errors import PricingError
    from phantom_report.pricing.catalog import get_quotes, quotes_to_frame

    if fmt not in LISTING_FORMATS:
        raise PricingError(f"--format must be one of {', '.join(LISTING_FORMATS)}, got {fmt!r}")
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


def _money(v: float | None) -> str:
    """A price in USD for the tables: three decimals, thousands separated; "-" when there is none."""
    return "-" if is_missing(v) else f"{v:,.3f}"


def _table(df, key: str, warnings: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

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
        t.add_row(r.provider, r.region, r.instance_type, r.gpu, str(r.gpu_count), _money(getattr(r, key)),
                  _money(r.on_demand_usd_per_hour), _money(r.spot_usd_per_hour), _money(r.reserved_1y_usd_per_gpu_hour),
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


def _cache(cache_dir: Optional[str]):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from phantom_report.pricing.cache import PriceCache, default_cache_dir
    return PriceCache(Path(cache_dir) if cache_dir else default_cache_dir())


def _live_providers(names: list[str]) -> list[str]:
    from phantom_report.errors import PricingError
    from phantom_report.pricing.clouds import default_clouds
    live = default_clouds().live_names
    chosen = list(dict.fromkeys(n.strip().lower() for n in names)) or list(live)
    bad = [n for n in chosen if n not in live]
    if bad:
        raise PricingError(f"--provider: {bad[0]!r} has no live price API; expected one of {', '.join(live)}")
    return chosen


def refresh(
    provider: Optional[List[str]] = typer.Option(None, "--provider", "-p", help="aws, gcp or azure (default: all three). Repeatable."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Price cache folder (default ~/.cache/phantom-report/prices or PHANTOM_CACHE_DIR)."),
) -> None:
    """Fetch live prices of every catalogued GPU instance with your credentials and keep them as your
    own snapshot: later runs use it instead of the embedded one when live prices are unavailable."""
    from datetime import datetime, timezone

    from phantom_report.errors import PricingError
    from phantom_report.pricing.catalog import default_live_providers, offline_requested
    from phantom_report.pricing.refresh import refresh_all
    from phantom_report.pricing.settings import FetchSettings

    names = _live_providers(provider or [])
    if offline_requested(None):
        raise PricingError("prices refresh needs the network, but PHANTOM_OFFLINE is set")
    results = refresh_all(names, default_live_providers(FetchSettings()), _cache(cache_dir), datetime.now(timezone.utc))
    for r in results:
        typer.echo(f"{r.provider}: {r.message}")
    if not any(r.ok for r in results):
        raise typer.Exit(1)


def diff(
    provider: Optional[List[str]] = typer.Option(None, "--provider", "-p", help="aws, gcp or azure (default: all refreshed). Repeatable."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    all_rows: bool = typer.Option(False, "--all", help="Also list instances whose prices did not change."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Price cache folder (default ~/.cache/phantom-report/prices or PHANTOM_CACHE_DIR)."),
) -> None:
    """What changed between the embedded snapshot and your refreshed one (`prices refresh`)."""
    from phantom_report.errors import PricingError
    from phantom_report.pricing.refresh import diff_against_embedded, regions_not_refreshed

    if fmt not in LISTING_FORMATS:
        raise PricingError(f"--format must be one of {', '.join(LISTING_FORMATS)}, got {fmt!r}")
    cache, rows, missing, notes = _cache(cache_dir), [], [], []
    for p in _live_providers(provider or []):
        entry = cache.read_refreshed(p)
        if entry is None:
            missing.append(p)
            continue
        rows += [c for c in diff_against_embedded(p, entry.quotes) if all_rows or c.status != "same"]
        if skipped := regions_not_refreshed(p, entry.quotes):
            notes.append(f"{p}: refreshed {entry.written_at.date()}; {len(skipped)} region(s) of the embedded "
                         "snapshot not refreshed and not compared (prices refresh fetches the default regions)")
    if missing and (provider or len(missing) == 3):
        raise PricingError(f"no refreshed snapshot for {', '.join(missing)}; run `phantom-report prices refresh` first")
    notes += [f"{p}: no refreshed snapshot (prices refresh --provider {p})" for p in missing]
    for note in notes:  # on stderr: stdout stays a clean JSON/CSV document
        typer.echo(note, err=True)
    records = [{"provider": c.provider, "region": c.region, "instance_type": c.instance_type, "gpu": c.gpu, "status": c.status,
                "embedded_on_demand_usd_per_hour": c.embedded_on_demand_usd_per_hour,
                "refreshed_on_demand_usd_per_hour": c.refreshed_on_demand_usd_per_hour,
                "embedded_spot_usd_per_hour": c.embedded_spot_usd_per_hour,
                "refreshed_spot_usd_per_hour": c.refreshed_spot_usd_per_hour, "change_pct": c.change_pct} for c in rows]
    if fmt == "json":
        import json
        typer.echo(json.dumps({"changes": records}, indent=2))
        return
    if fmt == "csv":
        import csv
        import sys
        w = csv.DictWriter(sys.stdout, fieldnames=list(records[0]) if records else ["provider"])
        w.writeheader()
        w.writerows(records)
        return
    _diff_table(records)


def _diff_table(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Refreshed vs embedded snapshot (USD per instance-hour)")
    for col in ("provider", "region", "instance", "gpu", "status", "on-demand was", "now", "spot was", "now", "change"):
        t.add_column(col)
    for r in records:
        t.add_row(r["provider"], r["region"], r["instance_type"], r["gpu"], r["status"],
                  _money(r["embedded_on_demand_usd_per_hour"]), _money(r["refreshed_on_demand_usd_per_hour"]),
                  _money(r["embedded_spot_usd_per_hour"]), _money(r["refreshed_spot_usd_per_hour"]),
                  "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%")
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(t)
    if not records:
        console.print("no price changed")


def register(app: typer.Typer) -> None:
    """Add the `prices` command group (listing as its callback, plus `refresh` and `diff`) to the app."""
    group = typer.Typer(invoke_without_command=True, no_args_is_help=False, add_completion=False)
    group.callback()(prices)
    group.command("refresh")(refresh)
    group.command("diff")(diff)
    app.add_typer(group, name="prices")
