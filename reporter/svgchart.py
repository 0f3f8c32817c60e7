"""A minimal static SVG writer for ChartData, used for the PDF when kaleido/Chromium is not
available. It draws the same numbers as the plotly chart (bars with interval whiskers, or points /
lines per group) with nice axis ticks; no external fonts or resources."""

from __future__ import annotations

import math
from html import escape

from phantom_report.reporter.charts import BAND_COLOR, DIAGONAL_COLOR, PALETTE, ChartData

W = 760
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2) if start + i * step <= hi + step * 0.999]


def short_number(v: float) -> str:
    """Short axis labels, as on the interactive chart: 2,500 -> 2.5k, 3e6 -> 3M (both static engines)."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def render(c: ChartData) -> str:
    """The chart as standalone SVG text, drawn without any plotting library (the last fallback)."""
    return _hbar(c) if c.kind == "hbar" else _xy(c)


def _frame(h: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}">'
            f'<rect width="{W}" height="{h}" fill="white"/>'
            f'<text x="10" y="22" font-size="14" {FONT} fill="#222">{escape(title)}</text>' + "".join(body) + "</svg>")


def _hbar(c: ChartData) -> str:
    n = len(c.labels)
    left, right, top, row = 190, 30, 40, 24
    h = top + n * row + 50
    hi = max([v for v in (*c.err_high, *c.x) if math.isfinite(v)] or [1])
    ticks = _ticks(0, hi)
    xmax = ticks[-1] if ticks[-1] > 0 else 1
    sx = lambda v: left + (W - left - right) * v / xmax  # noqa: E731
    body = []
    for t in ticks:
        body.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{top + n * row}" stroke="#e5e5e5"/>')
        body.append(f'<text x="{sx(t):.1f}" y="{top + n * row + 16}" font-size="10" text-anchor="middle" {FONT} fill="#555">{short_number(t)}</text>')
    for i, (lab, v) in enumerate(zip(c.labels, c.x)):
        y = top + i * row
        col = PALETTE.get(c.groups[i] if c.groups else "", "#1f4e79")
        stroke = ' stroke="#111" stroke-width="2"' if i == c.highlight else ""
        body.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" font-size="11" text-anchor="end" {FONT} fill="#222">{escape(lab)}</text>')
        body.append(f'<rect x="{left}" y="{y + 4}" width="{max(sx(v) - left, 0.5):.1f}" height="{row - 8}" fill="{col}"{stroke}/>')
        if c.err_low and c.err_high:
            lo, hv = sx(c.err_low[i]), sx(c.err_high[i])
            cy = y + row / 2
            body.append(f'<path d="M{lo:.1f},{cy - 5:.1f}v10M{lo:.1f},{cy:.1f}H{hv:.1f}M{hv:.1f},{cy - 5:.1f}v10" stroke="#333" fill="none"/>')
    body.append(f'<text x="{(left + W - right) / 2:.0f}" y="{h - 10}" font-size="11" text-anchor="middle" {FONT} fill="#333">{escape(c.x_title)}</text>')
    lx = W - right
    for g in reversed(list(dict.fromkeys(c.groups))):
        lx -= 8 + 7 * len(g) + 16
        body.append(f'<rect x="{lx}" y="{top - 16}" width="10" height="10" fill="{PALETTE.get(g, "#1f4e79")}"/>'
                    f'<text x="{lx + 14}" y="{top - 7}" font-size="10" {FONT} fill="#333">{escape(g)}</text>')
    return _frame(h, c.title, body)


def _xy(c: ChartData) -> str:
    left, right, top, bottom, h = 70, 30, 40, 50, 340

    def shown(x: float, y: float) -> bool:
        return math.isfinite(x) and math.isfinite(y) and (x > 0 or not c.log_x) and (y > 0 or not c.log_y)

    pts = [(x, y) for x, y in zip(c.x, c.y) if shown(x, y)]
    if not pts:
        return _frame(h, c.title, [f'<text x="20" y="60" font-size="12" {FONT}>no data</text>'])
    tx = (lambda v: math.log10(v)) if c.log_x else (lambda v: v)  # noqa: E731
    ty = (lambda v: math.log10(v)) if c.log_y else (lambda v: v)  # noqa: E731
    xs, ys = [tx(p[0]) for p in pts], [ty(p[1]) for p in pts]
    xt = _ticks(min(xs), max(xs)) if not c.log_x else list(range(math.floor(min(xs)), math.ceil(max(xs)) + 1))
    yt = _ticks(min(0, min(ys)), max(ys)) if not c.log_y else list(range(math.floor(min(ys)), math.ceil(max(ys)) + 1))
    x0, x1, y0, y1 = xt[0], xt[-1] if xt[-1] > xt[0] else xt[0] + 1, yt[0], yt[-1] if yt[-1] > yt[0] else yt[0] + 1
    sx = lambda v: left + (W - left - right) * (tx(v) - x0) / (x1 - x0)  # noqa: E731
    sy = lambda v: top + (h - top - bottom) * (1 - (ty(v) - y0) / (y1 - y0))  # noqa: E731
    body = []
    for t in yt:
        label = short_number(10 ** t) if c.log_y else short_number(t)
        py = top + (h - top - bottom) * (1 - (t - y0) / (y1 - y0))
        body.append(f'<line x1="{left}" y1="{py:.1f}" x2="{W - right}" y2="{py:.1f}" stroke="#e5e5e5"/>'
                    f'<text x="{left - 6}" y="{py + 4:.1f}" font-size="10" text-anchor="end" {FONT} fill="#555">{label}</text>')
    for t in xt:
        label = short_number(10 ** t) if c.log_x else short_number(t)
        px = left + (W - left - right) * (t - x0) / (x1 - x0)
        body.append(f'<text x="{px:.1f}" y="{h - bottom + 16}" font-size="10" text-anchor="middle" {FONT} fill="#555">{label}</text>')
    if c.band:
        body += _band(c, sx, sy, (10 ** x0 if c.log_x else x0, 10 ** x1 if c.log_x else x1),
                      (10 ** y0 if c.log_y else y0, 10 ** y1 if c.log_y else y1))
    for g in dict.fromkeys(c.groups or ("",)):
        col = PALETTE.get(g, "#1f4e79")
        idx = [i for i in range(len(c.x)) if (c.groups[i] if c.groups else "") == g and shown(c.x[i], c.y[i])]
        if c.kind == "line" and len(idx) > 1:
            d = "M" + "L".join(f"{sx(c.x[i]):.1f},{sy(c.y[i]):.1f}" for i in idx)
            body.append(f'<path d="{d}" stroke="{col}" fill="none" stroke-width="2"/>')
        for i in idx:
            body.append(f'<circle cx="{sx(c.x[i]):.1f}" cy="{sy(c.y[i]):.1f}" r="3.5" fill="{col}" fill-opacity="0.8"/>')
    body.append(f'<text x="{(left + W - right) / 2:.0f}" y="{h - 12}" font-size="11" text-anchor="middle" {FONT} fill="#333">{escape(c.x_title)}</text>'
                f'<text x="14" y="{(top + h - bottom) / 2:.0f}" font-size="11" text-anchor="middle" transform="rotate(-90 14 {(top + h - bottom) / 2:.0f})" {FONT} fill="#333">{escape(c.y_title)}</text>')
    lx = W - right
    for g in reversed([g for g in dict.fromkeys(c.groups) if g]):
        lx -= 8 + 7 * len(g) + 16
        body.append(f'<rect x="{lx}" y="{top - 16}" width="10" height="10" fill="{PALETTE.get(g, "#1f4e79")}"/>'
                    f'<text x="{lx + 14}" y="{top - 7}" font-size="10" {FONT} fill="#333">{escape(g)}</text>')
    return _frame(h, c.title, body)


def _band(c: ChartData, sx, sy, xr: tuple[float, float], yr: tuple[float, float]) -> list[str]:
    """The shaded band x / band .. x * band and the dashed y = x line inside the axes' ranges."""
    a, b = max(xr[0], yr[0]), min(xr[1], yr[1])
    if not (a < b):
        return []
    clip = lambda v: min(max(v, yr[0]), yr[1])  # noqa: E731
    poly = [(a, clip(a * c.band)), (b, clip(b * c.band)), (b, clip(b / c.band)), (a, clip(a / c.band))]
    return [f'<polygon fill="{BAND_COLOR}" points="' + " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in poly) + '"/>',
            f'<line x1="{sx(a):.1f}" y1="{sy(a):.1f}" x2="{sx(b):.1f}" y2="{sy(b):.1f}" stroke="{DIAGONAL_COLOR}" '
            'stroke-dasharray="4,3"/>']
