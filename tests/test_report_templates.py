"""Custom templates: user directory first, `default:` prefix, sandbox, URL fetcher, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phantom_report.errors import TemplateError
from phantom_report.reporter import render, templating
from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import parse_spec

pytestmark = pytest.mark.heavy

SPEC = "title: Template test\nmodel: resnet-50\ngpus: [L4, A10G, T4]\ndemand: {requests_per_month: 20_000_000}\npricing: {offline: true}\n"


def _spec(tmp_path: Path):
    return parse_spec(SPEC, filename=str(tmp_path / "spec.yaml"), base_dir=str(tmp_path))


def _run(tmp_path, name, template=None, formats=("html",)):
    return run_report(_spec(tmp_path), out_dir=tmp_path / name, formats=formats, offline=True, template=template)


def _strip_time(html: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "T", html)


def test_overriding_one_block_changes_only_that_block(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text(
        '{% extends "default:executive.html.j2" %}{% block summary %}<div id="mine">MY SUMMARY</div>{% endblock %}')
    builtin = _strip_time(_run(tmp_path, "a").outputs["html"].read_text())
    custom = _strip_time(_run(tmp_path, "b", template=str(tpl) + "/").outputs["html"].read_text())
    assert '<div id="mine">MY SUMMARY</div>' in custom
    start = builtin.index('<section class="summary"')
    end = builtin.index("</section>", start) + len("</section>")
    expected = builtin[:start] + '<div id="mine">MY SUMMARY</div>' + builtin[end:]
    # the root class and eyebrow name the custom report kind; everything else is byte-identical
    assert custom.replace("report-custom-tpl", "report-executive").replace("custom tpl report", "executive report") == expected


def test_user_template_with_builtin_name_extends_default(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "executive.html.j2").write_text(
        '{% extends "default:executive.html.j2" %}{% block footer %}<footer>ACME confidential</footer>{% endblock %}')
    spec = parse_spec(SPEC + "report: {template_dir: tpl}\n", filename=str(tmp_path / "s.yaml"), base_dir=str(tmp_path))
    html = run_report(spec, out_dir=tmp_path / "o", formats=["html"], offline=True).outputs["html"].read_text()
    assert "<footer>ACME confidential</footer>" in html and 'class="report report-executive' in html


@pytest.mark.parametrize("body", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ report.__class__.__init__.__globals__ }}",
])
def test_sandbox_refuses_escapes(tmp_path, body):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text("<p>\n" + body + "\n</p>")
    with pytest.raises(TemplateError, match=r"report\.html\.j2:2: .*(unsafe|sandbox|undefined)"):
        _run(tmp_path, "o", template=str(tpl) + "/")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("markup", [
    '<img src="file:///etc/passwd">',
    '<link rel="stylesheet" href="file:///etc/passwd">',
    '<style>@import url("file:///etc/passwd");</style>',
    '<img src="http://example.com/x.png">',
])
def test_pdf_fetcher_refuses_files_outside_template_dirs(tmp_path, markup):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text(f"<html><body>{markup}<p>hi</p></body></html>")
    with pytest.raises(TemplateError, match="only data: URIs and files in the template directories"):
        _run(tmp_path, "o", template=str(tpl) + "/", formats=("pdf",))
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_pdf_fetcher_serves_template_dir_files_and_data_uris(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "extra.css").write_text("p { color: red; }")
    (tpl / "report.html.j2").write_text('<html><head><link rel="stylesheet" href="extra.css"></head><body>'
                                        '<img src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=">'
                                        '<p>{{ decision.headline }}</p></body></html>')
    out = _run(tmp_path, "o", template=str(tpl) + "/", formats=("pdf",))
    assert out.outputs["pdf"].read_bytes().startswith(b"%PDF")


def test_template_errors_name_file_and_line_and_leave_no_files(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text("line one\n{% if %}\n")
    with pytest.raises(TemplateError, match=r"report\.html\.j2:2: template syntax error"):
        _run(tmp_path, "o", template=str(tpl) + "/", formats=("html", "json", "csv"))
    (tpl / "report.html.j2").write_text("a\nb\n{{ decision.no_such_field }}\n")
    with pytest.raises(TemplateError, match=r"report\.html\.j2:3: .*no_such_field"):
        _run(tmp_path, "o", template=str(tpl) + "/", formats=("html", "json", "csv"))
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_templates_init_scaffold_renders(tmp_path, cli_in_process):
    target = tmp_path / "mytpl"
    res = cli_in_process("templates", "init", str(target))
    assert res.returncode == 0, res.stderr
    assert (target / "report.html.j2").is_file()
    out = _run(tmp_path, "o", template=str(target) + "/", formats=("html", "md", "pdf"))
    html = out.outputs["html"].read_text()
    assert "For the steering committee" in html and '<section class="summary"' in html
    assert out.outputs["md"].read_text().startswith("_Custom report template._")
    again = cli_in_process("templates", "init", str(target))
    assert again.returncode == 2 and "not empty" in again.stderr


def test_builtin_templates_are_sandboxed_and_autoescaped():
    env = templating.make_env(None)
    assert env.is_safe_attribute is not None and env.autoescape("executive.html.j2")
    out = env.from_string("{{ x }}").render(x="<script>")
    assert out == "&lt;script&gt;"


def test_svg_data_uri_roundtrip():
    assert render.svg_data_uri("<svg/>").startswith("data:image/svg+xml;base64,")
