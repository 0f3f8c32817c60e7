"""Delivery: run history, scheduled email, the REST service and its browser UI, scale-out.

Modules, one job each: `settings` (configuration object), `db` (tables), `history` (record, list,
diff runs), `runner` (one report run -> history), `secrets` + `mail` + `outbox` (SMTP delivery that
survives failures), `mailcheck` (header-safe subjects, RFC 5322 addresses, no AUTH without TLS),
`lease` (owner + heartbeat of a running row, so a dead owner is noticed), `scheduler` (cron ->
exactly one run per due time, failures isolated and retried), `scaleout` (process pool or
Dask), `apikeys` + `ratelimit` + `limits` + `metrics` + `hotreload` (service plumbing), `service`
(the FastAPI app factory) and `ui` (server-rendered pages).
"""
