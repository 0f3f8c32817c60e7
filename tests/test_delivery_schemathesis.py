"""Property-based requests generated from the service's published OpenAPI schema (schemathesis),
bounded in examples per operation and in time: no input may produce a server error."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from devserver import create_key, start_server  # noqa: E402

pytestmark = [pytest.mark.heavy, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    work = tmp_path_factory.mktemp("st")
    db = f"sqlite:///{work}/history.db"
    key = create_key(db, "fuzz")
    srv = start_server(work, db, "--rate-limit", "100000", "--offline", "--scheduler-interval", "0",
                       "--workers", "1")
    yield srv, key
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(service):
    srv, _key = service
    return schemathesis.openapi.from_url(srv.base_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, service):
    srv, key = service
    case.call_and_validate(base_url=srv.base_url, headers={"Authorization": f"Bearer {key}"},
                           checks=[schemathesis.checks.not_a_server_error], timeout=60)
