"""Prometheus metrics for ``/api/healthz/metrics``.

In one process (an Azure Functions worker, a test) the registry is that process's own. ``hunter
serve`` runs several server processes and queue workers; it points ``PROMETHEUS_MULTIPROC_DIR`` at
a fresh directory before they start, every process then writes its counters to its own file there
(prometheus_client's multiprocess mode), and a scrape answered by any process adds them all up.

The queue gauges (length, poison length, age of the oldest poison message) are read from the
queues when ``/api/healthz/metrics`` is scraped (``shared.api.health.metrics``), by whichever
process answers; across processes the most recent reading wins. Alert on
``hunter_queue_poison_messages > 0``: a poison message waits for an operator (it never expires on
Azure or locally; SQS deletes it 14 days after it was first sent).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class QueueReading(Protocol):
    """What the queue gauges need of one queue (``shared.services.queue_ops.QueueStats``)."""

    name: str
    length: int
    poison_length: int
    poison_oldest_age_seconds: float | None


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
        queue_gauge = {"labelnames": ["queue"], "registry": self.registry, "multiprocess_mode": "mostrecent"}
        self.queue_messages = Gauge(
            "hunter_queue_messages", "Messages on a queue (visible, in flight and delayed)", **queue_gauge
        )
        self.queue_poison_messages = Gauge(
            "hunter_queue_poison_messages", "Messages on a queue's -poison queue (awaiting an operator)", **queue_gauge
        )
        self.queue_poison_oldest_age = Gauge(
            "hunter_queue_poison_oldest_age_seconds",
            "Age of the oldest visible poison message (0 when none)",
            **queue_gauge,
        )
        self.queue_stats_ok = Gauge(
            "hunter_queue_stats_ok",
            "1 when the queue gauges were read at this scrape, 0 when the queues could not be read",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def set_queues(self, readings: Iterable[QueueReading] | None) -> None:
        """The queue gauges from one reading of every queue; None when the queues could not be read
        (the gauges keep their last values and ``hunter_queue_stats_ok`` drops to 0)."""
        if readings is None:
            self.queue_stats_ok.set(0)
            return
        for reading in readings:
            self.queue_messages.labels(reading.name).set(reading.length)
            self.queue_poison_messages.labels(reading.name).set(reading.poison_length)
            self.queue_poison_oldest_age.labels(reading.name).set(reading.poison_oldest_age_seconds or 0.0)
        self.queue_stats_ok.set(1)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
