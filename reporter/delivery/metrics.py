"""Prometheus metrics in a registry owned by one app (no process-global registry, so two apps in a
test do not collide). Counts that live in the database (runs by status, price fallbacks, outbox
depth) are read at scrape time, so they are right even when runs finish in other processes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy.orm import sessionmaker

from . import history, outbox


class _DbCollector:
    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def collect(self):
        runs = CounterMetricFamily("phantom_report_runs", "Report runs by final or current status", labels=["status"])
        counts = history.count_by_status(self._sessions)
        for status in ("queued", "running", "succeeded", "failed"):
            runs.add_metric([status], counts.get(status, 0))
        yield runs
        failures = CounterMetricFamily("phantom_report_run_failures", "Report runs that failed")
        failures.add_metric([], counts.get("failed", 0))
        yield failures
        fallbacks = CounterMetricFamily("phantom_price_fetch_fallbacks",
                                        "Price quotes used by runs that came from cache or snapshot instead of live")
        fallbacks.add_metric([], history.total_price_fallbacks(self._sessions))
        yield fallbacks
        depth = GaugeMetricFamily("phantom_email_outbox_depth", "Emails waiting in the outbox")
        depth.add_metric([], outbox.pending_count(self._sessions))
        yield depth


class ServiceMetrics:
    """The service's Prometheus metrics (own registry): HTTP requests by route and status, 429s, run
    durations in seconds, and run/outbox gauges read from the history database at scrape time."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("phantom_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.rate_limited = Counter("phantom_http_rate_limited", "Requests refused with 429", registry=self.registry)
        self.run_duration = Histogram("phantom_report_run_duration_seconds", "Wall time of report runs",
                                      buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600), registry=self.registry)
        self.registry.register(_DbCollector(sessions))


class RequestCounter:
    """ASGI middleware counting HTTP requests by method, route template and status in
    `ServiceMetrics.requests`. Plain ASGI rather than `@app.middleware("http")`: Starlette's
    BaseHTTPMiddleware runs every request through a task group and memory streams, which cost more
    than a cached prediction itself. A request that raises is counted as a 500."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # the router writes the matched route into this same scope dict
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
