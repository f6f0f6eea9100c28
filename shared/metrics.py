"""Prometheus metrics for ``/api/healthz/metrics``.

In one process (an Azure Functions worker, a test) the registry is that process's own. ``hunter
serve`` runs several server processes and queue workers; it points ``PROMETHEUS_MULTIPROC_DIR`` at
a fresh directory before they start, every process then writes its counters to its own file there
(prometheus_client's multiprocess mode), and a scrape answered by any process adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hunter_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "hunter_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.scans = Counter(
            "hunter_scans_total", "Domains scanned through the API", ["status"], registry=self.registry
        )
        self.dns_queries = Counter("hunter_dns_queries_total", "DNS queries sent", registry=self.registry)
        self.dns_cache_hits = Counter(
            "hunter_dns_cache_hits_total", "DNS answers served from cache", registry=self.registry
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
