"""The `phantom-report` command: registers every command module of phantom_report/commands/ and
turns errors into one line and an exit status. Heavy imports happen inside the commands, not here,
to keep a cold start fast."""

from __future__ import annotations

import gc
import importlib
import os
import sys

import typer

from phantom_report import gc_tuning
from phantom_report.errors import PhantomError

# Every command module, in --help order; each exposes `register(app: typer.Typer) -> None`. A new
# command goes into phantom_report/commands/<group>.py and is listed here (docs/ARCHITECTURE.md);
# tests/test_commands.py checks this list against the folder.
_COMMAND_MODULES = (
    "phantom_report.commands.gpus",
    "phantom_report.commands.models",
    "phantom_report.commands.predict",
    "phantom_report.commands.sweep",
    "phantom_report.commands.calibrate",
    "phantom_report.commands.validate",
    "phantom_report.commands.prices",
    "phantom_report.commands.run",
    "phantom_report.commands.spec",
    "phantom_report.commands.templates",
    "phantom_report.commands.schedule",
    "phantom_report.commands.history",
    "phantom_report.commands.serve",
)


def _new_app() -> typer.Typer:
    """The `phantom-report` Typer app with every module of `_COMMAND_MODULES` registered.

    A new app per `main` call: `main` may run many times in one process (the tests' in-process CLI,
    a program embedding the command), and registering into one module-level app added every command
    again on each call -- the command tree click builds per call, and its time, grew with every run
    (24 calls: 0.2 s -> 1.2 s each). Registration itself is a few list appends."""
    app = typer.Typer(
        name="phantom-report",
        help="Predict ML model performance and cost on GPUs you don't own, and report it.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # Imported explicitly and unconditionally: a renamed or broken command module must fail loudly
    # here, not make its command group silently vanish from --help.
    for mod_name in _COMMAND_MODULES:
        importlib.import_module(mod_name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run `phantom-report` with ``argv`` (default: sys.argv): bad input exits 2 with one line."""
    app = _new_app()
    err = _ErrConsole()
    try:
        rc = app(args=argv, standalone_mode=False)
        # outside standalone mode click hands a command's typer.Exit(code) back as the return value
        # instead of exiting: without this, `prices refresh` failing for every cloud exited 0
        if type(rc) is int and rc != 0:
            sys.exit(rc)
    except PhantomError as exc:
        err.print(f"[bold red]error:[/] {_one_line(str(exc))}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        # a path the user gave that the OS refuses (a file where a directory is needed, a missing
        # directory, a name too long, a full disk): their input or environment, not a bug here.
        # PHANTOM_DEBUG=1 shows the traceback when it is not.
        if os.environ.get("PHANTOM_DEBUG"):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        err.print(f"[bold red]error:[/] {_one_line((exc.strerror or type(exc).__name__) + where)}",
                  highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # usage errors (unknown option, missing argument) arrive as ClickException
        if isinstance(exc, _click_exception_types()):
            exc.show()
            sys.exit(2)
        if _is_database_unreachable(exc) and not os.environ.get("PHANTOM_DEBUG"):
            err.print("[bold red]error:[/] cannot open the history database (PHANTOM_DB_URL / --db): "
                      f"{_one_line(str(getattr(exc, 'orig', '') or 'unable to open database file'))}; "
                      "check that its directory exists and is writable", highlight=False, soft_wrap=True)
            sys.exit(2)
        raise


def console_main() -> None:
    """The `phantom-report` executable (and `python -m phantom_report`): `main` with the collector
    set for one job (phantom_report/gc_tuning.py), then a fast exit.

    The process ends right after `main`, and the interpreter's shutdown used to be 0.23-0.30 s of a
    2.7 s quickstart run (measured after the atexit handlers): its final garbage collections walk
    every object the run created (numpy, pandas, the report's context) only to free memory the OS
    takes back anyway. Freezing them first (``gc.freeze``) skips those walks: 0.03 s. Everything
    else still happens: atexit handlers (logging, temporary directories, worker pools), flushing
    stdout and stderr, and deallocating objects by reference count (Python does not promise to
    finalize objects still in cycles at exit, and no output relies on it: files are written and
    closed by the commands). Only here, never in `main`: a program (or test) that calls `main` and
    keeps running must keep its collector."""
    gc_tuning.collect_rarely()  # one command, then exit (phantom_report/gc_tuning.py)
    try:
        main()
    finally:
        gc.freeze()


class _ErrConsole:
    """Rich's stderr console, made on first use: `predict --format json` succeeds without loading Rich."""

    def print(self, *args, **kwargs) -> None:
        from rich.console import Console

        Console(stderr=True).print(*args, **kwargs)


def _is_database_unreachable(exc: BaseException) -> bool:
    """SQLAlchemy's OperationalError for a database that cannot be opened (a SQLite file in a
    missing or read-only directory): the user's setting, not a bug. Other database errors still
    show their traceback."""
    cls = type(exc)
    return (cls.__name__ == "OperationalError" and cls.__module__.startswith("sqlalchemy")
            and "unable to open database file" in str(exc))


def _one_line(text: str, max_chars: int = 2000) -> str:
    """An error message as one bounded line; user input echoed in it cannot add lines or megabytes."""
    from rich.markup import escape

    flat = " ".join(text.split())
    return escape(flat if len(flat) <= max_chars else flat[: max_chars - 1] + "…")


def _click_exception_types() -> tuple[type, ...]:
    """ClickException classes in use: Typer >= 0.26 vendors Click as `typer._click`, older Typer
    raises the `click` package's own; either may be installed, so both are recognised."""
    types: list[type] = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            types.append(__import__(mod, fromlist=["ClickException"]).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(types)
