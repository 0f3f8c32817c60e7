"""Every `phantom-report` command, one module per command group (docs/ARCHITECTURE.md, "a CLI
command"). A command module exposes `register(app)` and is listed in `phantom_report/cli.py::
_COMMAND_MODULES`; `options.py` and `output.py` are shared helpers, not command modules.

Commands may import any area (engine, pricing, reporter); no area imports this package
(tests/test_import_direction.py). Heavy imports happen inside the commands to keep `--help` fast."""
