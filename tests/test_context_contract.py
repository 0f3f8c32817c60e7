"""The template context's contract (reporter/context_types.py, templates/README.md).

* templates/README.md's field tables are exactly what the documented records generate (a field
  added, removed or renamed on either side fails);
* a template touching every documented field, rendered by the real run through the sandboxed
  environment (StrictUndefined), finds each one defined and reaches each one on the examples;
* every key report.json holds at a documented level is a documented field.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phantom_report.reporter import context_types as ct

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "templates" / "README.md"
FIXED_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
# quickstart serves its workload; llm-serving has workloads nothing serves (`closest` is filled there)
EXAMPLES = ("quickstart", "llm-serving")


def _is_mapping(record: type, name: str) -> bool:
    """A field holding a mapping name -> record (``charts``), not a list of them."""
    return next(f for f in fields(record) if f.name == name).type.startswith("dict")


def documented_paths(record: type = ct.ReportContext, prefix: str = "") -> list[str]:
    """Every documented field as a dotted path (``workloads.top.gpu``)."""
    out = []
    for name, _, nested, _ in ct.record_fields(record):
        path = f"{prefix}{name}"
        out.append(path)
        if nested:
            out += documented_paths(nested, path + ".")
    return out


def probe_template(record: type = ct.ReportContext, expr: str = "", prefix: str = "", depth: int = 0) -> str:
    """Jinja printing ``[path:length]`` for every documented field reachable in the context; an
    undefined field raises (StrictUndefined), a field never reached prints no marker."""
    out = []
    for name, _, nested, many in ct.record_fields(record):
        e, path = (f"{expr}.{name}" if expr else name), f"{prefix}{name}"
        out.append(f"[{path}:{{{{ {e}|string|length }}}}]")
        if not nested:
            continue
        var = f"v{depth}"
        inner = probe_template(nested, var, path + ".", depth + 1)
        if many and _is_mapping(record, name):
            out.append(f"{{% for {var} in {e}.values() %}}{inner}{{% endfor %}}")
        elif many:
            out.append(f"{{% for {var} in {e} %}}{inner}{{% endfor %}}")
        else:
            out.append(f"{{% if {e} %}}{{% set {var} = {e} %}}{inner}{{% endif %}}")
    return "\n".join(out)


def test_readme_tables_are_generated_from_the_records():
    text = README.read_text(encoding="utf-8")
    assert ct.readme_records(text) == [r.__name__ for r in ct.RECORDS]
    assert ct.update_readme(text) == text, ("templates/README.md's context tables differ from "
                                            "reporter/context_types.py: run python -m "
                                            "phantom_report.reporter.context_types --write templates/README.md")
    assert ct.main(["--check", str(README)]) == 0


def test_the_check_sees_a_renamed_or_missing_field(tmp_path):
    text = README.read_text(encoding="utf-8")
    renamed = text.replace("| `generated_at` |", "| `created_at` |", 1)
    assert renamed != text and ct.update_readme(renamed) != renamed
    dropped = text.replace("| `workload_slugs` | the `workload-<slug>` classes of the root element |\n", "", 1)
    assert dropped != text and ct.update_readme(dropped) != dropped
    path = tmp_path / "README.md"
    path.write_text(renamed, encoding="utf-8")
    assert ct.main(["--check", str(path)]) == 1
    no_block = re.sub(r"<!-- context-fields: Methodology -->.*?<!-- end context-fields -->\n", "", text, flags=re.S)
    path.write_text(no_block, encoding="utf-8")
    assert ct.main(["--check", str(path)]) == 1


def test_every_field_has_help_text():
    for record in ct.RECORDS:
        for name, help_text, _, _ in ct.record_fields(record):
            assert len(help_text.strip()) > 3, f"{record.__name__}.{name} has no help text"


@pytest.fixture(scope="module")
def probed(engine, tmp_path_factory):
    """The probe template rendered by the real run on each example: example -> paths printed."""
    from phantom_report.reporter.run import run_report
    from phantom_report.reporter.spec import load_spec

    tpl = tmp_path_factory.mktemp("probe")
    (tpl / "report.html.j2").write_text(probe_template(), encoding="utf-8")
    seen = {}
    for name in EXAMPLES:
        out = tmp_path_factory.mktemp(name)
        result = run_report(load_spec(ROOT / "examples" / f"{name}.yaml"), out_dir=out, formats=("html", "json"),
                            offline=True, engine=engine, template=f"{tpl}/", now=FIXED_NOW)
        html = result.outputs["html"].read_text(encoding="utf-8")
        seen[name] = set(re.findall(r"\[([\w.]+):\d+\]", html))
        seen[name + ":payload"] = result.payload
    return seen


def test_a_template_touching_every_documented_field_renders(probed):
    reached = set().union(*(v for k, v in probed.items() if not k.endswith(":payload")))
    missing = [p for p in documented_paths() if p not in reached]
    assert not missing, f"documented fields never reached on {', '.join(EXAMPLES)}: {missing}"
    assert "workloads.top.monthly_cost" in probed["quickstart"]
    assert "workloads.closest.gpu" in probed["llm-serving"]


def _undocumented(value, record: type, path: str) -> list[str]:
    names = {f.name for f in fields(record)}
    out = [f"{path}.{k}" for k in value if k not in names]
    for name, _, nested, many in ct.record_fields(record):
        if not nested or value.get(name) is None:
            continue
        items = (value[name].values() if _is_mapping(record, name) else value[name]) if many else [value[name]]
        for item in items:
            out += _undocumented(item, nested, f"{path}.{name}")
    return out


def test_the_probe_fails_on_a_missing_field(tmp_path):
    from phantom_report.errors import TemplateError
    from phantom_report.reporter import templating

    (tmp_path / "probe.html.j2").write_text(probe_template(ct.ReportInfo, "report", "report."), encoding="utf-8")
    env = templating.make_env(tmp_path)
    report = {f.name: "x" for f in fields(ct.ReportInfo)}
    assert "[report.owner:1]" in templating.render(env, "probe.html.j2", {"report": report})
    del report["owner"]
    with pytest.raises(TemplateError, match="owner"):
        templating.render(env, "probe.html.j2", {"report": report})


def test_report_json_holds_only_documented_fields(probed):
    for name in EXAMPLES:
        payload = dict(probed[name + ":payload"])
        for key in ("spec", "quotes", "timings_s"):  # report.json's own additions (docs/INTERFACES.md)
            payload.pop(key)
        assert not _undocumented(payload, ct.ReportContext, "$"), name


def test_template_dict_keeps_field_order_and_values():
    view = ct.ExcludedView(config="A100", reason="out of memory", slo_probability=None, slo_confidence=0.9)
    d = ct.template_dict(view)
    assert list(d) == ["config", "reason", "slo_probability", "slo_confidence"]
    assert d["slo_confidence"] == 0.9 and d["reason"] == "out of memory"
