"""Alias tables kept as data (engine/data/gpu_aliases.csv, model_aliases.csv): spellings people
write that no rule derives, each with the canonical name it stands for, a source and a rationale.
One reader for both, so both get the same checks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from phantom_report.errors import PhantomError, ProfileError
from phantom_report.gpu_naming import name_key

ALIAS_COLUMNS = ("alias", "canonical", "source", "rationale")


@dataclass(frozen=True)
class AliasEntry:
    """One row of an alias table."""

    alias: str
    canonical: str
    source: str
    rationale: str


def read_alias_table(path: Path, error: type[PhantomError] = ProfileError, what: str = "GPU") -> dict[str, AliasEntry]:
    """The table keyed by `name_key(alias)`; `error` (naming the file and data row) for an unreadable
    file, a wrong header, an empty cell, or an alias mapped to two different names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} alias table: {exc.strerror}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != ALIAS_COLUMNS:
        raise error(f"{path}: header must be {','.join(ALIAS_COLUMNS)}, got {reader.fieldnames}")
    table: dict[str, AliasEntry] = {}
    for n, row in enumerate(reader, start=2):
        entry = AliasEntry(**{k: (row.get(k) or "").strip() for k in ALIAS_COLUMNS})
        if not all((entry.alias, entry.canonical, entry.source, entry.rationale)):
            raise error(f"{path}: data row {n}: every column ({', '.join(ALIAS_COLUMNS)}) must be filled")
        key = name_key(entry.alias)
        if key in table and table[key].canonical != entry.canonical:
            raise error(f"{path}: data row {n}: alias {entry.alias!r} already maps to {table[key].canonical}")
        table[key] = entry
    return table
