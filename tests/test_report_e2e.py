"""End to end: the quickstart spec through the real engine and the embedded price snapshot."""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape as html_escape
from pathlib import Path

import pytest

from phantom_report.reporter import fmt
from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import load_spec, parse_spec

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.fixture(scope="module")
def quick(quickstart_report):
    """The quickstart in every format (rendered once per session, shared with other modules)."""
    return quickstart_report


def test_all_formats_written(quick):
    assert set(quick.outputs) == {"html", "pdf", "md", "json", "csv"}
    for p in quick.outputs.values():
        assert p.stat().st_size > 0
    assert not list(quick.outputs["html"].parent.glob(".*.tmp"))


def test_pdf_text_has_recommendation_and_intervals(quick):
    from pypdf import PdfReader

    reader = PdfReader(str(quick.outputs["pdf"]))
    text = _squash(" ".join(page.extract_text() for page in reader.pages))
    w = quick.payload["workloads"][0]
    cheapest = w["cheapest"]["config"]
    assert _squash(cheapest["description"]) in text
    assert _squash(cheapest["monthly_cost"]["interval_text"]) in text
    assert _squash(quick.payload["decision"]["total_savings"]["interval_text"]) in text
    assert "Methodology" in text and "Page1of" in text
    assert len(reader.pages) >= 3


def test_html_has_interactive_charts_and_embeds_plotly_once(quick):
    html = quick.outputs["html"].read_text()
    assert html.count('class="plotly-graph-div"') >= 1
    assert html.count("Plotly.newPlot") >= 1
    # no external script: plotly.js is inline (the library itself mentions its CDN in a config default)
    assert not re.search(r"<script[^>]+src=", html)
    # plotly.js is inlined exactly once (its licence banner appears once; the basic bundle's reads
    # "plotly.js (basic - minified) v4.1.1")
    assert len(re.findall(r"plotly\.js (\([a-z -]+\) )?v\d", html)) == 1
    assert 'class="report report-executive workload-llama-3-1-8b' in html


def test_json_numbers_equal_rendered_html_numbers(quick):
    html = quick.outputs["html"].read_text()
    data = json.loads(quick.outputs["json"].read_text())
    assert data["decision"]["headline"] == quick.headline
    w = data["workloads"][0]
    samples = [w["cheapest"]["config"], *w["top"][:5], *(r["config"] for r in w["recommendations"])]
    checked = 0
    for cfg in samples:
        for key, f in (("monthly_cost", fmt.usd), ("unit_cost", fmt.usd), ("latency", fmt.ms)):
            n = cfg[key]
            assert f(n["value"]) == n["text"]
            assert n["text"] in html, (key, n["text"])
            if n["low"] is not None:
                assert f"{f(n['low'])}–{f(n['high'])}" == n["interval_text"]
                in_table = any(cfg is t for t in w["top"][:5])
                # tables show latency and cost intervals; recommendation cards the monthly-cost interval
                if (key == "latency" and in_table) or key == "monthly_cost" or cfg is samples[0]:
                    assert n["interval_text"] in html, (key, n["interval_text"])
            checked += 1
    assert checked >= 15
    # the spec and every quote used travel with the report
    assert data["spec"]["workloads"][0]["model"] == "llama-3.1-8b"
    assert data["quotes"] and {"provider", "on_demand_usd_per_hour", "source"} <= set(data["quotes"][0])


def test_csv_has_every_priced_row_with_intervals(quick):
    rows = list(csv.DictReader(io.StringIO(quick.outputs["csv"].read_text())))
    assert len(rows) == len(quick.economics)
    assert {"monthly_cost_usd_low", "monthly_cost_usd_high", "carbon_kgco2e_per_month", "savings_usd_per_month"} <= set(rows[0])


def test_markdown_is_a_pr_comment(quick):
    md = quick.outputs["md"].read_text()
    assert md.startswith("## ") and "**Decision:**" in md and "| Cheapest that meets every SLO |" in md


def test_spot_overhead_and_carbon_source_stated(quick):
    meth = quick.payload["methodology"]
    assert meth["spot_interruption_overhead_pct"] is None  # no flat override in the quickstart
    risk = meth["spot_risk"]
    assert [b["bucket"] for b in risk["buckets"]] == ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
    assert any("spot-advisor-data.json" in s and "bamboo@0faa479" in s for s in risk["sources"])
    assert any("GCP publishes no per-type preemption rate" in s for s in risk["sources"])
    assert any("Cloud Carbon Footprint" in c["source_detail"] for c in meth["carbon"])
    html = quick.outputs["html"].read_text()
    assert risk["summary"] in html and "Spot interruption risk" in html


def test_risk_bucket_beside_every_spot_price(quick):
    """Every spot row carries its bucket and overhead (CSV, JSON, HTML and Markdown tables)."""
    rows = list(csv.DictReader(io.StringIO(quick.outputs["csv"].read_text())))
    spot = [r for r in rows if r["option"] == "spot"]
    assert spot and all(r["spot_interruption_bucket"] and r["spot_overhead"] and r["spot_risk_basis"] for r in spot)
    assert {r["spot_interruption_bucket"] for r in spot} > {"unknown"}  # AWS rows have published buckets
    assert all(r["spot_interruption_bucket"] == "" for r in rows if r["option"] != "spot")
    w = quick.payload["workloads"][0]
    html, md = quick.outputs["html"].read_text(), quick.outputs["md"].read_text()
    shown = [c for c in w["top"][:8] if c["option"] == "spot"]
    assert shown
    for c in shown:
        assert c["spot_interruption_bucket"] and c["spot_overhead"]["text"]
        cell = f'{c["spot_interruption_bucket"]} (+{c["spot_overhead"]["text"]}'
        assert cell in md, cell
        assert f'>{html_escape(c["spot_interruption_bucket"])}</span><br><span class="ci">+{c["spot_overhead"]["text"]} GPU time' in html


def test_flat_override_still_applies_to_every_spot_row(tmp_path):
    spec = parse_spec("model: resnet-50\ngpus: [T4]\ndemand: {requests_per_month: 50_000_000}\n"
                      "pricing: {offline: true, spot_interruption_overhead: 0.4}\n", base_dir=str(tmp_path))
    r = run_report(spec, out_dir=tmp_path, formats=["json", "csv"], offline=True)
    spot = r.economics[r.economics["option"] == "spot"]
    assert len(spot) and (spot["overhead"] == 1.4).all() and (spot["spot_interruption_bucket"] != "").all()
    assert r.payload["methodology"]["spot_interruption_overhead_pct"] == 40.0
    assert "flat 40%" in r.payload["methodology"]["spot_risk"]["summary"]


def test_three_line_spec_makes_a_full_report(tmp_path):
    spec = parse_spec("model: resnet-50\ngpus: all\ndemand: {requests_per_month: 50_000_000}\n", base_dir=str(tmp_path))
    r = run_report(spec, out_dir=tmp_path, formats=["html", "json"], offline=True)
    kinds = [x.kind for x in r.recommendations]
    assert kinds[:2] == ["cheapest", "best_value"]
    assert all(rec["reason"] for rec in r.payload["workloads"][0]["recommendations"])


def test_nothing_meets_the_slo_says_so(tmp_path):
    spec = parse_spec("model: llama-3.1-8b\ngpus: [L4, T4]\ndemand: {tokens_per_month: 1e9}\nslo: {p95_latency_ms: 1}\n")
    r = run_report(spec, out_dir=tmp_path, formats=["html", "md", "json"], offline=True)
    assert r.recommendations == ()
    msg = r.payload["workloads"][0]["message"]
    assert msg.startswith("No configuration of llama-3.1-8b meets its SLOs.")
    assert "The closest" in msg and "It would take" in msg  # what comes closest and what it would take
    assert r.payload["workloads"][0]["closest"]  # not an empty page: the nearest priced configurations
    assert "No candidate configuration meets the SLOs." in r.headline
    assert "meets its SLOs" in r.outputs["html"].read_text()


def test_same_seed_same_numbers(tmp_path, quick):
    # a second, independent run of the same spec (JSON only) against the shared full render
    a = run_report(load_spec(QUICKSTART), out_dir=tmp_path / "a", formats=["json"], offline=True).payload
    assert a["workloads"] == quick.payload["workloads"]
    assert a["workloads"] == json.loads(quick.outputs["json"].read_text())["workloads"]


def test_svg_fallback_when_kaleido_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PHANTOM_STATIC_CHARTS", "svgchart")
    r = run_report(load_spec(QUICKSTART), out_dir=tmp_path, formats=["pdf", "json"], offline=True)
    assert r.payload["methodology"]["chart_engine"].startswith("svgchart")
    assert r.outputs["pdf"].read_bytes().startswith(b"%PDF")


def test_cli_run_prints_decision_and_files(tmp_path, cli):
    res = cli("run", str(QUICKSTART), "--out", str(tmp_path), "--format", "md,json", "--offline")
    assert res.returncode == 0, res.stderr
    assert "Decision:" in res.stdout and str(tmp_path / "report.md") in res.stdout.replace("\n", "")


def test_quickstart_recommends_nothing_below_the_slo_confidence(quick):
    for w in quick.payload["workloads"]:
        assert w["recommendations"]
        for r in w["recommendations"]:
            c = r["config"]
            assert c["slo_confidence"]["value"] == pytest.approx(90.0)
            assert c["slo_probability"]["value"] >= c["slo_confidence"]["value"]
    assert "of simulated outcomes (≥ 90% required)" in quick.summary


def test_methodology_quotes_leave_one_source_out_and_configs_carry_extrapolation(quick):
    html = _squash(quick.outputs["html"].read_text())
    assert "leave-one-source-out" in html
    accuracy = quick.payload["methodology"]["engine"]["accuracy"]
    assert any("leave-one-source-out" in k for k in accuracy), accuracy
    tops = [c for w in quick.payload["workloads"] for c in w["top"]]
    assert tops and all(isinstance(c["extrapolation"], bool) and isinstance(c["extrapolation_reason"], str) for c in tops)
    assert all(bool(c["extrapolation_reason"]) == c["extrapolation"] for c in tops)
