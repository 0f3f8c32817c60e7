"""Rendering engine results for the terminal: Rich tables, JSON and CSV (one place for all commands)."""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

if TYPE_CHECKING:  # imported where used: `predict --format json` loads neither pandas nor Rich
    import pandas as pd
    from rich.console import Console

from phantom_report.errors import PhantomError
from phantom_report.jsonsafe import to_jsonable
from phantom_report.vocab import LISTING_FORMATS


def check_format(fmt: str, allowed: Sequence[str] = LISTING_FORMATS) -> str:
    """``fmt`` if it is one of ``allowed``; PhantomError naming the choices otherwise."""
    if fmt not in allowed:
        raise PhantomError(f"--format must be one of {', '.join(allowed)}, got {fmt!r}")
    return fmt


def records(df: "pd.DataFrame | list[Mapping]") -> list[dict]:
    """Rows as JSON-ready dicts; df: a DataFrame, or a list of row dicts (one prediction's rows
    need no pandas)."""
    rows = df if isinstance(df, list) else df.to_dict(orient="records")
    return [to_jsonable(dict(row)) for row in rows]


def emit(df: "pd.DataFrame | list[Mapping]", fmt: str, columns: Sequence[tuple[str, str, str]], title: str = "",
         console: "Console | None" = None) -> None:
    """columns: (column, header, format spec) for the table view; JSON/CSV carry every column.
    df: a DataFrame, or a list of row dicts with the same keys (pandas is loaded for CSV only)."""
    if fmt == "json":
        sys.stdout.write(json.dumps(records(df), indent=2) + "\n")
        return
    if fmt == "csv":
        if isinstance(df, list):
            import pandas as pd

            df = pd.DataFrame(df)
        df.to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    table = Table(title=title or None, header_style="bold")
    for col, header, spec in columns:
        numeric = spec not in ("", "bool") or col.endswith("_txt")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=numeric)
    names = [col for col, _, _ in columns]
    rows = ([row[c] for c in names] for row in df) if isinstance(df, list) else (
        [getattr(row, c) for c in names] for row in df.itertuples(index=False))
    for values in rows:
        cells = []
        for (col, _, spec), v in zip(columns, values):
            if isinstance(v, float) and math.isnan(v):
                cells.append("—")
            elif isinstance(v, (bool,)) or spec == "bool":
                cells.append("[green]yes[/]" if v else "[red]no[/]")
            elif spec:
                cells.append(format(v, spec))
            else:
                cells.append(str(v))
        table.add_row(*cells)
    (console or wide_console()).print(table)


def wide_console() -> "Console":
    """A Rich console for tables; when output is piped or captured, at least 160 columns wide so
    numbers and names never wrap into slivers."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # piped/captured output: wide enough that numbers and names never wrap into slivers
        console = Console(width=max(console.width, 160))
    return console


def split_list(values: Iterable[str] | str | None) -> list[str]:
    """Comma-separated option values as a flat list, spaces trimmed and empties dropped: "a, b" and
    ["a", "b,c"] both work."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@contextmanager
def fold_progress(title: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress display on stderr for a cross-validation: `title` while the full corpus is fitted,
    then one bar per scheme as its folds are refitted (a full refit of every fold takes minutes per
    scheme on a small machine: a bare spinner read as a hang). Yields the `progress` callback of
    `engine.validation.cross_validate` (scheme, folds done, folds in all)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
    )

    from phantom_report.engine.validation import SCHEME_TITLES

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        bars: dict[str, Any] = {"": bar.add_task(title, total=None)}

        def update(scheme: str, done: int, total: int) -> None:
            if scheme not in bars:
                bar.update(bars[""], visible=False)
                bars[scheme] = bar.add_task(f"{SCHEME_TITLES.get(scheme, scheme)} folds", total=total)
            bar.update(bars[scheme], completed=done)

        yield update
