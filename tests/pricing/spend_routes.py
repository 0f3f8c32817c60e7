"""Local Cost Explorer and Cost Management servers for the actual-spend tests: the real boto3 and
azure-mgmt-costmanagement clients talk to them over 127.0.0.1 in the services' wire formats (AWS
JSON 1.1; ARM REST JSON). The daily amounts are SYNTHETIC (see payloads/PROVENANCE.md): one
instance running all day at a list price from the pricing payloads, so every total is checkable
by hand."""

from __future__ import annotations

import json
from datetime import date, timedelta

# one p4d.24xlarge all day at the verbatim offer file's $32.7726/h, one g5.xlarge at $1.006/h
AWS_DAILY_USD = {"p4d": 24 * 32.7726, "g5": 24 * 1.006}
# one NC40ads H100 v5 all day at $6.98/h (assembled retail payload); a D-series VM is not GPU spend
AZURE_DAILY_USD = {"NCadsH100v5 Series": 24 * 6.98, "NVv4 Series": 24 * 0.454, "Dv3/DSv3 Series": 24 * 0.192}
AZURE_GPU = ("NCadsH100v5 Series", "NVv4 Series")
SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000001"


def days(start: date, end_exclusive: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end_exclusive - start).days)]


def ce_route(page_days: int = 20, seen: list | None = None):
    """GetCostAndUsage over JSON 1.1: checks the request the provider sends, answers daily groups per
    INSTANCE_TYPE_FAMILY, `page_days` days per page with a NextPageToken."""

    def route(req, server):
        assert req.method == "POST" and req.path == "/"
        if req.headers.get("x-amz-target") != "AWSInsightsIndexService.GetCostAndUsage":
            return 400, {"__type": "UnknownOperationException"}
        assert req.headers["content-type"].startswith("application/x-amz-json-1.1")
        assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256")  # boto3 really signed it
        assert "/us-east-1/ce/aws4_request" in req.headers["authorization"]
        body = json.loads(req.body)
        if seen is not None:
            seen.append(body)
        start, end = (date.fromisoformat(body["TimePeriod"][k]) for k in ("Start", "End"))
        all_days = days(start, end)
        offset = int(body.get("NextPageToken") or 0)
        chunk = all_days[offset:offset + page_days]
        results = [{"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
                    "Groups": [{"Keys": [fam], "Metrics": {body["Metrics"][0]: {"Amount": f"{usd:.10f}", "Unit": "USD"}}}
                               for fam, usd in AWS_DAILY_USD.items() if fam in _families(body)],
                    "Estimated": d >= end - timedelta(days=2)} for d in chunk]
        out = {"GroupDefinitions": body.get("GroupBy", []), "ResultsByTime": results, "DimensionValueAttributes": []}
        if offset + page_days < len(all_days):
            out["NextPageToken"] = str(offset + page_days)
        return 200, out
    return route


def _families(body: dict) -> list[str]:
    for part in body["Filter"]["And"]:
        if part.get("Dimensions", {}).get("Key") == "INSTANCE_TYPE_FAMILY":
            return part["Dimensions"]["Values"]
    return []


def ce_error(code: str, status: int = 400):
    return lambda req, server: (status, {"__type": code, "Message": f"{code} (test)"})


def cost_management_route(seen: list | None = None, gpu_only_rows: bool = False):
    """Cost Management Query (the 2025-03-01 API the client speaks; the same QueryResult shape as the 2023-03-01 examples): checks the filter and grouping the provider
    sends; answers daily rows per MeterSubCategory over two pages (the first with a nextLink)."""

    def route(req, server):
        assert req.method == "POST" and req.headers.get("authorization") == "Bearer test-token"
        body = json.loads(req.body)
        if seen is not None:
            seen.append((req.path, req.query, body))
        if not req.path.lower().startswith(f"{SCOPE}/providers/Microsoft.CostManagement/query".lower()):
            return 404, {"error": {"code": "NotFound", "message": req.path}}
        tp = body["timePeriod"]
        start, last = date.fromisoformat(tp["from"][:10]), date.fromisoformat(tp["to"][:10])
        every = days(start, last + timedelta(days=1))
        second = "$skiptoken" in req.query or "%24skiptoken" in req.path
        half = every[len(every) // 2:] if second else every[:len(every) // 2]
        groups = AZURE_GPU if gpu_only_rows else tuple(AZURE_DAILY_USD)
        rows = [[AZURE_DAILY_USD[g], int(d.strftime("%Y%m%d")), g, "USD"] for d in half for g in groups]
        link = None if second else f"{server.url}{SCOPE}/providers/Microsoft.CostManagement/query?api-version=2025-03-01&$skiptoken=AQAAAA%3D%3D"
        return 200, {"id": f"{SCOPE}/providers/Microsoft.CostManagement/query/q", "name": "q",
                     "type": "Microsoft.CostManagement/query", "location": None, "sku": None, "eTag": None,
                     "properties": {"nextLink": link,
                                    "columns": [{"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                                                {"name": "MeterSubCategory", "type": "String"}, {"name": "Currency", "type": "String"}],
                                    "rows": rows}}
    return route


class StaticToken:
    """A TokenCredential with a fixed bearer token (the protocol azure-core clients accept)."""

    def get_token(self, *scopes, **kwargs):
        from datetime import datetime, timezone

        from azure.core.credentials import AccessToken
        return AccessToken("test-token", int(datetime.now(timezone.utc).timestamp()) + 3600)


def aws_session():
    import boto3
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                         region_name="us-east-1")

