"""Hostile templates: every limit stops the render with one TemplateError line naming file:line,
the loader never reads outside the template directories, and a property test over random
templates built from Jinja constructs finds nothing else (issue 17)."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from phantom_report.errors import TemplateError
from phantom_report.reporter import render, templating
from phantom_report.reporter.template_limits import RenderLimits

SMALL = RenderLimits(timeout_s=600, max_loop_iterations=5_000, max_range=1_000, max_depth=12,
                     max_output_chars=50_000, max_printed_chars=100_000, max_value_chars=20_000,
                     max_built_chars=200_000)


def _render(tmp_path: Path, source: str, limits: RenderLimits | None = SMALL, clock=None, **files: str) -> str:
    tpl = tmp_path / "tpl"
    tpl.mkdir(exist_ok=True)
    (tpl / "report.html.j2").write_text(source)
    for name, text in files.items():
        (tpl / name).write_text(text)
    kw = {"clock": clock} if clock else {}
    env = templating.make_env(tpl, limits=limits, **kw)
    return templating.render(env, "report.html.j2", {"rows": list(range(50))})


def _error(tmp_path: Path, source: str, **kw) -> str:
    with pytest.raises(TemplateError) as info:
        _render(tmp_path, source, **kw)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------ loops, ranges, time


def test_range_over_the_cap_is_one_line_with_file_and_line(tmp_path):
    msg = _error(tmp_path, "a\n{% for i in range(1000000) %}x{% endfor %}", limits=None)
    assert msg.endswith("report.html.j2:2: range() of 1,000,000 items; at most 10,000 allowed (template range limit)")


def test_nested_loops_stop_at_the_iteration_budget(tmp_path):
    msg = _error(tmp_path, "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}")
    assert "report.html.j2:1: loops ran over 5,000 iterations" in msg


def test_nested_loops_over_context_lists_are_budgeted_too(tmp_path):
    # 50^3 iterations over a context list with an empty body: no call, no output, still counted
    src = "{% for a in rows %}{% for b in rows %}{% for c in rows %}{% endfor %}{% endfor %}{% endfor %}"
    assert "loops ran over 5,000 iterations" in _error(tmp_path, src)


def test_nested_loops_at_default_limits_stop(tmp_path):
    src = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    assert "loops ran over 1,000,000 iterations" in _error(tmp_path, src, limits=None)


def test_render_deadline_is_checked_inside_loops(tmp_path):
    ticks = iter(range(10**9))  # a clock that advances one "second" per reading: no wall clock involved
    limits = RenderLimits(timeout_s=100)
    msg = _error(tmp_path, "{% for i in range(1000) %}{{ i }}{% endfor %}", limits=limits, clock=lambda: next(ticks))
    assert "rendering took longer than 100 s" in msg
    ticks = iter(range(10**9))
    assert _render(tmp_path, "{% for i in range(3) %}{{ i }}{% endfor %}", limits=limits, clock=lambda: next(ticks)) == "012"


# ------------------------------------------------------------------ recursion


@pytest.mark.parametrize("source", [
    '{% include "report.html.j2" %}',
    '{% extends "report.html.j2" %}',
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% for i in [1] recursive %}{{ loop([i]) }}{% endfor %}",
    '{% import "report.html.j2" as me %}',
])
def test_recursion_stops_at_the_depth_limit(tmp_path, source):
    assert "(recursive include, extends or macro?)" in _error(tmp_path, source)


def test_mutual_include_names_the_template(tmp_path):
    msg = _error(tmp_path, '{% include "b.html.j2" %}', **{"b.html.j2": 'x\n{% include "report.html.j2" %}'})
    assert "templates nested" in msg and ".html.j2:" in msg


def test_legitimate_recursive_macro_renders(tmp_path):
    src = "{% macro f(n) %}{% if n %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}"
    assert _render(tmp_path, src) == "54321"


# ------------------------------------------------------------------ output and value sizes


def test_output_cap_stops_streaming_render(tmp_path):
    msg = _error(tmp_path, "{% for i in range(1000) %}\n{{ 'x' * 100 }}{% endfor %}")
    assert "the report is over 50,000 characters (template output limit)" in msg and "report.html.j2:" in msg


def test_output_cap_counts_literal_text_in_loops(tmp_path):
    msg = _error(tmp_path, "{% for i in range(1000) %}" + "y" * 200 + "{% endfor %}")
    assert "over 50,000 characters" in msg


def test_captured_output_is_counted(tmp_path):
    # text captured by {% set %} never reaches the output stream; it is counted as it is printed
    src = "{% set x %}{% for i in range(1000) %}" + "z" * 200 + "{% endfor %}{% endset %}{{ x|length }}"
    assert "printed over 100,000 characters" in _error(tmp_path, src)


@pytest.mark.parametrize("expr, expected", [
    ("'x' * 100000000", "repeating 1 items 100,000,000 times"),
    ("[1, 2] * 100000", "repeating 2 items 100,000 times"),
    ("7 ** 100000", "integer arithmetic"),
    ("'x'|center(1000000000)", "argument 1,000,000,000"),
    ("'x'|indent(1000000000, true)", "argument 1,000,000,000"),
    ("[1]|batch(1000000000, 0)|list", "argument 1,000,000,000"),
    ("'x'.ljust(1000000000)", "argument 1,000,000,000"),
    ("'{:>999999999}'.format(1)", "format width 999,999,999"),
    ("'{:>{}}'.format(1, 999999999)", "argument 999,999,999"),
    ("'%999999999d' % 1", "format width 999,999,999"),
    ("'%*d' % (999999999, 1)", "'*' widths"),
    ("'%999999999d'|format(1)", "format width 999,999,999"),
    ("range(2000)|list", "range() of 2,000 items"),
])
def test_value_limits_refuse_before_allocating(tmp_path, expr, expected):
    assert expected in _error(tmp_path, "{{ " + expr + " }}")


@pytest.mark.parametrize("source", [
    "{% set s = 'x' %}" + "{% set s = s ~ s %}" * 40 + "{{ s|length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ d('x' * 1000, 8) }}",
    "{% set l = [] %}{% for i in range(1000) %}{{ l.append('q' * 1000 ~ i) }}{% endfor %}{{ l|length }}",
])
def test_doubling_strings_stops(tmp_path, source):
    assert "(template value limit)" in _error(tmp_path, source)


def test_lipsum_is_not_available(tmp_path):
    assert "lipsum" in _error(tmp_path, "{{ lipsum(n=100000) }}")


def test_ordinary_constructs_still_render(tmp_path):
    src = ("{% set ns = namespace(t=0) %}{% for r in rows if r % 10 == 0 %}{% set ns.t = ns.t + r %}"
           "{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %} {{ ns.t }} "
           "{{ 'a' ~ 1 ~ 'b' }} {{ '%05.1f'|format(3.14159) }} {{ '{:>6}'.format('ab') }} {{ 2 ** 10 }}"
           "{% filter upper %}x{% endfilter %}{{ ['b', 'a']|sort|join('-') }}")
    assert _render(tmp_path, src) == "1/5,2/5,3/5,4/5,5/5 100 a1b 003.1     ab 1024X" + "a-b"


def test_large_numbers_as_values_are_not_sizes(tmp_path):
    src = ("{{ '{:,}'.format(3000000000) }} {{ '%d'|format(3000000000) }} {{ missing_name|default(3000000000) }} "
           "{{ 3000000000|string|length }} {{ [3000000000]|sum }}")
    assert _render(tmp_path, src) == "3,000,000,000 3000000000 3000000000 10 3000000000"


def test_autoescape_still_applies_to_values_and_not_to_literal_text(tmp_path):
    assert _render(tmp_path, "<b>{{ '<i>' }}{{ '<u>' ~ 1 }}</b>") == "<b>&lt;i&gt;&lt;u&gt;1</b>"


# ------------------------------------------------------------------ loader confinement


def test_include_of_symlink_to_outside_file_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "leak.txt").symlink_to(secret)
    msg = _error(tmp_path, "{% include 'leak.txt' %}")
    assert "link to a file outside the template directory" in msg and "TOP SECRET" not in msg
    (tpl / "passwd").symlink_to("/etc/passwd")
    assert "outside the template directory" in _error(tmp_path, "{% include 'passwd' %}")


def test_entry_template_symlinked_out_of_the_directory_is_refused(tmp_path):
    outside = tmp_path / "outside.html.j2"
    outside.write_text("OUTSIDE")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").symlink_to(outside)
    env = templating.make_env(tpl, limits=SMALL)
    with pytest.raises(TemplateError, match="outside the template directory"):
        templating.render(env, "report.html.j2", {})


def test_symlink_inside_the_directory_and_subdirectories_still_work(tmp_path):
    tpl = tmp_path / "tpl"
    (tpl / "parts").mkdir(parents=True)
    (tpl / "parts" / "a.txt").write_text("A")
    (tpl / "alias.txt").symlink_to(tpl / "parts" / "a.txt")
    assert _render(tmp_path, "{% include 'alias.txt' %}{% include 'parts/a.txt' %}") == "AA"


def test_dotdot_names_are_not_found(tmp_path):
    (tmp_path / "x.txt").write_text("X")
    assert "not found" in _error(tmp_path, "{% include '../x.txt' %}")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_template_dir_is_refused_without_blocking(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    os.mkfifo(tpl / "pipe.txt")
    assert "is not a regular file" in _error(tmp_path, "{% include 'pipe.txt' %}")


def test_oversized_and_non_utf8_templates_are_refused(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "big.txt").write_bytes(b"x" * (templating.MAX_TEMPLATE_BYTES + 1))
    (tpl / "latin1.txt").write_bytes(b"caf\xe9")
    assert "at most 1,000,000 allowed (template file limit)" in _error(tmp_path, "{% include 'big.txt' %}")
    assert "not UTF-8 text" in _error(tmp_path, "{% include 'latin1.txt' %}")


def test_overlong_template_path_is_one_line(tmp_path):
    with pytest.raises(TemplateError, match="template"):
        templating.resolve_template("/" + "d" * 300 + "/", None)


def test_pdf_fetcher_refuses_symlink_out_of_template_dir(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    secret = tmp_path / "secret.css"
    secret.write_text("p { color: red }")
    (tpl / "style.css").symlink_to(secret)
    html = '<html><head><link rel="stylesheet" href="style.css"></head><body><p>x</p></body></html>'
    with pytest.raises(TemplateError, match="only data: URIs and files in the template directories"):
        render.html_to_pdf(html, tpl, [tpl])


# ------------------------------------------------------------------ property test

_SIZES = st.sampled_from([0, 1, 2, 3, 7, 50, 999, 1001, 10**4, 10**6, 10**9])
_TEXT = st.text(alphabet=string.ascii_letters + " <>&\n", max_size=20)


def _exprs() -> st.SearchStrategy[str]:
    leaf = st.one_of(
        _SIZES.map(str), _TEXT.map(repr), st.just("rows"), st.just("ns.s"), st.just("loop_i"),
        _SIZES.map(lambda n: f"range({n})"),
    )
    return st.recursive(leaf, lambda e: st.one_of(
        st.tuples(e, st.sampled_from(["*", "**", "+", "~", "%", "//", "-"]), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(e, st.sampled_from(["length", "list", "string", "upper", "join", "center(1000000)", "first",
                                      "sum", "format(1)", "reverse|list"])).map(lambda t: f"({t[0]}|{t[1]})"),
        st.tuples(e, _SIZES).map(lambda t: f"({t[0]}).ljust({t[1]})"),
        e.map(lambda x: f"'{{:>{{}}}}'.format(1, {x})"),
        e.map(lambda x: f"m({x})"),
    ), max_leaves=6)


def _blocks() -> st.SearchStrategy[str]:
    leaf = st.one_of(_TEXT, _exprs().map(lambda e: "{{ " + e + " }}"), st.just('{% include "report.html.j2" %}'),
                     st.just("{% set ns.s = ns.s ~ ns.s %}"), st.just("{{ m(1) }}"))
    return st.recursive(leaf, lambda b: st.one_of(
        st.lists(b, min_size=1, max_size=4).map("".join),
        st.tuples(_exprs(), b).map(lambda t: "{% for loop_i in " + t[0] + " %}" + t[1] + "{% endfor %}"),
        st.tuples(_SIZES, b).map(lambda t: "{% for loop_i in range(" + str(t[0] % 2000) + ") %}" + t[1] + "{% endfor %}"),
        st.tuples(_exprs(), b).map(lambda t: "{% if " + t[0] + " %}" + t[1] + "{% endif %}"),
        b.map(lambda x: "{% set cap %}" + x + "{% endset %}{{ cap|length }}"),
        b.map(lambda x: "{% filter upper %}" + x + "{% endfilter %}"),
    ), max_leaves=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=_blocks())
def test_random_templates_render_within_limits_or_fail_cleanly(tmp_path, body):
    source = ("{% set ns = namespace(s='ab') %}{% macro m(k) %}{{ k }}{% endmacro %}"
              + body)
    try:
        out = _render(tmp_path, source)
    except TemplateError as exc:
        msg = str(exc)
        assert "\n" not in msg and "Traceback" not in msg
        assert "report.html.j2" in msg
        event(msg.split(": ", 1)[-1].split("(")[-1][:40])  # which limit or error stopped it
    else:
        event("rendered")
        assert len(out) <= SMALL.max_output_chars


def test_error_quoting_template_data_stays_one_line(tmp_path):
    msg = _error(tmp_path, "{{ '{:>\n\x1b[31m<}'.format(1) }}")
    assert "\\n" in msg and "\x1b" not in msg


def test_pdf_render_past_its_time_limit_is_stopped(tmp_path):
    # WeasyPrint cannot be interrupted from inside; it runs in a child process killed at the limit
    html = "<html><body>" + "<p>row</p>" * 1000 + "</body></html>"
    with pytest.raises(TemplateError, match=r"PDF rendering took longer than 0.001 s \(PDF time limit\)"):
        render.html_to_pdf(html, tmp_path, [tmp_path], timeout_s=0.001)


def test_pdf_child_started_early_renders_and_an_unused_one_is_stopped(tmp_path):
    # run_report starts the PDF child while it computes; it renders the one request it gets, and a
    # child whose run failed before the PDF stage is stopped, never left running
    from phantom_report.reporter import pdf as pdf_mod

    child = pdf_mod.start_child()
    out = render.html_to_pdf("<html><body><p>early</p></body></html>", tmp_path, [tmp_path], child=child)
    assert out.startswith(b"%PDF") and child.poll() == 0
    unused = pdf_mod.start_child()
    pdf_mod.stop_child(unused)
    assert unused.poll() is not None
    # a refused asset fails the render with its one-line reason through an early child too
    with pytest.raises(TemplateError, match="only data: URIs and files in the template directories"):
        render.html_to_pdf('<img src="file:///etc/passwd">', tmp_path, [tmp_path], child=pdf_mod.start_child())
