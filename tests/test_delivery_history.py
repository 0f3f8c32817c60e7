"""Run history: real report runs recorded in SQLite, then `history list|show|diff` on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from phantom_report.reporter.delivery import history
from phantom_report.reporter.delivery.db import open_db
from phantom_report.reporter.delivery.runner import execute
from phantom_report.reporter.delivery.settings import DeliverySettings
from phantom_report.reporter.delivery.specio import parse_delivery_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SPEC = """\
title: History test
model: resnet-50
gpus: [H100-SXM, L4]
demand:
  requests_per_s: {rate}
pricing:
  offline: true
report:
  formats: [json, md]
"""


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "phantom_report", *args], capture_output=True, text=True, timeout=120)


def test_history_records_runs_and_diffs_them(tmp_path, cli_in_process):
    db = f"sqlite:///{tmp_path}/h.db"
    settings = DeliverySettings(db_url=db, reports_dir=tmp_path / "reports", offline=True)
    sessions = open_db(db)
    ids = []
    for rate in (20, 400):
        dspec = parse_delivery_spec(SPEC.format(rate=rate), filename="h.yaml")
        run_id = history.create_run(sessions, dspec.stored, "cli")
        assert execute(sessions, settings, dspec, run_id) is not None
        ids.append(run_id)
    bad = parse_delivery_spec(SPEC.format(rate=5).replace("[H100-SXM, L4]", "[H999]"), filename="bad.yaml")
    failed_id = history.create_run(sessions, bad.stored, "cli")
    assert execute(sessions, settings, bad, failed_id) is None

    listed = _cli("history", "list", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [failed_id, *reversed(ids)]
    assert rows[0]["status"] == "failed" and "H999" in rows[0]["error"]

    # the other commands through `main` in-process (`list` above ran the real entry point): the same
    # output, without an interpreter start-up each
    shown = json.loads(cli_in_process("history", "show", ids[0][:8], "--db", db).stdout)  # a unique prefix works
    assert shown["id"] == ids[0] and shown["status"] == "succeeded"
    assert shown["spec"]["workloads"][0]["demand"]["requests_per_s"] == 20
    assert shown["quotes"] and shown["payload"] and set(shown["outputs"]) >= {"json", "md"}
    assert shown["timings_s"]["total"] > 0

    diff = json.loads(cli_in_process("history", "diff", ids[0], ids[1], "--db", db, "--json").stdout)
    assert diff["prices"] == []  # the same snapshot prices
    assert diff["predictions"], "20 -> 400 req/s must change fleet sizes and costs"
    text = cli_in_process("history", "diff", ids[0], ids[1], "--db", db)
    assert text.returncode == 0 and "prices: 0 change(s)" in text.stdout

    missing = cli_in_process("history", "show", "nope", "--db", db)
    assert missing.returncode == 2 and "no run with id 'nope'" in missing.stderr
