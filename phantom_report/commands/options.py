"""Options and helpers several command modules share (one home each): the listing `--format`,
`--profiles`, `--allow-python`, the delivery commands' `--db`, and opening the engine or the
history database those options name. Not a command module: it has no `register`."""

from __future__ import annotations

import typer

FORMAT_OPT = typer.Option("table", "--format", "-f", help="table, json or csv")
PROFILES_OPT = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profile directory")
ALLOW_PYTHON_OPT = typer.Option(False, "--allow-python",
                                help="Allow pkg.module:factory model sources (imports and runs that Python code).")
DB_OPT = typer.Option(None, "--db", help="history database URL (default $PHANTOM_DB_URL or sqlite:///phantom-history.db)")


def load_engine(profiles: str | None):
    """The prediction engine with the built-in GPU profiles plus those in ``profiles`` (a directory
    of TOML files, or None for the built-in ones only)."""
    from phantom_report.engine.api import Engine

    return Engine.load(profiles_dir=profiles)


def delivery_settings(db: str | None, **overrides):
    """Service/scheduler settings from the environment (PHANTOM_*), with ``db`` (a database URL, or
    None for $PHANTOM_DB_URL or the default SQLite file) and any option the command was given."""
    from phantom_report.reporter.delivery.settings import DeliverySettings

    return DeliverySettings.from_env(db_url=db, **overrides)


def open_history(settings):
    """A session factory on the history database ``settings.db_url`` (created and migrated if new)."""
    from phantom_report.reporter.delivery.db import open_db

    return open_db(settings.db_url)
