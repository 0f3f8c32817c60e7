"""Static SVG charts for the PDF through matplotlib's SVG backend: no browser, no display.

Draws the same numbers as the interactive plotly chart (``charts.figure``): horizontal bars with
interval whiskers and the recommended bar outlined, or points / lines per group. Text stays text
(``svg.fonttype: none``) so WeasyPrint sets it in the report's font and the SVG stays small; ids
and metadata are fixed so the same data gives the same bytes.

Only the object API is used (``Figure`` + ``FigureCanvasSVG``), never pyplot, so no GUI backend
is loaded and no figure registry grows in a long-lived service.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading

from phantom_report.reporter.charts import BAND_COLOR, DIAGONAL_COLOR, PALETTE, ChartData, diagonal_range, legend_grid
from phantom_report.reporter.svgchart import short_number

WIDTH_PX = 760
DPI = 100
INK = "#222222"
# rcParams are process-wide: they are applied only inside rc_context, under this lock, so two
# threads rendering at once cannot see each other's settings half-applied
_RC_LOCK = threading.Lock()
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "phantom-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["Helvetica", "Arial", "DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "legend.frameon": False,
    "path.simplify": False,
    "text.parse_math": False,  # a "$" in a title is a dollar sign, not TeX
    "axes.formatter.useoffset": False,
}
# fixed margins (px) instead of a constrained layout: laying out measures every label again and
# was half of the drawing time; the titles and labels are short and known in kind
TOP_PX, BOTTOM_PX, RIGHT_PX, LEFT_XY_PX = 52, 44, 24, 64
TITLE_PX_PER_CHAR, TITLE_LINE_PX = 7.4, 16  # 11 px title font: widest-case average glyph width (DejaVu), line height


LOG_DECADES_1_2_5 = 2.5  # a log axis spanning more decades is labelled at powers of ten only
LEGEND_ROW_PX, LEGEND_ENTRY_PX, LEGEND_PX_PER_CHAR = 14, 26, 5.2  # 8 px legend font: row, swatch + gaps, glyph
LEGEND = dict(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, handlelength=1.0,
              columnspacing=1.0, borderaxespad=0.2)


def warm_up() -> None:
    """Import the SVG backend and load the font list: the one-off cost (most of a first chart)
    that a caller may pay on a background thread while other work runs."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    _label_width_px(["warm"])


def render(c: ChartData) -> str:
    """The SVG text of ``c``."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with _RC_LOCK, matplotlib.rc_context(RC):
        width_px = c.width_px or WIDTH_PX
        # a long title wraps on a narrow chart; each extra line moves the plot down a line
        title = textwrap.fill(c.title, width=max(30, int((width_px - 20) / TITLE_PX_PER_CHAR)))
        # the legend sits above the plot, right-aligned, in as many columns as fit the width; each
        # row after the first moves the plot down a row (it would cover the title otherwise)
        ncols, rows = legend_grid(_legend_labels(c), width_px - RIGHT_PX - 10, LEGEND_PX_PER_CHAR, LEGEND_ENTRY_PX)
        top_px = TOP_PX + TITLE_LINE_PX * title.count("\n") + LEGEND_ROW_PX * max(rows - 1, 0)
        height_px = (max(260, 26 * len(c.labels) + 110) if c.kind == "hbar" else 340) + top_px - TOP_PX
        fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
        left_px = LEFT_XY_PX if c.kind != "hbar" else min(width_px * 0.42, 16 + _label_width_px(c.labels))
        fig.subplots_adjust(left=left_px / width_px, right=1 - RIGHT_PX / width_px,
                            top=1 - top_px / height_px, bottom=BOTTOM_PX / height_px)
        ax = fig.add_subplot()
        ax.xaxis.set_major_formatter(_tick_label)
        ax.yaxis.set_major_formatter(_tick_label)
        if c.kind == "hbar":
            _hbar(ax, c, ncols)
        else:
            _xy(ax, c, ncols)
        ax.set_xlabel(c.x_title)
        if c.kind != "hbar":
            ax.set_ylabel(c.y_title)
        fig.text(10 / width_px, 1 - 8 / height_px, title, ha="left", va="top", fontsize=11, color=INK)
        buf = io.StringIO()
        FigureCanvasSVG(fig).print_svg(buf, metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def _legend_labels(c: ChartData) -> list[str]:
    """The legend's entries as `_hbar` / `_xy` draw them ([] when the chart shows no legend)."""
    groups = list(dict.fromkeys(c.groups))
    if c.kind == "hbar":
        return [g for g in groups if g]
    labels = [g or c.y_title for g in groups] + (["predicted = measured"] if c.band else [])
    return labels if len(labels) > 1 or any(groups) else []


def _tick_label(v: float, _pos=None) -> str:
    """matplotlib's formatter signature around the one short-number rule (svgchart.short_number)."""
    return short_number(v)


def _label_width_px(labels) -> float:
    """Width of the widest bar label as matplotlib sets it (its own font metrics, no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=RC["font.size"])
    widths_pt = [text_to_path.get_text_width_height_descent(str(s), font, ismath=False)[0] for s in labels]
    return max(widths_pt, default=24.0) * DPI / 72


def _finite(*vals: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals)


def _hbar(ax, c: ChartData, legend_columns: int) -> None:
    n = len(c.labels)
    groups = list(c.groups) if len(c.groups) == n else [""] * n
    xs = [v if _finite(v) else 0.0 for v in c.x]
    colors = [PALETTE.get(g, PALETTE[""]) for g in groups]
    widths = [2.0 if i == c.highlight else 0.0 for i in range(n)]
    ax.barh(range(n), xs, height=0.7, color=colors, edgecolor="#111111", linewidth=widths, zorder=2)
    if len(c.err_low) == n and len(c.err_high) == n:
        # one errorbar call for every whisker: an artist set per bar cost ~5 ms each
        whiskers = [(i, v, max(v - lo, 0.0), max(hi - v, 0.0))
                    for i, (lo, v, hi) in enumerate(zip(c.err_low, c.x, c.err_high)) if _finite(lo, v, hi)]
        if whiskers:
            ys, vs, below, above = zip(*whiskers)
            ax.errorbar(vs, ys, xerr=[below, above], fmt="none", ecolor="#444444", elinewidth=1.0, capsize=3, zorder=3)
    ax.set_yticks(range(n), labels=list(c.labels))
    ax.set_ylim(n - 0.5, -0.5)  # first label on top, as in the plotly chart
    ax.set_xlim(left=0)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    from matplotlib.patches import Patch

    swatches = [Patch(color=PALETTE.get(g, PALETTE[""]), label=g) for g in dict.fromkeys(groups) if g]
    if swatches:
        ax.legend(handles=swatches, ncols=legend_columns, **LEGEND)


def _xy(ax, c: ChartData, legend_columns: int) -> None:
    groups = list(c.groups) if len(c.groups) == len(c.x) else [""] * len(c.x)
    if c.band:
        lo, hi = diagonal_range(c)
        ax.fill_between([lo, hi], [lo / c.band, hi / c.band], [lo * c.band, hi * c.band], color=BAND_COLOR,
                        linewidth=0, zorder=0)
    for g in dict.fromkeys(groups):
        pts = [(x, y) for x, y, gg in zip(c.x, c.y, groups)
               if gg == g and _finite(x, y) and (x > 0 or not c.log_x) and (y > 0 or not c.log_y)]
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        color = PALETTE.get(g) or PALETTE[""]
        if c.kind == "line":
            ax.plot(xs, ys, color=color, linewidth=1.8, marker="o", markersize=5, alpha=0.9, label=g or c.y_title)
        else:
            ax.scatter(xs, ys, s=26, color=color, alpha=0.8, linewidths=0, label=g or c.y_title)
    if c.band:
        lo, hi = diagonal_range(c)
        ax.plot([lo, hi], [lo, hi], color=DIAGONAL_COLOR, linestyle="--", linewidth=1.0, label="predicted = measured")
    ax.margins(x=0.04, y=0.08)
    for log, axis, set_scale, limits in ((c.log_x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                         (c.log_y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if log:
            from matplotlib.ticker import LogLocator

            set_scale("log")
            lo, hi = limits()
            # 1-2-5 labels read well over a couple of decades; over more they crowd into one another
            wide = lo > 0 and math.log10(hi / lo) > LOG_DECADES_1_2_5
            axis.set_major_locator(LogLocator(subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
            axis.set_major_formatter(_tick_label)  # set_xscale resets it to 10^n mathtext
            axis.set_minor_formatter("")
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 1 or any(g for g in groups):  # one unnamed series needs no legend, as in plotly
        ax.legend(handles, labels, ncols=legend_columns, **LEGEND)
