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

With OpenTelemetry on (:mod:`shared.telemetry`) the same figures are OpenTelemetry instruments too,
recorded in the same call (:func:`_instruments`); Prometheus stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from shared import telemetry

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _Mirrored:
    """A Prometheus counter and its OpenTelemetry counter, counted together (``labels(…).inc(n)``, ``inc(n)``);
    anything else is the Prometheus metric's."""

    def __init__(self, metric: Any, instrument: Any, labelnames: tuple[str, ...] = (), values: tuple[str, ...] = ()):
        self._metric = metric
        self._instrument = instrument
        self._labelnames = labelnames
        self._attributes = dict(zip(labelnames, values, strict=False))

    def labels(self, *values: str, **named: str) -> _Mirrored:
        if named:  # Prometheus' keyword form: the metric's own label names, in its order
            values = tuple(named[name] for name in self._metric._labelnames)
        return _Mirrored(self._metric.labels(*values), self._instrument, self._labelnames, tuple(map(str, values)))

    def inc(self, amount: float = 1) -> None:
        self._metric.inc(amount)
        self._instrument.add(amount, self._attributes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metric, name)


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
        self.d365_pushes = Counter(
            "hunter_d365_pushes_total",
            "Dynamics 365 pushes by outcome (synced, retry, failed, disabled)",
            ["outcome"],
            registry=self.registry,
        )
        self._otel = _instruments(self) if telemetry.enabled() else None

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if self._otel is not None:
            self._otel["latency"].record(
                seconds, {"hunter.route": route, "http.request.method": method, "http.response.status_code": status}
            )

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
            if self._otel is not None:
                queue = {"messaging.destination.name": reading.name}
                self._otel["queue_messages"].set(reading.length, queue)
                self._otel["queue_poison_messages"].set(reading.poison_length, queue)
                self._otel["queue_poison_oldest_age"].set(reading.poison_oldest_age_seconds or 0.0, queue)
        self.queue_stats_ok.set(1)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _instruments(metrics: Metrics) -> dict[str, Any]:
    """With OpenTelemetry on: the same figures as OpenTelemetry instruments. The counters become
    :class:`_Mirrored` (one ``inc`` counts in both); the histogram and the gauges are recorded beside
    the Prometheus ones in :meth:`Metrics.observe` and :meth:`Metrics.set_queues`. The request
    counter is the histogram's count (same attributes), not a second instrument."""
    meter = telemetry.meter()
    counters = {
        "scans": ("hunter.scans", "Domains scanned", ("status",)),
        "dns_queries": ("hunter.dns.queries", "DNS queries sent", ()),
        "dns_cache_hits": ("hunter.dns.cache_hits", "DNS answers served from cache", ()),
        "d365_pushes": ("hunter.d365.pushes", "Dynamics 365 pushes by outcome", ("outcome",)),
    }
    for attribute, (name, description, labels) in counters.items():
        instrument = meter.create_counter(name, unit="1", description=description)
        setattr(metrics, attribute, _Mirrored(getattr(metrics, attribute), instrument, labels))
    return {
        "latency": meter.create_histogram(
            "hunter.http.request.duration",
            unit="s",
            description="HTTP request latency",
            explicit_bucket_boundaries_advisory=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        ),
        "queue_messages": meter.create_gauge("hunter.queue.messages", description="Messages on a queue"),
        "queue_poison_messages": meter.create_gauge(
            "hunter.queue.poison_messages", description="Messages on a queue's -poison queue"
        ),
        "queue_poison_oldest_age": meter.create_gauge(
            "hunter.queue.poison_oldest_age", unit="s", description="Age of the oldest poison message"
        ),
    }
