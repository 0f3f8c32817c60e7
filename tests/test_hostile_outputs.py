"""Hostile outputs and assets: a run's files are written all-or-nothing (a directory squatting on
report.md, a file size limit), `--out` under a file and `templates init FILE` are one-line errors,
and the logo is read only from the spec's or the template directories, never from server paths
through the service (issue 17)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from phantom_report.errors import OutputError, SpecError
from phantom_report.reporter import outputs
from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import parse_spec

SPEC = "title: Hostile\nmodel: resnet-50\ngpus: [L4, T4]\ndemand: {requests_per_month: 20_000_000}\npricing: {offline: true}\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _spec(spec_dir: Path, extra: str = ""):
    return parse_spec(SPEC + extra, filename=str(spec_dir / "spec.yaml"), base_dir=str(spec_dir))


def _inodes(d: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in d.iterdir()}


# ------------------------------------------------------------------ all-or-nothing writes


def test_write_outputs_replaces_the_whole_set(tmp_path):
    out = tmp_path / "out"
    outputs.write_outputs(out, {"report.md": b"old md", "report.json": b"{}"})
    outputs.write_outputs(out, {"report.md": b"new md", "report.json": b"[]"})
    assert (out / "report.md").read_bytes() == b"new md" and (out / "report.json").read_bytes() == b"[]"
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]  # no staging left


def test_directory_squatting_on_an_output_changes_nothing(tmp_path):
    out = tmp_path / "out"
    outputs.write_outputs(out, {"report.csv": b"old csv", "report.json": b"old json"})
    (out / "report.md").mkdir()
    before = _inodes(out)
    with pytest.raises(OutputError, match=r"report\.md: a directory is in the way \(no output was changed\)"):
        outputs.write_outputs(out, {"report.json": b"new", "report.md": b"new", "report.csv": b"new"})
    assert _inodes(out) == before
    assert (out / "report.json").read_bytes() == b"old json" and (out / "report.csv").read_bytes() == b"old csv"


def test_failed_move_rolls_every_file_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.write_outputs(out, {"a": b"old a", "b": b"old b", "c": b"old c"})
    real_replace, calls = os.replace, []

    def flaky(src, dst):  # the first move of a new file onto "c" fails (e.g. EIO); later ones work
        calls.append(dst)
        if str(dst) == str(out / "c") and calls.count(dst) == 1 and "previous" not in str(src):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", flaky)
    with pytest.raises(OutputError, match="the previous outputs were restored"):
        outputs.write_outputs(out, {"a": b"new a", "b": b"new b", "c": b"new c"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {"a": b"old a", "b": b"old b", "c": b"old c"}


def test_failed_roll_back_keeps_the_previous_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    outputs.write_outputs(out, {"a": b"old a"})
    real_replace = os.replace

    def broken(src, dst):  # nothing can be moved onto "a" any more, not even back
        if str(dst) == str(out / "a"):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", broken)
    with pytest.raises(OutputError, match="restoring the previous outputs failed too, they are in") as info:
        outputs.write_outputs(out, {"a": b"new a"})
    monkeypatch.undo()
    kept = Path(str(info.value).rsplit(" they are in ", 1)[1])
    assert (kept / "a").read_bytes() == b"old a"


def test_out_under_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="afile is a file, not a directory"):
        outputs.check_dir(tmp_path / "afile" / "sub" / "deeper")
    with pytest.raises(OutputError, match="a path component of 300 characters"):
        outputs.check_dir(tmp_path / ("d" * 300) / "x")
    with pytest.raises(OutputError, match="output directory"):
        outputs.write_outputs(tmp_path / ("d" * 300), {"a": b""})


def _cli(args: list[str], tmp_path: Path, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PHANTOM_OFFLINE": "1", "PHANTOM_DB_URL": f"sqlite:///{tmp_path / 'history.db'}"}
    return subprocess.run([sys.executable, "-m", "phantom_report", *args], capture_output=True, text=True,
                          timeout=300, env=env, preexec_fn=preexec)


def _in_process(cli_in_process, tmp_path: Path):
    """`_cli` through `main` in this process (same environment, no rlimit): the same exit code and
    message, without a second of interpreter start-up per call."""
    env = {"PHANTOM_DB_URL": f"sqlite:///{tmp_path / 'history.db'}"}
    return lambda args: cli_in_process(*args, env=env)


def test_cli_file_size_limit_keeps_previous_outputs(tmp_path, cli_in_process):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    # the first run needs no rlimit, so it runs in this process; only the limited one needs its own
    first = _in_process(cli_in_process, tmp_path)(["run", str(spec), "--format", "md,json,csv", "--out", str(out)])
    assert first.returncode == 0, first.stderr
    before = _inodes(out)
    limit = min((out / "report.json").stat().st_size, (out / "report.csv").stat().st_size) // 2

    def small_files():  # the child may write no file over `limit` bytes (EFBIG; Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    second = _cli(["run", str(spec), "--format", "md,json,csv", "--out", str(out)], tmp_path, preexec=small_files)
    assert second.returncode == 2
    err = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "File too large (no output was changed)" in err[0], second.stderr
    assert _inodes(out) == before  # same three files, none replaced, no staging directory left


def test_cli_directory_on_report_md_and_out_under_file(tmp_path, cli_in_process):
    cli = _in_process(cli_in_process, tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    assert cli(["run", str(spec), "--format", "json,csv", "--out", str(out)]).returncode == 0
    (out / "report.md").mkdir()
    before = _inodes(out)
    res = cli(["run", str(spec), "--format", "json,md,csv", "--out", str(out)])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "report.md: a directory is in the way" in res.stderr and _inodes(out) == before
    (tmp_path / "afile").write_text("x")
    res = cli(["run", str(spec), "--format", "json", "--out", str(tmp_path / "afile" / "sub")])
    assert res.returncode == 2 and "is a file, not a directory" in res.stderr and "Traceback" not in res.stderr


def test_templates_init_on_a_file_and_over_symlinks(tmp_path, cli_in_process):
    cli = _in_process(cli_in_process, tmp_path)
    (tmp_path / "afile").write_text("x")
    res = cli(["templates", "init", str(tmp_path / "afile")])
    assert res.returncode == 2 and "exists and is not a directory" in res.stderr and "Traceback" not in res.stderr
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "tpl"
    target.mkdir()
    (target / "report.html.j2").symlink_to(victim)
    res = cli(["templates", "init", str(target), "--force"])
    assert res.returncode == 0, res.stderr
    assert victim.read_text() == "keep me"  # the link was replaced, not written through
    assert not (target / "report.html.j2").is_symlink()


# ------------------------------------------------------------------ logo


def test_logo_from_the_spec_directory_is_embedded(tmp_path):
    (tmp_path / "logo.svg").write_bytes(SVG)
    res = run_report(_spec(tmp_path, "report: {logo: logo.svg}\n"), out_dir=tmp_path / "o", formats=["html"], offline=True)
    assert "data:image/svg+xml;base64," in res.outputs["html"].read_text()


@pytest.mark.parametrize("case", ["absolute_outside", "symlink_out", "wrong_content", "too_big", "fifo", "directory"])
def test_logo_outside_or_not_an_image_is_refused(tmp_path, case):
    spec_dir, elsewhere = tmp_path / "spec", tmp_path / "elsewhere"
    spec_dir.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.svg").write_bytes(SVG)
    logo, expected = "logo.svg", "report.logo"
    if case == "absolute_outside":
        logo, expected = str(elsewhere / "secret.svg"), "is not inside the spec's directory or a template directory"
    elif case == "symlink_out":
        (spec_dir / "logo.svg").symlink_to(elsewhere / "secret.svg")
        expected = "symlinks are resolved"
    elif case == "wrong_content":
        (spec_dir / "logo.svg").write_text("root:x:0:0:root:/root:/bin/bash\n")
        expected = "must be a PNG"
    elif case == "too_big":
        (spec_dir / "logo.svg").write_bytes(SVG + b" " * 1_000_001)
        expected = "at most 1,000,000 allowed"
    elif case == "fifo":
        os.mkfifo(spec_dir / "logo.svg")
        expected = "not a regular file"
    else:
        (spec_dir / "logo.svg").mkdir()
        expected = "Is a directory|not a regular file"
    with pytest.raises(SpecError, match=expected) as info:
        run_report(_spec(spec_dir, f"report: {{logo: '{logo}'}}\n"), out_dir=tmp_path / "o", formats=["html"], offline=True)
    assert "\n" not in str(info.value) and not (tmp_path / "o").exists()


def test_png_content_with_svg_extension_is_refused(tmp_path):
    (tmp_path / "logo.svg").write_bytes(PNG)
    with pytest.raises(SpecError, match="content matches its extension"):
        run_report(_spec(tmp_path, "report: {logo: logo.svg}\n"), out_dir=tmp_path / "o", formats=["json"], offline=True)


# ------------------------------------------------------------------ specs from the service


def test_overlong_template_dir_is_one_line(tmp_path):
    from phantom_report.errors import SpecError

    # refused by the spec schema already (a 300-byte path component), as one file:line error
    with pytest.raises(SpecError, match="report.template_dir: has a path component of 300 bytes") as err:
        run_report(_spec(tmp_path, f"report: {{template_dir: {'t' * 300}}}\n"), out_dir=tmp_path / "o",
                   formats=["json"], offline=True)
    assert "\n" not in str(err.value)


def test_service_spec_may_not_read_server_files(tmp_path):
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    (server_dir / "any.svg").write_bytes(SVG)
    (server_dir / "report.html.j2").write_text("{{ decision.headline }}")
    service_templates = tmp_path / "service-templates"
    service_templates.mkdir()
    kw = dict(out_dir=tmp_path / "o", formats=["json"], offline=True, allow_local_assets=False,
              template_dir=service_templates)
    # the spec's own directory is the server's working directory: nothing in it is readable
    with pytest.raises(SpecError, match="not inside the service's template directory"):
        run_report(_spec(server_dir, f"report: {{logo: '{server_dir / 'any.svg'}'}}\n"), **kw)
    with pytest.raises(SpecError, match="not inside the service's template directory"):
        run_report(_spec(server_dir, "report: {logo: ../server/any.svg}\n"), **kw)
    with pytest.raises(SpecError, match="report.template_dir: not allowed"):
        run_report(_spec(server_dir, f"report: {{template_dir: '{server_dir}'}}\n"), **kw)
    for template in (f"{server_dir}/", "../server/report.html.j2", "~/x.html.j2"):
        with pytest.raises(SpecError, match="report.template: .* is a path"):
            run_report(_spec(server_dir, f"report: {{template: '{template}'}}\n"), **kw)
    assert not (tmp_path / "o").exists()


def test_service_spec_logo_from_the_service_template_directory(tmp_path):
    service_templates = tmp_path / "service-templates"
    service_templates.mkdir()
    (service_templates / "acme.svg").write_bytes(SVG)
    (service_templates / "branded.html.j2").write_text(
        '{% extends "default:executive.html.j2" %}{% block footer %}<footer>ACME</footer>{% endblock %}')
    spec = _spec(tmp_path, "report: {logo: acme.svg, template: branded}\n")
    res = run_report(spec, out_dir=tmp_path / "o", formats=["html"], offline=True, allow_local_assets=False,
                     template_dir=service_templates)
    html = res.outputs["html"].read_text()
    assert "data:image/svg+xml;base64," in html and "<footer>ACME</footer>" in html
