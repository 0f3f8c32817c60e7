"""`phantom-report history list|show|diff`: the run history, every report run with its spec, prices
and results. Every command takes `--db URL` (default $PHANTOM_DB_URL, else sqlite:///phantom-history.db)."""

from __future__ import annotations

import json
from typing import Optional

import typer

from phantom_report.commands.options import DB_OPT, delivery_settings, open_history

history_app = typer.Typer(help="Run history: every report run with its spec, prices and results.", no_args_is_help=True)


@history_app.command("list")
def history_list(db: Optional[str] = DB_OPT, limit: int = 20, status: Optional[str] = None,
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Most recent runs first."""
    from phantom_report.reporter.delivery.history import list_runs, run_to_dict

    runs = [run_to_dict(r) for r in list_runs(open_history(delivery_settings(db)), limit, status)]
    if as_json:
        typer.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        typer.echo("no runs yet")
    for r in runs:
        dur = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
        typer.echo(f"{r['id']}  {r['created_at'][:19]}  {r['status']:<9} {r['origin']:<8} {dur:>7}  "
                   + (r["error"] or (r["summary"] or "")[:80]).replace("\n", " "))

@history_app.command("show")
def history_show(run_id: str, db: Optional[str] = DB_OPT) -> None:
    """Everything recorded for one run, as JSON."""
    from phantom_report.reporter.delivery.history import get_run, run_to_dict

    typer.echo(json.dumps(run_to_dict(get_run(open_history(delivery_settings(db)), run_id, prefix=True), full=True), indent=2))

@history_app.command("diff")
def history_diff(run_a: str, run_b: str, db: Optional[str] = DB_OPT,
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """What changed between two runs: prices, predictions, recommendation."""
    from phantom_report.reporter.delivery.history import diff_runs, get_run

    sessions = open_history(delivery_settings(db))
    d = diff_runs(get_run(sessions, run_a, prefix=True), get_run(sessions, run_b, prefix=True))
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    typer.echo(f"{d['from']} -> {d['to']}")
    typer.echo(f"prices: {len(d['prices'])} change(s)")
    for p in d["prices"]:
        typer.echo(f"  {p['quote']}: " + (p["change"] if "change" in p else
                   f"{p['field']} {p['from']} -> {p['to']} ({p['change_pct']}%)"))
    typer.echo(f"predictions: {len(d['predictions'])} change(s)")
    for p in d["predictions"][:50]:
        typer.echo(f"  {p['path']}: {p['from']} -> {p['to']}" + (f" ({p['change_pct']}%)" if p["change_pct"] is not None else ""))
    rec = d["recommendation"]
    typer.echo("recommendation: " + ("changed" if rec["changed"] else "unchanged"))
    if rec["changed"]:
        typer.echo(f"  was: {rec['summary_from']}\n  now: {rec['summary_to']}")


def register(app: typer.Typer) -> None:
    """Add the `history` command group to the `phantom-report` app."""
    app.add_typer(history_app, name="history")
