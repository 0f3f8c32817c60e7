"""Output formats as registered renderers (reporter/render.py::RENDERERS).

Follows docs/ARCHITECTURE.md's "where do I add an output format" once: a format registered here is
rendered by the real run and written beside the others, served with its media type and attached to
e-mail with it; a renderer that fails leaves nothing written.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from phantom_report import vocab
from phantom_report.errors import TemplateError
from phantom_report.reporter import render
from phantom_report.reporter.spec import load_spec

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"


def test_the_registry_is_the_vocabulary():
    assert tuple(render.RENDERERS) == vocab.REPORT_FORMATS
    for name, fmt in render.RENDERERS.items():
        assert fmt.name == name and fmt.file_name == f"report.{name}"
    assert render.media_type("pdf") == "application/pdf"
    assert render.media_type("md") == "text/markdown"


@pytest.fixture
def text_format():
    """A plain-text format: the decision's headline and one line per recommendation."""

    def to_text(inp: render.RenderInput) -> bytes:
        lines = [inp.context["decision"]["headline"]]
        for w in inp.context["workloads"]:
            lines += [f"{w['name']}: {r['label']}: {r['config']['description']}" for r in w["recommendations"]]
        return ("\n".join(lines) + "\n").encode("utf-8")

    fmt = render.register(render.OutputFormat("txt", "report.txt", "text/plain", to_text))
    yield fmt
    render.unregister("txt")


def test_a_registered_format_is_written_with_the_others(text_format, engine, tmp_path):
    from phantom_report.reporter.run import run_report

    result = run_report(load_spec(QUICKSTART), out_dir=tmp_path, formats=("json", "txt"), offline=True, engine=engine)
    assert set(result.outputs) == {"json", "txt"}
    text = (tmp_path / "report.txt").read_text(encoding="utf-8")
    assert text.splitlines()[0] == result.headline
    assert any(r.kind == "cheapest" for r in result.recommendations)
    assert ": cheapest: " in text
    assert (tmp_path / "report.json").is_file() and not (tmp_path / "report.html").exists()


def test_a_failing_renderer_writes_nothing(engine, tmp_path):
    from phantom_report.reporter.run import run_report

    def broken(inp: render.RenderInput) -> bytes:
        raise TemplateError("broken.txt: line 1: no")

    render.register(render.OutputFormat("broken", "report.broken", "text/plain", broken))
    try:
        with pytest.raises(TemplateError, match="broken"):
            run_report(load_spec(QUICKSTART), out_dir=tmp_path / "out", formats=("csv", "broken"), offline=True,
                       engine=engine)
    finally:
        render.unregister("broken")
    assert not (tmp_path / "out" / "report.csv").exists()


def test_an_unknown_format_is_one_error(engine, tmp_path):
    from phantom_report.errors import SpecError
    from phantom_report.reporter.run import run_report

    with pytest.raises(SpecError, match="unknown output format 'txt'; expected html, pdf, md, json or csv"):
        run_report(load_spec(QUICKSTART), out_dir=tmp_path, formats=("txt",), offline=True, engine=engine)


def test_mail_attaches_with_the_registered_media_type(text_format, tmp_path):
    from phantom_report.reporter.delivery.mail import build_message

    (tmp_path / "report.txt").write_text("headline\n", encoding="utf-8")
    (tmp_path / "report.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    msg = build_message(title="t", summary="s", recommendations=[], to=["a@example.com"], cc=[], subject=None,
                        mail_from="r@example.com", outputs={"txt": str(tmp_path / "report.txt"),
                                                            "csv": str(tmp_path / "report.csv")},
                        attach=["txt", "csv"], dedupe_key="k", run_id="r1")
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    types = {p.get_filename(): p.get_content_type() for p in parsed.iter_attachments()}
    assert types == {"report.txt": "text/plain", "report.csv": "text/csv"}
