"""One immutable settings object handed to every delivery component (no module-level state).

Values come from arguments, else `PHANTOM_*` environment variables, else defaults. The history
database defaults to SQLite in the working directory; any SQLAlchemy URL (``postgresql+psycopg://``)
works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from phantom_report.vocab import REPORT_FORMATS

DEFAULT_DB_URL = "sqlite:///phantom-history.db"


@dataclass(frozen=True)
class DeliverySettings:
    """Settings of the service, the scheduler and `schedule run-due`: database URL, directories,
    worker pool, limits (requests per minute, bytes, grid points), retry timing in seconds and auth."""

    db_url: str = DEFAULT_DB_URL
    reports_dir: Path = Path("reports")  # run outputs land in reports_dir/<run id>/
    profiles_dir: Path | None = None  # user GPU profiles (hot-reloaded by the service)
    templates_dir: Path | None = None  # user report templates (read fresh by every run)
    secrets_file: Path | None = None  # NAME=value lines; SMTP passwords when not in the env
    offline: bool | None = None  # passed to run_report / get_quotes
    formats: tuple[str, ...] = REPORT_FORMATS
    # service
    workers: int = 2  # report renders run in this many worker processes
    executor: str = "local"  # local | dask
    dask_address: str | None = None
    rate_limit_per_min: int = 120  # per API key; burst = the same number
    max_request_bytes: int = 1_000_000
    require_auth: bool = True
    scheduler_interval_s: float = 30.0  # 0 disables the in-service scheduler loop
    max_grid_points: int = 5000
    run_timeout_s: float = 1800.0  # a report worker running longer is stopped and the run failed
    spec_check_timeout_s: float = 10.0  # validating a posted spec longer than this -> 422
    spec_check_slots: int = 4  # posted specs validated at once; more wait for a 503 + Retry-After
    # /docs, /openapi.json and /metrics without a key; `serve` opens them only on loopback addresses
    public_docs: bool = False
    public_metrics: bool = False
    invalid_key_rate_per_min: int = 30  # failed authentications per client address
    session_ttl_s: float = 12 * 3600.0  # browser login sessions
    # outbox backoff: base * 2**attempts, capped
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    smtp_timeout_s: float = 20.0
    webhook_timeout_s: float = 10.0  # connect/read/write limit of each alert webhook request
    # alert webhooks to loopback/private/link-local hosts: off, so a spec cannot aim the server at
    # its own network (SSRF); an operator with an in-house receiver turns it on
    webhook_private_hosts: bool = False

    @property
    def state_dir(self) -> Path:
        """Service-owned files (last good profile snapshots) live next to the run outputs."""
        return Path(self.reports_dir) / ".service"

    @classmethod
    def from_env(cls, **overrides) -> "DeliverySettings":
        """Settings from the PHANTOM_* environment variables, then ``overrides`` (keyword = field name)
        where not None: an option given on the command line beats the environment."""
        env = os.environ
        base = cls(
            db_url=env.get("PHANTOM_DB_URL", DEFAULT_DB_URL),
            reports_dir=Path(env.get("PHANTOM_REPORTS_DIR", "reports")),
            profiles_dir=Path(env["PHANTOM_PROFILES"]) if env.get("PHANTOM_PROFILES") else None,
            templates_dir=Path(env["PHANTOM_TEMPLATES"]) if env.get("PHANTOM_TEMPLATES") else None,
            secrets_file=Path(env["PHANTOM_SECRETS_FILE"]) if env.get("PHANTOM_SECRETS_FILE") else None,
            offline=_env_bool(env.get("PHANTOM_OFFLINE")),
            webhook_private_hosts=bool(_env_bool(env.get("PHANTOM_WEBHOOK_PRIVATE_HOSTS"))),
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _env_bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}
