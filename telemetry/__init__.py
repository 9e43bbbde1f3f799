"""What a running process tells its operators: Prometheus metrics (:mod:`telemetry.metrics`),
figures read when scraped (:mod:`telemetry.collectors`) and the ops listener serving them with
``/healthz`` and ``/readyz`` (:mod:`telemetry.server`).

It imports the standard library and ``prometheus_client`` only, so the adapters, the consumers,
the scheduler and the console may all record into it; the domain and the services never do.
"""
