"""PDF layout: the quickstart PDF, rasterised small, has no page (but the last) that is more than
half empty, and every chart in it comes with a caption that says what to read from it.

A page's fill is how far down its body (inside the @page margins, so the running header and
footer do not count) the lowest non-white pixel row lies: a page that a chart or a section could
not share ends early and has a low fill."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MARGIN_MM = 18.0  # report.css @page top and bottom margin
DPI = 20  # an A4 page is 165 x 234 pixels: cheap, and still resolves a table row
INK_BELOW = 245  # a grey level darker than this is content (light panel backgrounds included)


def _read_pgm(path: Path) -> tuple[int, int, bytes]:
    """Width, height and pixels of a binary (P5, 8-bit) PGM as pdftoppm -gray writes it."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; whitespace-separated, '#' comments
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    return width, height, data[pos + 1:pos + 1 + width * height]


def page_fill_fractions(pdf: Path, dpi: int = DPI) -> list[float]:
    """Per page of ``pdf``: the fraction of the body height above its lowest inked row (0 = blank)."""
    assert shutil.which("pdftoppm"), "pdftoppm missing: scripts/install.sh installs poppler-utils"
    out = pdf.parent / f"_fill{dpi}"
    out.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(out / "p")], check=True, timeout=120)
    pages = sorted(out.glob("p-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    fills = []
    for page in pages:
        width, height, px = _read_pgm(page)
        margin = round(MARGIN_MM / 25.4 * dpi)
        body = range(margin, height - margin)
        inked = [y for y in body if min(px[y * width:(y + 1) * width]) < INK_BELOW]
        fills.append((inked[-1] - margin + 1) / len(body) if inked else 0.0)
    return fills


@pytest.fixture(scope="module")
def quick_pdf(quickstart_report, tmp_path_factory) -> dict[str, Path]:
    """The session's quickstart PDF and HTML, copied: the fill measure writes page images beside the PDF."""
    out = tmp_path_factory.mktemp("layout")
    return {fmt: Path(shutil.copy(quickstart_report.outputs[fmt], out / quickstart_report.outputs[fmt].name))
            for fmt in ("pdf", "html")}


def test_no_page_but_the_last_is_more_than_half_empty(quick_pdf):
    fills = page_fill_fractions(quick_pdf["pdf"])
    assert len(fills) >= 2
    half_empty = {i + 1: round(f, 2) for i, f in enumerate(fills[:-1]) if f < 0.5}
    assert not half_empty, f"pages filled less than half (page: fill) {half_empty}; all: {[round(f, 2) for f in fills]}"


def test_fill_measure_sees_a_half_empty_page(tmp_path):
    """The measure itself: a page with content only at its top reads as nearly empty, a full one as full."""
    from weasyprint import HTML

    pages = ('<p>one line</p><div style="break-before: page; height: 240mm; background: #000"></div>')
    pdf = tmp_path / "probe.pdf"
    HTML(string=f"<style>@page {{ size: A4; margin: {MARGIN_MM}mm 14mm }}</style>{pages}").write_pdf(pdf)
    first, second = page_fill_fractions(pdf)
    assert first < 0.1 and second > 0.9


def test_every_chart_has_a_caption_saying_what_to_read(quick_pdf):
    import re

    html = quick_pdf["html"].read_text(encoding="utf-8")
    figures = re.findall(r'<figure class="chart[^"]*".*?</figure>', html, flags=re.S)
    assert figures
    for f in figures:
        caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", f, flags=re.S)
        assert caption, f[:200]
        text = re.sub(r"<[^>]+>", "", caption.group(1))
        assert len(text.split()) >= 12, text  # a sentence about how to read it, not a title


def test_captions_state_the_reading_with_the_charts_numbers():
    from phantom_report.reporter import captions

    bars = captions.cost_by_gpu(90, "H100-SXM · gcp", 2161.0, 2)
    assert "outlined bar is the recommendation (H100-SXM · gcp, $2,161/month)" in bars
    assert "2 other bars reach below it" in bars and "90% interval" in bars
    assert "no other bar reaches below it" in captions.cost_by_gpu(90, "T4 · azure", 48.57, 0)
    assert "outlined" not in captions.cost_by_gpu(90, None, None, 0)  # nothing recommended: no outline claim
    line = captions.sensitivity((0.5, 1.0, 2.0), (1081.0, 2161.0, 3242.0))
    assert "half the demand it costs $1,081/month" in line and "twice the demand $3,242" in line
    assert "None of the 16 meets the SLOs" in captions.cost_vs_latency(0, 16)
    assert "All 9 meet the SLOs" in captions.cost_vs_latency(9, 9)
    assert "14 of 48 meet the SLOs" in captions.cost_vs_latency(14, 48)


def test_the_outlined_bar_is_the_recommended_row_even_when_its_gpu_has_a_cheaper_row():
    """The recommendation can be a dearer row of its GPU (a cheaper one misses the SLO confidence):
    the bar for that GPU must then be the recommended row, since it is the one outlined."""
    import pandas as pd

    from phantom_report.reporter.run import _with_recommended

    elig = pd.DataFrame({"gpu": ["H100", "H100", "A100"], "monthly_cost_usd": [100.0, 120.0, 110.0]},
                        index=[10, 11, 12])
    best = elig.sort_values("monthly_cost_usd").drop_duplicates("gpu")
    assert list(best.index) == [10, 12]
    shown = _with_recommended(best, elig, 11)
    assert list(shown.index) == [12, 11]  # the H100 bar is now the recommended row, in cost order
    assert _with_recommended(best, elig, 10) is best and _with_recommended(best, elig, None) is best


SIDE_MARGIN_MM = 14.0  # report.css @page left and right margin
RIGHT_DPI = 40  # a table rule or a digit crossing into the margin is a few pixels wide at 40 dpi


def pages_inked_in_right_margin(pdf: Path, dpi: int = RIGHT_DPI) -> list[int]:
    """Pages (1-based) of ``pdf`` with content in the right page margin, between the running header
    and footer: something laid out wider than the body (a table running off the page)."""
    out = pdf.parent / f"_right{dpi}"
    out.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(out / "p")], check=True, timeout=120)
    pages = sorted(out.glob("p-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    side, top = round(SIDE_MARGIN_MM / 25.4 * dpi), round(MARGIN_MM / 25.4 * dpi)
    bad = []
    for number, page in enumerate(pages, start=1):
        width, height, px = _read_pgm(page)
        # one pixel of slack at the body's edge: anti-aliasing of a rule that ends exactly there
        if any(min(px[y * width + width - side + 1:(y + 1) * width]) < INK_BELOW for y in range(top, height - top)):
            bad.append(number)
    return bad


def test_nothing_runs_off_the_right_edge(quick_pdf, tmp_path):
    """Executive (quickstart) and detailed (training) PDFs stay inside the page body: the
    nine-column configuration table ran into the right margin, and the detailed template's three
    sensitivity tables were laid on top of one another, one wide table over the others."""
    from phantom_report.reporter.run import run_report
    from phantom_report.reporter.spec import load_spec

    detailed = run_report(load_spec(Path(__file__).resolve().parents[1] / "examples" / "training.yaml"),
                          out_dir=tmp_path, formats=("pdf",), offline=True).outputs["pdf"]
    for pdf in (quick_pdf["pdf"], detailed):
        assert pages_inked_in_right_margin(pdf) == [], pdf.name


def test_right_margin_measure_sees_an_overflowing_table(tmp_path):
    from weasyprint import HTML

    css = f"@page {{ size: A4; margin: {MARGIN_MM}mm {SIDE_MARGIN_MM}mm }}"
    for body, overflows in (('<table style="width: 120%; border-bottom: 2px solid #000"><tr><td>x</td></tr></table>', True),
                            ('<table style="width: 100%; border-bottom: 2px solid #000"><tr><td>x</td></tr></table>', False)):
        pdf = tmp_path / f"probe{overflows}.pdf"
        HTML(string=f"<style>{css}</style>{body}").write_pdf(pdf)
        assert bool(pages_inked_in_right_margin(pdf)) == overflows
