"""Actual spend providers: the real boto3 Cost Explorer client and the real Cost Management client
against local servers speaking their wire formats (tests/pricing/spend_routes.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from phantom_report.pricing.providers.aws_spend import GPU_INSTANCE_FAMILIES, AwsSpendProvider, parse_results
from phantom_report.pricing.providers.azure_spend import AzureSpendProvider, is_gpu_meter_subcategory
from phantom_report.pricing.providers.spend import NoCredentials
from phantom_report.pricing.settings import CredentialsMissing, ProviderUnavailable

from .conftest import FAST, NOW, slow
from .spend_routes import (AWS_DAILY_USD, AZURE_DAILY_USD, AZURE_GPU, SCOPE, StaticToken, aws_session, ce_error,
                           ce_route, cost_management_route)

PAYLOADS = Path(__file__).parent / "payloads"
START, END = date(2026, 10, 1), date(2026, 11, 24)  # last month + month to date, both inclusive
N_DAYS = (END - START).days + 1


def aws(url: str, **kw) -> AwsSpendProvider:
    return AwsSpendProvider(session=aws_session(), endpoint_url=url, settings=FAST, **kw)


def azure(url: str, **kw) -> AzureSpendProvider:
    return AzureSpendProvider(scope=SCOPE, credential=StaticToken(), base_url=url, enforce_https=False, settings=FAST, **kw)


# -- AWS Cost Explorer ---------------------------------------------------------------------------

def test_ce_request_is_the_documented_gpu_filter_and_pages_are_followed(serve):
    seen: list = []
    srv = serve(ce_route(page_days=20, seen=seen))
    rep = aws(srv.url, linked_accounts=("123456789012",)).fetch(START, END, now=NOW)
    assert len(srv.requests) == 3  # 55 days, 20 per page
    body = seen[0]
    assert body["TimePeriod"] == {"Start": "2026-10-01", "End": "2026-11-25"}  # End is exclusive
    assert body["Granularity"] == "DAILY" and body["Metrics"] == ["UnblendedCost"]
    dims = {p["Dimensions"]["Key"]: p["Dimensions"]["Values"] for p in body["Filter"]["And"]}
    assert dims["SERVICE"] == ["Amazon Elastic Compute Cloud - Compute"]
    assert dims["INSTANCE_TYPE_FAMILY"] == list(GPU_INSTANCE_FAMILIES) and "p4d" in dims["INSTANCE_TYPE_FAMILY"]
    assert dims["LINKED_ACCOUNT"] == ["123456789012"]
    assert body["GroupBy"] == [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE_FAMILY"}]
    assert [b.get("NextPageToken") for b in seen] == [None, "20", "40"]
    assert rep.actual_total == pytest.approx(N_DAYS * sum(AWS_DAILY_USD.values()))
    assert rep.actual_between(date(2026, 10, 1), date(2026, 10, 31)) == pytest.approx(31 * sum(AWS_DAILY_USD.values()))
    assert {r.group for r in rep.actual} == {"p4d", "g5"} and rep.currency == "USD"
    assert "123456789012" in rep.scope and "Amazon Elastic Compute Cloud - Compute" in rep.source_detail


def test_ce_families_and_metric_from_the_caller(serve):
    seen: list = []
    srv = serve(ce_route(seen=seen))
    rep = aws(srv.url, instance_families=("p4d",), metric="AmortizedCost").fetch(START, START, now=NOW)
    assert seen[0]["Metrics"] == ["AmortizedCost"] and seen[0]["TimePeriod"]["End"] == "2026-10-02"
    assert rep.actual_total == pytest.approx(AWS_DAILY_USD["p4d"])


def test_ce_verbatim_cli_example_parses():
    """The AWS CLI's documented get-cost-and-usage output (verbatim, PROVENANCE.md): two groups,
    an empty Total; each group becomes a row keyed by its joined Keys."""
    doc = json.loads((PAYLOADS / "aws_ce_GetCostAndUsage_cli_example.json").read_text())
    rows = parse_results([doc], "UnblendedCost")
    assert [r.group for r in rows] == ["Amazon Simple Storage Service/Environment$", "Amazon Simple Storage Service/Environment$Dev"]
    assert sum(r.cost for r in rows) == pytest.approx(40.3543773134 + 0.2682364644)
    assert rows[0].day == date(2017, 9, 1)
    assert sum(r.cost for r in parse_results([doc], "BlendedCost")) == pytest.approx(40.3527508453 + 0.2682364644)


def test_ce_verbatim_cli_example_through_the_real_client(serve):
    doc = json.loads((PAYLOADS / "aws_ce_GetCostAndUsage_cli_example.json").read_text())
    srv = serve(lambda req, s: (200, doc))
    rep = aws(srv.url).fetch(date(2017, 9, 1), date(2017, 9, 30), now=NOW)
    assert rep.actual_total == pytest.approx(40.3543773134 + 0.2682364644) and len(srv.requests) == 1


@pytest.mark.parametrize("code", ["LimitExceededException", "ThrottlingException"])
def test_ce_throttling_is_retried_then_unavailable(serve, code):
    srv = serve(ce_error(code))
    with pytest.raises(ProviderUnavailable) as err:
        aws(srv.url).fetch(START, END)
    assert code in str(err.value) and len(srv.requests) == FAST.retries + 1
    assert not isinstance(err.value, NoCredentials)


def test_ce_throttled_once_then_answers(serve):
    calls = {"n": 0}
    ok = ce_route()

    def route(req, s):
        calls["n"] += 1
        return ce_error("LimitExceededException")(req, s) if calls["n"] == 1 else ok(req, s)

    rep = aws(serve(route).url).fetch(START, START, now=NOW)
    assert rep.actual_total == pytest.approx(sum(AWS_DAILY_USD.values()))


@pytest.mark.parametrize("code", ["AccessDeniedException", "UnrecognizedClientException"])
def test_ce_auth_failure_is_rejected_credentials_not_missing_ones(serve, code):
    srv = serve(ce_error(code))
    with pytest.raises(CredentialsMissing) as err:
        aws(srv.url).fetch(START, END)
    assert not isinstance(err.value, NoCredentials) and "rejected" in str(err.value)
    assert len(srv.requests) == 1  # not retried


@pytest.mark.parametrize("fault", ["html", "no-amount", "nan", "bad-date", "timeout", "500"])
def test_ce_faults_are_provider_unavailable(serve, fault):
    day = {"TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"}, "Total": {}, "Estimated": False}
    routes = {
        "html": lambda r, s: (200, b"<html>oops</html>"),
        "no-amount": lambda r, s: (200, {"ResultsByTime": [{**day, "Groups": [{"Keys": ["p4d"], "Metrics": {"UnblendedCost": {"Unit": "USD"}}}]}]}),
        "nan": lambda r, s: (200, {"ResultsByTime": [{**day, "Groups": [{"Keys": ["p4d"], "Metrics": {"UnblendedCost": {"Amount": "NaN", "Unit": "USD"}}}]}]}),
        "bad-date": lambda r, s: (200, {"ResultsByTime": [{**day, "TimePeriod": {"Start": "yesterday"}, "Total": {"UnblendedCost": {"Amount": "1"}}}]}),
        "timeout": lambda r, s: slow(1.0, (200, {"ResultsByTime": []})),
        "500": lambda r, s: (500, {"__type": "InternalServerError"}),
    }
    srv = serve(routes[fault])
    with pytest.raises(ProviderUnavailable):
        aws(srv.url).fetch(START, END)
    if fault in ("timeout", "500"):
        assert len(srv.requests) == FAST.retries + 1


def test_ce_endless_paging_is_bounded(serve):
    srv = serve(lambda r, s: (200, {"ResultsByTime": [], "NextPageToken": "again"}))
    with pytest.raises(ProviderUnavailable, match="pages"):
        aws(srv.url).fetch(START, END)
    assert len(srv.requests) == FAST.max_pages


def test_ce_without_credentials_sends_nothing(serve, no_cloud_credentials):
    import boto3
    srv = serve(ce_route())
    with pytest.raises(NoCredentials):
        AwsSpendProvider(session=boto3.Session(), endpoint_url=srv.url, settings=FAST).fetch(START, END)
    assert srv.requests == []


# -- Azure Cost Management -----------------------------------------------------------------------

def test_azure_gpu_spend_filters_vm_meters_and_keeps_n_series(serve):
    seen: list = []
    srv = serve(cost_management_route(seen))
    rep = azure(srv.url).fetch_gpu_spend(START, END, now=NOW)
    assert len(srv.requests) == 2  # first page + its nextLink
    path, query, body = seen[0]
    assert query["api-version"] == ["2025-03-01"] and body["type"] == "ActualCost"
    assert body["dataset"]["filter"] == {"dimensions": {"name": "MeterCategory", "operator": "In", "values": ["Virtual Machines"]}}
    assert body["dataset"]["grouping"] == [{"type": "Dimension", "name": "MeterSubCategory"}]
    assert body["timePeriod"]["from"].startswith("2026-10-01") and body["timePeriod"]["to"].startswith("2026-11-24")
    assert {r.group for r in rep.actual} == set(AZURE_GPU)  # the D-series row is not GPU spend
    assert rep.actual_total == pytest.approx(N_DAYS * sum(AZURE_DAILY_USD[g] for g in AZURE_GPU))
    assert "N-series" in rep.source_detail


def test_azure_explicit_subcategories_are_sent_to_the_service(serve):
    seen: list = []
    srv = serve(cost_management_route(seen, gpu_only_rows=True))
    rep = azure(srv.url, cost_type="AmortizedCost").fetch_gpu_spend(START, END, ["NCadsH100v5 Series"], now=NOW)
    body = seen[0][2]
    assert body["type"] == "AmortizedCost"
    assert body["dataset"]["filter"] == {"and": [
        {"dimensions": {"name": "MeterCategory", "operator": "In", "values": ["Virtual Machines"]}},
        {"dimensions": {"name": "MeterSubCategory", "operator": "In", "values": ["NCadsH100v5 Series"]}}]}
    assert rep.actual_total == pytest.approx(N_DAYS * sum(AZURE_DAILY_USD[g] for g in AZURE_GPU))


def test_gpu_meter_subcategory_rule():
    assert all(is_gpu_meter_subcategory(s) for s in ("NCSv3 Series", "NDasrA100v4 Series", "NVv4 Series Windows", "ncadsh100v5 series"))
    assert not any(is_gpu_meter_subcategory(s) for s in ("Dv3/DSv3 Series", "Ev5 Series", "", None))


@pytest.mark.parametrize("status,expected", [(401, CredentialsMissing), (429, ProviderUnavailable), (503, ProviderUnavailable)])
def test_azure_failures(serve, status, expected):
    srv = serve(lambda r, s: (status, {"error": {"code": "X", "message": "test"}}, {"Retry-After": "0"}))
    with pytest.raises(expected) as err:
        azure(srv.url).fetch_gpu_spend(START, END)
    assert not isinstance(err.value, NoCredentials)


def test_azure_malformed_rows_are_provider_unavailable(serve):
    body = {"properties": {"nextLink": None, "columns": [{"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                                                         {"name": "MeterSubCategory", "type": "String"}],
                           "rows": [["lots", 20261001, "NCSv3 Series"]]}}
    srv = serve(lambda r, s: (200, body))
    with pytest.raises(ProviderUnavailable, match="malformed"):
        azure(srv.url).fetch_gpu_spend(START, END)


def test_azure_without_credentials_sends_nothing(serve, monkeypatch):
    from azure.identity import EnvironmentCredential
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    srv = serve(cost_management_route())
    prov = AzureSpendProvider(scope=SCOPE, credential=EnvironmentCredential(), base_url=srv.url, enforce_https=False, settings=FAST)
    with pytest.raises(NoCredentials):
        prov.fetch_gpu_spend(START, END)
    assert srv.requests == []


def test_azure_default_chain_with_no_source_configured_is_no_credentials(serve, monkeypatch, tmp_path):
    """DefaultAzureCredential with nothing configured (no AZURE_* variables, no Azure CLI on PATH,
    managed identity excluded: its probe would leave 127.0.0.1): NoCredentials, nothing sent."""
    for var in [v for v in __import__("os").environ if v.startswith(("AZURE_", "IDENTITY_", "MSI_"))]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no az / azd / pwsh
    monkeypatch.setenv("HOME", str(tmp_path))  # no shared token cache, no VS Code settings
    srv = serve(cost_management_route())
    prov = AzureSpendProvider(scope=SCOPE, base_url=srv.url, enforce_https=False, settings=FAST,
                              default_credential_options={"exclude_managed_identity_credential": True})
    with pytest.raises(NoCredentials):
        prov.fetch_gpu_spend(START, END)
    assert srv.requests == []

