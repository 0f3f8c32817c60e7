"""`model_config` column of a user's measurements CSV: models outside the zoo, through the HF front end.

A row may name its model by the path of a Hugging Face `config.json`, relative to the CSV file; the
workload is built by `engine/frontends/hf.py` (shapes only, nothing downloaded) and scored like a zoo
model. The path is hostile input: it must be relative, stay inside the CSV's directory once symlinks
are resolved, be a regular `.json` file of bounded size, and declare a bounded number of layers and
experts (the front end walks every layer); anything else rejects the row with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from phantom_report.engine.ir import Workload
from phantom_report.errors import PhantomError
from phantom_report.safe_files import inside, read_regular_file

MAX_CONFIG_BYTES = 1_000_000
# keys whose value the front end loops over: a config.json claiming 10^9 layers is an attack, not a model
MAX_REPEATS = 1024
_REPEAT_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers", "decoder_layers",
                "num_decoder_layers", "num_experts", "num_local_experts", "n_routed_experts")
PREFIX = "hf:"  # workload names of configs: hf:<path relative to the CSV>


def safe_config_path(csv_path: Path, cell: str) -> Path:
    """The config file a `model_config` cell names; ValueError(reason) unless it is a regular .json
    file inside the CSV's directory (no absolute paths, no '..' or symlink escaping it)."""
    text = cell.strip()
    if not text or text.startswith(("/", "~", "\\")) or Path(text).is_absolute() or ":" in text:
        raise ValueError(f"model_config {cell!r} must be a path relative to the CSV file")
    base = csv_path.resolve().parent
    target = (base / text).resolve()
    if not inside(target, [base]):
        raise ValueError(f"model_config {cell!r} points outside the CSV's directory")
    if target.suffix != ".json" or not target.is_file():
        raise ValueError(f"model_config {cell!r}: no such .json file next to the CSV")
    return target


def _check_bounds(path: Path, cell: str) -> None:
    try:  # a regular file of bounded size, read from the descriptor it was checked on
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except ValueError as exc:
        raise ValueError(f"model_config {cell!r} {exc}; expected a config.json") from None
    except OSError as exc:
        raise ValueError(f"model_config {cell!r}: not a readable JSON file ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model_config {cell!r}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"model_config {cell!r}: expected a JSON object (a Hugging Face config)")
    for key in _REPEAT_KEYS:
        v = data.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_REPEATS):
            raise ValueError(f"model_config {cell!r}: {key} = {v!r}; expected a whole number up to {MAX_REPEATS}")


class ConfigWorkloads:
    """Resolver for `load_corpus(..., resolve_config=...)`: (CSV path, cell) -> workload name; keeps
    the workloads it built in `workloads` (name -> Workload) for the predictor."""

    def __init__(self) -> None:
        self.workloads: dict[str, Workload] = {}
        self._by_path: dict[Path, str] = {}

    def __call__(self, csv_path: Path, cell: str) -> str:
        target = safe_config_path(csv_path, cell)
        if target in self._by_path:
            return self._by_path[target]
        _check_bounds(target, cell)
        from phantom_report.engine.frontends.hf import load_hf, resolve_source

        try:
            workload = load_hf(resolve_source(str(target)))
        except PhantomError as exc:
            raise ValueError(f"model_config {cell!r}: {exc}") from None
        name = PREFIX + target.relative_to(csv_path.resolve().parent).as_posix()
        self.workloads[name] = workload.with_name(name, workload.display_name)
        self._by_path[target] = name
        return name
