"""Delivery: run history, scheduled email, the REST service and its browser UI, scale-out.

Modules, one job each: `settings` (configuration object), `db` (tables), `history` (record, list,
diff runs), `runner` (one report run -> history), `secrets` + `mail` + `outbox` (SMTP delivery that
survives failures), `scheduler` (cron -> exactly one run per due time), `scaleout` (process pool or
Dask), `apikeys` + `ratelimit` + `limits` + `metrics` + `hotreload` (service plumbing), `service`
(the FastAPI app factory) and `ui` (server-rendered pages).
"""
