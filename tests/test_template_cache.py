"""The compiled-template cache (reporter/template_cache.py): built-in templates are compiled once
and read back; user templates are never stored; the cache is keyed by the compiler; an unsafe or
broken cache folder means compiling as before, never a failed run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phantom_report.reporter import template_cache, templating

CTX_TEMPLATE = "{% extends 'default:base.html.j2' %}"


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "tcache"
    monkeypatch.setenv("PHANTOM_TEMPLATE_CACHE", str(d))
    return d


def _compile_count(monkeypatch) -> list[str]:
    """Names of the templates the next environments compile (not read from the cache)."""
    compiled: list[str] = []
    orig = templating.LimitedEnvironment._generate

    def counting(self, source, name, filename, defer_init=False):
        compiled.append(name)
        return orig(self, source, name, filename, defer_init)

    monkeypatch.setattr(templating.LimitedEnvironment, "_generate", counting)
    return compiled


def test_builtin_templates_are_compiled_once_and_read_back(cache_dir, monkeypatch):
    compiled = _compile_count(monkeypatch)
    templating.make_env().get_template("executive.html.j2")
    first = list(compiled)
    assert "executive.html.j2" in first
    assert list(cache_dir.glob("*.jinja")), "nothing stored"
    compiled.clear()
    tpl = templating.make_env().get_template("executive.html.j2")  # a new run: new environment
    assert compiled == [], f"recompiled {compiled}"
    assert tpl.filename.endswith("executive.html.j2")


def test_user_templates_are_never_stored(cache_dir, tmp_path, monkeypatch):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "report.html.j2").write_text("<p>{{ 1 + 1 }}</p>")
    compiled = _compile_count(monkeypatch)
    for _ in range(2):
        env = templating.make_env(user)
        assert templating.render(env, "report.html.j2", {}) == "<p>2</p>"
    assert compiled.count("report.html.j2") == 2  # compiled fresh each time
    before = {p.name for p in cache_dir.glob("*.jinja")}
    templating.make_env(user).get_template("report.html.j2")
    assert {p.name for p in cache_dir.glob("*.jinja")} == before


def test_an_edited_builtin_is_recompiled(cache_dir, tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    page = builtin / "page.html.j2"
    page.write_text("v1")
    monkeypatch.setattr(templating, "builtin_dir", lambda: builtin)
    assert templating.render(templating.make_env(), "page.html.j2", {}) == "v1"
    page.write_text("v2")
    assert templating.render(templating.make_env(), "page.html.j2", {}) == "v2"


def test_a_new_compiler_does_not_read_old_entries(cache_dir, monkeypatch):
    compiled = _compile_count(monkeypatch)
    templating.make_env().get_template("executive.html.j2")
    compiled.clear()
    template_cache.compiler_fingerprint.cache_clear()
    monkeypatch.setattr(template_cache, "_COMPILER_MODULES", ("templating.py",))  # a different compiler
    try:
        templating.make_env().get_template("executive.html.j2")
        assert "executive.html.j2" in compiled
    finally:
        template_cache.compiler_fingerprint.cache_clear()


def test_corrupt_entries_are_a_miss(cache_dir, monkeypatch):
    templating.make_env().get_template("executive.html.j2")
    entries = list(cache_dir.glob("*.jinja"))
    assert entries
    for entry in entries:  # Jinja's magic header, then garbage where the marshalled code was
        entry.write_bytes(entry.read_bytes()[:40] + b"\x00garbage")
    compiled = _compile_count(monkeypatch)
    assert templating.make_env().get_template("executive.html.j2").filename.endswith("executive.html.j2")
    assert "executive.html.j2" in compiled


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_others_can_write_is_not_used(cache_dir):
    cache_dir.mkdir(mode=0o700)
    os.chmod(cache_dir, 0o777)
    assert template_cache.builtin_template_cache(templating.builtin_dir()) is None
    templating.make_env().get_template("executive.html.j2")  # still renders, without a cache
    assert not list(cache_dir.glob("*.jinja"))


def test_a_cache_that_cannot_be_created_is_off(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PHANTOM_TEMPLATE_CACHE", str(blocker / "sub"))
    assert template_cache.builtin_template_cache(templating.builtin_dir()) is None
    monkeypatch.setenv("PHANTOM_TEMPLATE_CACHE", "off")
    assert template_cache.builtin_template_cache(templating.builtin_dir()) is None
