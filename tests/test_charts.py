"""Charts: the static SVG engines draw the data they are given, the engine setting is honoured,
and the HTML report inlines the small plotly.js bundle (offline, no CDN) under a size bound."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from phantom_report.errors import PhantomError
from phantom_report.reporter import charts, mplchart, svgchart
from phantom_report.reporter.charts import PALETTE, ChartData
from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SVG_NS = "{http://www.w3.org/2000/svg}"

HBAR = ChartData(
    id="cost", title="wl: monthly cost ($ per month)", kind="hbar", x_title="USD per month", y_title="",
    labels=("H100-SXM · gcp", "L4 · aws", "A100-80GB-SXM · azure"), x=(1200.0, 2500.0, 4100.0),
    err_low=(900.0, 2000.0, 3000.0), err_high=(1500.0, 3100.0, 5000.0),
    groups=("spot", "on-demand", "spot"), highlight=0)
SCATTER = ChartData(
    id="lat", title="latency vs cost", kind="scatter", x_title="latency (ms, log scale)", y_title="USD per month",
    x=(20.0, 150.0, 900.0, 7000.0, float("nan")), y=(50.0, 60.0, 800.0, 1200.0, 10.0),
    groups=("meets SLO", "meets SLO", "misses SLO", "misses SLO", "meets SLO"), log_x=True)
LINE = ChartData(id="sens", title="sensitivity", kind="line", x_title="demand (x forecast)", y_title="USD per month",
                 x=(0.5, 1.0, 2.0, 3.0), y=(100.0, 180.0, 350.0, 520.0), groups=("", "", "", ""))


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))  # raises on anything that is not well-formed XML


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]


def _fills(root: ET.Element) -> list[str]:
    return re.findall(r"fill: (#[0-9a-f]{6})", ET.tostring(root, encoding="unicode"))


def test_matplotlib_hbar_draws_every_bar_label_and_legend():
    root = _svg(mplchart.render(HBAR))
    texts = _texts(root)
    for label in (*HBAR.labels, HBAR.title, HBAR.x_title, "spot", "on-demand"):
        assert label in texts, label  # text stays text: searchable in the PDF, small SVG
    fills = _fills(root)
    # three bars + two legend swatches, in the palette colours of their pricing option
    assert fills.count(PALETTE["spot"]) == 2 + 1 and fills.count(PALETTE["on-demand"]) == 1 + 1


def test_matplotlib_bar_lengths_are_proportional_to_the_values():
    svg = mplchart.render(HBAR)
    widths = []
    for m in re.finditer(r'<path d="M ([\d.]+) ([\d.]+) \nL ([\d.]+) [\d.]+ \nL [\d.]+ [\d.]+ \nL [\d.]+ [\d.]+ \nz\n" '
                         r'clip-path="[^"]+" style="fill: (#[0-9a-f]{6})', svg):
        widths.append(float(m.group(3)) - float(m.group(1)))
    assert len(widths) == 3
    ratios = [w / v for w, v in zip(widths, HBAR.x)]
    assert max(ratios) / min(ratios) == pytest.approx(1.0, rel=1e-3)


def test_matplotlib_scatter_and_line_draw_the_finite_points_only():
    root = _svg(mplchart.render(SCATTER))
    body = ET.tostring(root, encoding="unicode")
    # a scatter collection places one marker per finite point (<use> of a marker definition)
    assert len(root.findall(f".//{SVG_NS}use")) >= 4
    assert {"meets SLO", "misses SLO"} <= set(_texts(root))
    assert "10^" not in body and "$" not in "".join(_texts(root))  # plain tick labels, no TeX
    line = _svg(mplchart.render(LINE))
    assert "USD per month" in _texts(line)
    assert "legend_1" not in ET.tostring(line, encoding="unicode")  # one unnamed series: no legend


def test_a_legend_that_wraps_gets_room_above_the_plot_instead_of_covering_the_title():
    metrics = ("throughput_per_s", "latency_ms", "tokens_per_s", "prefill_tokens_per_s", "ttft_ms", "tpot_ms")
    many = ChartData(id="v", title="A100 (938 rows)", kind="scatter", x_title="measured", y_title="predicted",
                     x=tuple(float(i + 1) for i in range(6)), y=tuple(float(i + 2) for i in range(6)), groups=metrics,
                     log_x=True, log_y=True, band=1.25, width_px=charts.HALF_WIDTH_PX)
    few = ChartData(**{**many.__dict__, "groups": ("latency_ms",) * 6})
    # plotly: the top margin grows by a row per extra legend row (7 entries on a half-width chart wrap)
    columns, rows = charts.legend_grid([*metrics, "predicted = measured"], charts.HALF_WIDTH_PX - 30, 6.5, 40)
    assert rows >= 3 and columns * rows >= 7
    top = charts.figure_dict(many)["layout"]["margin"]["t"]
    assert top == charts.figure_dict(few)["layout"]["margin"]["t"] + 20 * (rows - 1)
    # matplotlib: the legend's top edge stays below the title's baseline
    root = _svg(mplchart.render(many))
    title_y = next(float(t.get("y")) for t in root.iter(f"{SVG_NS}text") if "".join(t.itertext()) == many.title)
    legend_texts = [t for t in root.iter(f"{SVG_NS}text") if "".join(t.itertext()) in metrics]
    assert len(legend_texts) == len(metrics) and min(float(t.get("y")) for t in legend_texts) > title_y + 8
    # and a log axis over six decades is labelled at powers of ten, not 1-2-5 (they would collide)
    wide = ChartData(**{**few.__dict__, "x": (0.5, 3.0, 40.0, 900.0, 2e4, 9e4)})
    labels = [txt for txt in _texts(_svg(mplchart.render(wide))) if txt in ("2", "5", "20", "50", "200", "500")]
    assert labels == []


def test_matplotlib_svg_is_deterministic():
    assert mplchart.render(SCATTER) == mplchart.render(SCATTER)


def test_svgchart_fallback_draws_the_same_bars():
    root = _svg(svgchart.render(HBAR))
    assert set(HBAR.labels) <= set(_texts(root))
    rects = [r for r in root.iter(f"{SVG_NS}rect") if r.get("fill") in (PALETTE["spot"], PALETTE["on-demand"])]
    assert len(rects) == 3 + 2


@pytest.mark.parametrize("value, engine", [("auto", "matplotlib"), ("matplotlib", "matplotlib"), ("svgchart", "svgchart")])
def test_engine_setting_picks_the_renderer(monkeypatch, value, engine):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", value)
    r = charts.StaticRenderer(background=True)
    svg = r.svg(HBAR)
    r.close()
    assert r.engine == engine and r.note == ""
    assert "H100-SXM · gcp" in _texts(_svg(svg))


def test_chart_child_draws_the_same_svg_as_this_process(monkeypatch):
    """The run's charts come from a matplotlib child process (reporter/mplchild.py); its SVG is
    byte for byte the one drawn in process, NaN gaps and non-ASCII labels included."""
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    nan_line = ChartData(id="gap", title="gap · ünïcode", kind="line", x_title="x", y_title="y",
                         x=(1.0, 2.0, 3.0), y=(1.0, float("nan"), 3.0), groups=("", "", ""))
    wanted = [HBAR, SCATTER, LINE, nan_line]
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)  # this test process has it loaded
    r = charts.StaticRenderer(background=True, process=True)
    assert r._child is not None  # the child path is the one under test
    svgs = r.svgs(wanted)
    r.close()
    assert r.engine == "matplotlib" and r.note == ""
    assert svgs == [mplchart.render(c) for c in wanted]


def test_chart_child_that_dies_falls_back_to_drawing_in_process(monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)
    r = charts.StaticRenderer(background=True, process=True)
    r._child.kill()
    r._child.wait()
    svgs = r.svgs([HBAR])
    r.close()
    assert svgs == [mplchart.render(HBAR)] and r.engine == "matplotlib"


def test_unused_chart_child_is_stopped(monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)
    r = charts.StaticRenderer(background=True, process=True)
    child = r._child
    r.close()
    assert child.poll() is not None and r._child is None


def test_charts_begun_in_the_child_arrive_as_drawn_in_process(monkeypatch):
    """run.py starts the drawing (`begin`) and builds the context meanwhile; the answer is the
    same SVG text, and the child is done with once the answer is in."""
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)
    r = charts.StaticRenderer(background=True, process=True)
    child = r._child
    wait = r.begin([HBAR, LINE])
    assert wait() == [mplchart.render(HBAR), mplchart.render(LINE)]
    r.close()
    assert child.poll() is not None and r.engine == "matplotlib"


def test_close_waits_for_charts_being_drawn(monkeypatch):
    """A run that fails while its charts are drawn (close() without asking for them) leaves no
    chart child running."""
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)
    r = charts.StaticRenderer(background=True, process=True)
    child = r._child
    r.begin([HBAR, SCATTER])
    r.close()
    assert child.poll() is not None and r._drawing is None


def test_no_charts_to_draw_leaves_the_child_for_close_to_stop(monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: False)
    r = charts.StaticRenderer(background=True, process=True)
    child = r._child
    assert r.begin([])() == [] and r.svgs([]) == []
    r.close()
    assert child.poll() is not None and r._child is None


def test_no_chart_child_where_matplotlib_is_loaded_already(monkeypatch):
    """A service worker that has matplotlib loaded draws in process (no import left to overlap)."""
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    monkeypatch.setattr(charts, "_matplotlib_loaded", lambda: True)
    r = charts.StaticRenderer(background=True, process=True)
    assert r._child is None
    assert r.svgs([HBAR]) == [mplchart.render(HBAR)]
    r.close()


def test_auto_never_starts_a_browser(monkeypatch):
    monkeypatch.delenv("PHANTOM_STATIC_CHARTS", raising=False)
    if not charts.kaleido_running():
        charts.StaticRenderer(background=False).close()
        assert not charts.kaleido_running()


def test_unknown_engine_setting_is_a_user_error(monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "chrome")
    with pytest.raises(PhantomError, match="PHANTOM_STATIC_CHARTS='chrome': expected one of auto"):
        charts.StaticRenderer()


def test_vendored_plotly_bundle_matches_the_plotly_package_and_its_readme():
    from plotly.offline import get_plotlyjs_version

    # figure JSON and library must agree: refresh templates/static/ when plotly is upgraded
    assert get_plotlyjs_version() == charts.VENDORED_PLOTLYJS_VERSION
    static = ROOT / "templates" / "static"
    js = (static / charts.VENDORED_JS).read_bytes()
    readme = (static / "README.md").read_text()
    assert hashlib.sha256(js).hexdigest() in readme and charts.VENDORED_PLOTLYJS_VERSION in readme
    assert (static / "plotly-basic.LICENSE").read_text().startswith("MIT License")
    assert charts.plotly_js().startswith(f"/**\n* plotly.js (basic - minified) v{charts.VENDORED_PLOTLYJS_VERSION}")


def test_html_report_is_small_interactive_and_offline(quickstart_report):
    html = quickstart_report.outputs["html"].read_text(encoding="utf-8")  # the session's quickstart render
    assert len(html.encode("utf-8")) <= 1_500_000
    assert html.count(charts.plotly_js()) == 1 and html.count("Plotly.newPlot") >= 1
    # nothing is fetched: no external script, stylesheet or image, and no CDN address outside the
    # library's own text (plotly.js names one in a config default for map traces it does not load)
    rest = html.replace(charts.plotly_js(), "")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", rest)
    assert not re.search(r"cdn\.|https?://[^\"' ]*\.js(?![a-z])", rest)  # .js, not .json


@pytest.mark.parametrize("chart", [HBAR, SCATTER, LINE], ids=lambda c: c.kind)
def test_interactive_figure_is_valid_plotly_and_carries_the_data(chart):
    import plotly.graph_objects as go

    fig = go.Figure(charts.figure_dict(chart))  # plotly validates every key and value
    xs = [x for t in fig.data if t.x is not None for x in t.x if x is not None]
    assert sorted(xs) == sorted(v for v in chart.x if v == v)  # every finite value, NaN as a gap
    assert (fig.layout.xaxis.type == "log") == chart.log_x


def test_interactive_html_cannot_break_out_of_its_script():
    hostile = ChartData(id="x", title="</script><script>alert(1)</script>", kind="hbar", x_title="<!--",
                        y_title="", labels=("</script>",), x=(1.0,), groups=("spot",))
    frag = charts.interactive_html(hostile)
    assert frag.count("</script>") == 1 and "<!--" not in frag and "<script>" not in frag
    payload = re.search(r"Plotly\.newPlot\((.*)\); \}</script>", frag).group(1)
    import json

    div, data, layout, _config = json.loads(f"[{payload}]")
    assert div == "chart-x" and data[0]["y"] == ["</script>"] and layout["title"]["text"] == hostile.title


@pytest.mark.parametrize("chart", [HBAR, SCATTER], ids=lambda c: c.kind)
def test_interactive_chart_gives_the_mode_bar_its_own_strip_above_the_title(chart):
    """plotly's tool bar floats over the top-right corner; it covered the end of long titles."""
    import json

    import plotly.graph_objects as go

    frag = charts.interactive_html(chart)
    _div, data, layout, config = json.loads(f"[{re.search(r'Plotly.newPlot[(](.*)[)]; [}]</script>', frag).group(1)}]")
    go.Figure({"data": data, "layout": layout})  # still a valid plotly figure
    static = charts.figure_dict(chart)["layout"]
    strip = charts.MODE_BAR_STRIP_PX
    assert layout["margin"]["t"] == static["margin"]["t"] + strip
    assert layout["height"] == static["height"] + strip and f'height:{layout["height"]}px' in frag
    assert layout["title"]["yref"] == "container" and layout["title"]["pad"]["t"] > strip  # below the bar
    assert {"select2d", "lasso2d"} <= set(config["modeBarButtonsToRemove"]) and config["displaylogo"] is False


@pytest.mark.browser
def test_kaleido_is_used_where_its_browser_already_runs(monkeypatch):
    """The service path: a worker that started kaleido gets it in ``auto``; once stopped, ``auto``
    is back to matplotlib (the CLI never pays a cold Chromium start)."""
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "auto")
    try:
        charts.start_kaleido()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no headless Chromium for kaleido here ({type(exc).__name__})")
    try:
        r = charts.StaticRenderer(background=True)
        svg = r.svg(HBAR)
        r.close()
        assert r.engine == "kaleido" and r.note == "" and charts.kaleido_running()  # still warm after close
        assert set(HBAR.labels) <= set(_texts(_svg(svg)))
    finally:
        charts.stop_kaleido()
    assert not charts.kaleido_running()
    assert charts.StaticRenderer().engine == "matplotlib"


def test_kaleido_that_cannot_start_falls_back_to_matplotlib(monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "kaleido")

    def no_browser():
        raise RuntimeError("Chromium not found")

    monkeypatch.setattr(charts, "start_kaleido", no_browser)
    r = charts.StaticRenderer(background=True)
    svg = r.svg(LINE)
    r.close()
    assert r.engine == "matplotlib" and r.note.startswith("kaleido unavailable (RuntimeError)")
    assert "demand (x forecast)" in _texts(_svg(svg))


def test_predicted_vs_measured_charts_take_the_one_chart_path():
    """The accuracy report's scatter is a ChartData like the report's charts: log-log, one colour
    per metric, y = x dashed and the ±25% band, drawn by every engine."""
    from phantom_report.reporter import mplchart, svgchart
    from phantom_report.reporter.charts import METRIC_COLORS, figure_dict
    from phantom_report.reporter.validation_render import chart_data

    chart = {"title": "A100 (3 rows)", "points": [
        {"value": 2500.0, "predicted": 2000.0, "metric": "throughput_per_s", "model": "<b>m</b>", "precision": "fp16",
         "batch_size": 64, "runtime": "pytorch", "source": "me", "ape": 0.2},
        {"value": 26.0, "predicted": 30.0, "metric": "latency_ms", "model": "m", "precision": "fp16",
         "batch_size": 64, "runtime": "pytorch", "source": "me", "ape": 0.15},
        {"value": 9.0, "predicted": 8.0, "metric": "tpot_ms", "model": "m", "precision": "fp16",
         "batch_size": 1, "runtime": "vllm", "source": "me", "ape": 0.11}]}
    c = chart_data(chart, 0)
    assert c.log_x and c.log_y and c.band == 1.25 and c.groups == ("throughput_per_s", "latency_ms", "tpot_ms")
    assert "&lt;b&gt;m&lt;/b&gt;" in c.hover[0]  # user text escaped for plotly's HTML hover
    fig = figure_dict(c)
    assert fig["layout"]["xaxis"]["type"] == "log" and fig["layout"]["yaxis"]["type"] == "log"
    diagonal = [t for t in fig["data"] if t.get("name") == "predicted = measured"]
    assert len(diagonal) == 1 and diagonal[0]["x"] == diagonal[0]["y"]
    band = [t for t in fig["data"] if t.get("fill") == "toself"][0]
    assert band["y"][0] / band["x"][0] == pytest.approx(1.25)
    colors = {t["name"]: t["marker"]["color"] for t in fig["data"] if t.get("mode") == "markers"}
    assert colors == {m: METRIC_COLORS[m] for m in c.groups}
    mpl = mplchart.render(c)
    assert "predicted = measured" in mpl and METRIC_COLORS["tpot_ms"] in mpl
    own = svgchart.render(c)
    assert "<polygon" in own and "stroke-dasharray" in own and own.count("<circle") == 3
