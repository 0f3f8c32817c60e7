"""Actual spend in the report: spec `actual_spend` -> real clients -> local Cost Explorer and Cost
Management servers -> report.json / report.md / report.html. Prices come from the embedded
snapshot (no network); spend from 127.0.0.1 only."""

from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import parse_spec

from .conftest import FAST
from .spend_routes import (AWS_DAILY_USD, AZURE_DAILY_USD, AZURE_GPU, SCOPE, StaticToken, aws_session, ce_error,
                           ce_route, cost_management_route)

SPEC = f"""
title: Spend beside forecast
model: resnet-50
gpus: [T4, A10G]
precisions: [fp16]
batch_sizes: [8]
demand: {{requests_per_month: 50_000_000}}
pricing: {{offline: true, providers: [aws, azure]}}
actual_spend:
  aws: {{}}
  azure: {{scope: {SCOPE}}}
report: {{formats: [json, md, html]}}
"""


def spec(text: str = SPEC):
    return parse_spec(text, "spend.yaml")


def options(aws_url: str, azure_url: str, aws_session_=None, azure_cred=None) -> dict:
    return {"aws": {"session": aws_session_ or aws_session(), "endpoint_url": aws_url, "settings": FAST},
            "azure": {"credential": azure_cred or StaticToken(), "base_url": azure_url, "enforce_https": False, "settings": FAST}}


def windows(today: date) -> tuple[int, int, int]:
    """(days last month, complete days this month, days this month), by calendar arithmetic."""
    first = today.replace(day=1)
    prev = first - timedelta(days=1)
    return prev.day, today.day - 1, calendar.monthrange(today.year, today.month)[1]


def test_spend_beside_forecast_from_both_clouds(serve, tmp_path, engine):
    ce_seen: list = []
    ce, cm = serve(ce_route(seen=ce_seen)), serve(cost_management_route())
    today = datetime.now(timezone.utc).date()
    res = run_report(spec(), tmp_path, engine=engine, spend_client_options=options(ce.url, cm.url))
    block = json.loads(res.outputs["json"].read_text())["actual_spend"]
    assert block["requested"] and block["shown"] and block["warnings"] == []
    # Cost Explorer was asked for last month's first day up to today, exclusive (the last complete day)
    first_prev = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    assert ce_seen[0]["TimePeriod"] == {"Start": first_prev.isoformat(), "End": today.isoformat()}
    n_prev, n_mtd, n_month = windows(today)
    forecast = res.payload["decision"]["total_monthly_cost"]
    clouds = {c["cloud"]: c for c in block["clouds"]}
    for cloud, daily in (("aws", sum(AWS_DAILY_USD.values())), ("azure", sum(AZURE_DAILY_USD[g] for g in AZURE_GPU))):
        c = clouds[cloud]
        assert c["status"] == "ok" and c["workloads"] == ["resnet-50"]
        assert c["last_month"]["value"] == pytest.approx(n_prev * daily)
        assert c["month_to_date"]["value"] == pytest.approx(n_mtd * daily)
        assert c["forecast"]["value"] == pytest.approx(forecast["value"])
        assert c["forecast"]["interval_text"] == forecast["interval_text"]
        if n_mtd:
            assert c["month_pace"]["value"] == pytest.approx(daily * n_month)
            assert c["pace_vs_forecast_pct"]["value"] == pytest.approx(100 * daily * n_month / forecast["value"])
            assert "interval" in c["verdict"]
    assert {g["group"] for g in clouds["azure"]["by_group"]} == set(AZURE_GPU)
    assert clouds["aws"]["by_group"][0]["group"] == "p4d"  # largest first
    md = res.outputs["md"].read_text()
    html = res.outputs["html"].read_text()
    for c in clouds.values():
        assert c["last_month"]["text"] in md and c["month_to_date"]["text"] in md
        assert c["last_month"]["text"] in html and c["title"] in html
    assert 'id="actual-spend"' in html and "Actual spend is not shown" not in md


def test_api_failures_are_warnings_naming_the_provider(serve, tmp_path, engine):
    ce = serve(ce_error("LimitExceededException"))
    cm = serve(lambda r, s: (401, {"error": {"code": "AuthenticationFailed", "message": "token expired"}}))
    res = run_report(spec(), tmp_path, engine=engine, spend_client_options=options(ce.url, cm.url))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]
    payload = json.loads(res.outputs["json"].read_text())
    block = payload["actual_spend"]
    assert not block["shown"] and {c["status"] for c in block["clouds"]} == {"error"}
    assert len(ce.requests) == FAST.retries + 1 and len(cm.requests) == 1
    aws_w = [w for w in payload["warnings"] if "AWS Cost Explorer" in w]
    azure_w = [w for w in payload["warnings"] if "Azure Cost Management" in w]
    assert len(aws_w) == 1 and "LimitExceededException" in aws_w[0]
    assert len(azure_w) == 1 and "rejected" in azure_w[0]
    assert "Traceback" not in res.outputs["md"].read_text()
    assert "AWS Cost Explorer: " in res.outputs["html"].read_text()


def test_no_credentials_says_how_to_enable(serve, tmp_path, engine, no_cloud_credentials, monkeypatch):
    import boto3
    from azure.identity import EnvironmentCredential
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    ce, cm = serve(ce_route()), serve(cost_management_route())
    res = run_report(spec(), tmp_path, engine=engine,
                     spend_client_options=options(ce.url, cm.url, boto3.Session(), EnvironmentCredential()))
    block = res.payload["actual_spend"]
    assert ce.requests == [] and cm.requests == []
    assert {c["status"] for c in block["clouds"]} == {"no-credentials"} and block["warnings"] == []
    assert "none were found for AWS Cost Explorer, Azure Cost Management" in block["enable_text"]
    assert "ce:GetCostAndUsage" in block["enable_text"] and "az login" in block["enable_text"]
    assert block["enable_text"] in res.outputs["md"].read_text()
    assert not any("actual spend" in w for w in res.payload["warnings"])


def test_offline_never_calls_out(serve, tmp_path, engine, monkeypatch):
    monkeypatch.setenv("PHANTOM_OFFLINE", "1")
    ce, cm = serve(ce_route()), serve(cost_management_route())
    res = run_report(spec(), tmp_path, engine=engine, spend_client_options=options(ce.url, cm.url))
    assert ce.requests == [] and cm.requests == []
    block = res.payload["actual_spend"]
    assert {c["status"] for c in block["clouds"]} == {"offline"} and "offline" in block["enable_text"]


def test_without_the_spec_block_one_paragraph_and_no_calls(serve, tmp_path, engine):
    ce = serve(ce_route())
    text = SPEC.split("actual_spend:")[0] + "report: {formats: [json, md]}\n"
    res = run_report(spec(text), tmp_path, engine=engine, spend_client_options=options(ce.url, ce.url))
    block = res.payload["actual_spend"]
    assert ce.requests == [] and not block["requested"] and block["clouds"] == []
    assert block["enable_text"].startswith("Actual spend is not shown") and block["enable_text"] in res.outputs["md"].read_text()


def test_scope_workloads_pick_the_forecast(serve, tmp_path, engine):
    two = """
title: two
workloads:
  - {name: vision, model: resnet-50, precisions: [fp16], batch_sizes: [8], demand: {requests_per_month: 50_000_000}}
  - {name: text, model: bert-base, precisions: [fp16], batch_sizes: [8], demand: {requests_per_month: 20_000_000}}
gpus: [T4, A10G]
pricing: {offline: true, providers: [aws]}
actual_spend:
  aws: {workloads: [text], instance_families: [g4dn, g5]}
report: {formats: [json]}
"""
    seen: list = []
    ce = serve(ce_route(seen=seen))
    res = run_report(spec(two), tmp_path, engine=engine, spend_client_options=options(ce.url, ce.url))
    c = res.payload["actual_spend"]["clouds"][0]
    text_cost = next(w for w in res.payload["workloads"] if w["name"] == "text")["cheapest"]["config"]["monthly_cost"]
    assert c["workloads"] == ["text"] and c["forecast"]["value"] == pytest.approx(text_cost["value"])
    assert c["forecast"]["value"] < res.payload["decision"]["total_monthly_cost"]["value"]
    fam = next(p for p in seen[0]["Filter"]["And"] if p["Dimensions"]["Key"] == "INSTANCE_TYPE_FAMILY")
    assert fam["Dimensions"]["Values"] == ["g4dn", "g5"]


@pytest.mark.parametrize("block,key,expect", [
    ("\n  aws: {workloads: [nope]}", "10: actual_spend.aws.workloads[0]", "unknown workload 'nope'"),
    ("\n  azure: {scope: /subscriptions/not-a-guid}", "10: actual_spend.azure.scope", "must be an Azure scope"),
    ("\n  aws: {linked_accounts: ['12345']}", "10: actual_spend.aws.linked_accounts[0]", "pattern"),
    # a spec may not point the clients anywhere: endpoints and credentials come from the caller only
    ("\n  aws: {endpoint_url: 'http://169.254.169.254/'}", "10: actual_spend.aws.endpoint_url", "not a known key"),
    (" {}", "9: actual_spend", "name at least one cloud"),
])
def test_bad_spend_spec_exits_2_and_writes_nothing(tmp_path, cli_in_process, block, key, expect):
    text = SPEC.split("actual_spend:")[0] + "actual_spend:" + block + "\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    proc = cli_in_process("run", str(path), "--out", str(out))  # `main`: the command's exit code and message
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert f"bad.yaml:{key}:" in line and expect in line and "Traceback" not in proc.stderr
    assert not out.exists()


def test_a_posted_spec_does_not_use_the_services_cloud_credentials(serve, tmp_path, engine, monkeypatch):
    """allow_local_assets=False (a spec posted to the service): no spend request with the operator's
    credentials; the section says why in one paragraph."""
    ce = serve(ce_route())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", ce.url)
    text = SPEC.replace(f"  azure: {{scope: {SCOPE}}}\n", "")
    res = run_report(spec(text), tmp_path, engine=engine, allow_local_assets=False)
    block = res.payload["actual_spend"]
    assert ce.requests == [] and [c["status"] for c in block["clouds"]] == ["not-allowed"]
    assert "posted to the service" in block["enable_text"] and block["warnings"] == []
