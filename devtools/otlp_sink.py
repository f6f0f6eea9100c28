"""An OTLP/HTTP receiver on loopback: what a collector (Jaeger, Grafana Alloy, the OpenTelemetry
Collector) would receive from Hunter, decoded with ``opentelemetry-proto`` for the tests.

``OtlpSink().start()`` listens on 127.0.0.1 (a free port); point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at
``sink.endpoint``. ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs`` (protobuf, gzip or not) are
answered 200 and, with ``decode`` on, kept as plain dicts: :meth:`spans`, :meth:`logs`,
:meth:`metric_names`. ``python -m devtools.otlp_sink [port]`` runs one that only counts (the API bench).
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind == "array_value":
        return [_value(v) for v in value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.values}
    return value


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


class OtlpSink:
    def __init__(self, *, decode: bool = True) -> None:
        self.decode = decode
        self.lock = threading.Lock()
        self._spans: list[dict[str, Any]] = []
        self._logs: list[dict[str, Any]] = []
        self._metrics: list[dict[str, Any]] = []
        self.requests: dict[str, int] = {"traces": 0, "metrics": 0, "logs": 0}
        self.other: list[tuple[str, bytes]] = []  # (last path segment, body) of any other POST
        self.bytes = 0
        self.server: ThreadingHTTPServer | None = None

    # -- the server ----------------------------------------------------------------------------------

    def start(self, port: int = 0) -> OtlpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                signal = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                try:
                    sink._receive(signal, body)
                except Exception as exc:  # a malformed export is a 400, as a collector answers
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(str(exc).encode())
                    return
                answer = b""
                if signal == "track":  # Application Insights wants its TrackResponse
                    answer = b'{"itemsReceived": 0, "itemsAccepted": 0, "errors": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if answer else "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:  # quiet
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="otlp-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self, **extra: str) -> dict[str, str]:
        """The variables that send a Hunter process's telemetry here, exported quickly."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            **extra,
        }

    # -- decoding ------------------------------------------------------------------------------------

    def _receive(self, signal: str, body: bytes) -> None:
        with self.lock:
            self.requests[signal] = self.requests.get(signal, 0) + 1
            self.bytes += len(body)
        if not self.decode:
            return
        if signal not in ("traces", "logs", "metrics"):  # another protocol (Application Insights' /v2.1/track)
            with self.lock:
                self.other.append((signal, body))
            return
        if signal == "traces":
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

            request = ExportTraceServiceRequest.FromString(body)
            found = [
                {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "attributes": _attributes(span.attributes),
                    "status": span.status.code,
                    "resource": _attributes(resource.resource.attributes),
                    "scope": scope.scope.name,
                }
                for resource in request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]
            with self.lock:
                self._spans.extend(found)
        elif signal == "logs":
            from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

            request = ExportLogsServiceRequest.FromString(body)
            records = [
                {
                    "trace_id": record.trace_id.hex(),
                    "span_id": record.span_id.hex(),
                    "body": _value(record.body),
                    "severity": record.severity_text,
                    "attributes": _attributes(record.attributes),
                    "resource": _attributes(resource.resource.attributes),
                }
                for resource in request.resource_logs
                for scope in resource.scope_logs
                for record in scope.log_records
            ]
            with self.lock:
                self._logs.extend(records)
        elif signal == "metrics":
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

            request = ExportMetricsServiceRequest.FromString(body)
            metrics = [
                {
                    "name": metric.name,
                    "kind": metric.WhichOneof("data"),
                    "resource": _attributes(resource.resource.attributes),
                }
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            ]
            with self.lock:
                self._metrics.extend(metrics)

    def spans(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._spans)

    def logs(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._logs)

    def metric_names(self) -> set[str]:
        with self.lock:
            return {m["name"] for m in self._metrics}

    def wait_for(self, ready: Callable[[OtlpSink], bool], timeout: float = 20.0) -> bool:
        """Poll until ``ready(self)`` (exports arrive every few hundred ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(self):
                return True
            time.sleep(0.1)
        return ready(self)


if __name__ == "__main__":  # a counting sink for the bench: python -m devtools.otlp_sink [port]
    sink = OtlpSink(decode=False).start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(sink.endpoint, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print(sink.requests, sink.bytes, flush=True)
