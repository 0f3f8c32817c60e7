"""docs/ARCHITECTURE.md, "where do I add a CLI command": a module in phantom_report/commands/
exposing `register(app)`, listed in `phantom_report/cli.py::_COMMAND_MODULES`. These tests hold the
folder and the list to each other and follow the answer once with a new command module."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import typer

from phantom_report import cli

COMMANDS_DIR = Path(__file__).resolve().parents[1] / "phantom_report" / "commands"


def _modules_with_register() -> set[str]:
    found = set()
    for path in COMMANDS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            found.add(f"phantom_report.commands.{path.stem}")
    return found


def test_every_command_module_is_listed_and_every_listed_one_lives_in_commands():
    listed = set(cli._COMMAND_MODULES)
    assert len(listed) == len(cli._COMMAND_MODULES), "a module listed twice"
    assert listed == _modules_with_register()


def test_helpers_in_commands_are_not_command_modules():
    helpers = {p.stem for p in COMMANDS_DIR.glob("*.py")} - {m.rsplit(".", 1)[1] for m in cli._COMMAND_MODULES}
    assert helpers == {"__init__", "options", "output"}


def test_listed_modules_register_distinct_top_level_commands():
    app = typer.Typer()
    for name in cli._COMMAND_MODULES:
        importlib.import_module(name).register(app)
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) == len(set(names)), "two modules register the same command name"
    assert {"predict", "compare", "sweep", "calibrate", "validate", "run", "serve", "gpus", "models", "prices",
            "spec", "templates", "schedule", "history"} == set(names)


def test_a_new_command_module_following_the_documented_steps_runs(tmp_path, monkeypatch, capsys):
    """The answer in ARCHITECTURE.md, followed: a module with `register(app)` listed in
    _COMMAND_MODULES becomes a command; its bad input is one line and exit 2 (PhantomError)."""
    (tmp_path / "hello_cmd.py").write_text(textwrap.dedent('''
        import typer

        from phantom_report.errors import PhantomError


        def hello(name: str = typer.Option(..., "--name")) -> None:
            """Greet NAME."""
            if not name.isalpha():
                raise PhantomError(f"--name must be letters, got {name!r}")
            typer.echo(f"hello {name}")


        def register(app: typer.Typer) -> None:
            app.command("hello")(hello)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hello_cmd", raising=False)
    monkeypatch.setattr(cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "hello_cmd"))
    cli.main(["hello", "--name", "ada"])
    assert capsys.readouterr().out == "hello ada\n"
    with pytest.raises(SystemExit) as exc:
        cli.main(["hello", "--name", "4da"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--name must be letters" in err and len(err.strip().splitlines()) == 1


def test_a_listed_module_that_is_missing_fails_loudly(monkeypatch):
    """A renamed or deleted command module is an error, not a command group silently gone."""
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("phantom_report.commands.no_such_module",))
    with pytest.raises(ModuleNotFoundError):
        cli.main(["--help"])


def test_main_run_again_in_one_process_builds_the_same_command_tree(monkeypatch, capsys):
    """`main` runs many times in one process (the tests' in-process CLI, a program embedding the
    command): each call must see each command once. Registering into one shared app added every
    command again per call, so the tree click converts grew -- and each call slowed -- without bound."""
    import typer.main

    converted: list[int] = []
    real = typer.main.get_command_from_info

    def counting(*args, **kwargs):
        converted[-1] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(typer.main, "get_command_from_info", counting)
    for _ in range(3):
        converted.append(0)
        cli.main(["gpus", "list", "--format", "json"])
        assert capsys.readouterr().out.lstrip().startswith("[")
    assert converted[0] > 0 and converted == [converted[0]] * 3, converted


def test_main_leaves_the_callers_garbage_collector_alone(capsys):
    """Only the executable (`console_main`) tunes the collector for a process that ends after one
    command; a program or test that calls `main` keeps its thresholds and can still collect
    everything it creates afterwards."""
    import gc

    before, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    cli.main(["gpus", "list", "--format", "json"])
    capsys.readouterr()
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen_before


def test_executable_exit_status_and_output_survive_the_fast_exit(tmp_path):
    """`python -m phantom_report` (the executable's entry, `console_main`): a command's output and
    exit status are what `main` produced, for success and for bad input (exit 2, one line)."""
    import json
    import subprocess

    ok = subprocess.run([sys.executable, "-m", "phantom_report", "gpus", "list", "--format", "json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["name"]
    bad = subprocess.run([sys.executable, "-m", "phantom_report", "run", str(tmp_path / "missing.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
