"""What a spec that arrives over HTTP may not do: name files on the server.

A spec on the command line is the user's own, and its paths are theirs to read. A spec posted to
the service comes from any key holder, so a logo, a template directory or a model file in it
would be a file of the server: embedded in a report (a logo), rendered (a template) or parsed (a
model). The service's own template directory (`serve --templates`) still applies by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phantom_report.errors import SpecError

# model sources that are files (or, for torch, Python callables) by definition
_FILE_SOURCES = ("onnx", "torch", "tensorflow")
_MODEL_FILE_SUFFIXES = (".onnx", ".json", ".pt", ".pth", ".ts", ".pb", ".h5", ".keras", ".savedmodel")


def _looks_like_path(ref: str) -> bool:
    return (ref.startswith(("/", ".", "~", "\\")) or "\\" in ref or ".." in ref.split("/")
            or ":" in ref or Path(ref).suffix.lower() in _MODEL_FILE_SUFFIXES)


def _model_reason(model: Any, base_dir: str) -> str | None:
    if isinstance(model, dict):
        kind = next((k for k in _FILE_SOURCES if k in model), None)
        if kind is not None:
            return f"a {kind} model source reads a file or code on the server"
        ref = model.get("hf")
        if isinstance(ref, str) and (_looks_like_path(ref) or (Path(base_dir) / ref).exists()):
            return "an hf source that is a path reads a file on the server"
        return None
    if isinstance(model, str) and (_looks_like_path(model) or ("/" in model and (Path(base_dir) / model).exists())):
        return "a path reads a file on the server"
    return None


def refuse_server_files(spec: Any, filename: str, base_dir: str = ".") -> None:
    """SpecError naming the first key of a posted RunSpec that refers to a server file."""
    report = spec.report
    found: list[tuple[str, str]] = []
    if report.logo:
        found.append(("report.logo", "a logo path is a file on the server"))
    if report.template_dir:
        found.append(("report.template_dir", "a template directory is on the server"))
    if any(c in report.template for c in "/\\:") or report.template.startswith((".", "~")):
        found.append(("report.template", "a template path is a file on the server"))
    for i, w in enumerate(spec.workloads):
        reason = _model_reason(w.model, base_dir)
        if reason:
            found.append((f"workloads[{i}].model", reason))
    if found:
        key, why = found[0]
        raise SpecError(f"{filename}: {key}: not allowed in a spec sent to the service ({why}); "
                        "use zoo models or Hugging Face ids, and templates by name from the service's "
                        "template directory")
