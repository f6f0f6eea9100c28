"""OpenTelemetry (traces, metrics, logs) and optional Sentry, configured from the environment.

Which backend, by the standard variables (nothing of Hunter's own):

* ``APPLICATIONINSIGHTS_CONNECTION_STRING``: the Azure Monitor distro (``configure_azure_monitor``),
  with Entra sign-in when ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` says ``Authorization=AAD``.
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``): OTLP over HTTP/protobuf to
  any collector (Jaeger, Grafana, Datadog…); the SDK reads the other ``OTEL_*`` variables itself
  (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``,
  ``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_TRACES_SAMPLER``…). Both set:
  Azure Monitor plus the OTLP exporters.
* Neither (or ``OTEL_SDK_DISABLED=true``): nothing is configured and nothing of OpenTelemetry is even
  imported; :func:`span` hands out one shared no-op object, :func:`inject` an empty carrier.
* ``SENTRY_DSN``: Sentry error tracking besides (or without) the above; every event goes through
  :func:`scrub` (API keys, bearer tokens, webhook secrets and signatures, e-mail addresses, phone
  numbers), ``send_default_pii`` is off, local variables are not sent.

:func:`setup` runs once per process, from the trigger's first :func:`shared.runtime.get_runtime` (after
gunicorn forks, so each server process has its own exporter threads), never at import: ``import
function_app`` stays light. What is traced:

* an HTTP request: a SERVER span named by its route template (``GET /api/v1/leads/{domain}``), in
  :func:`shared.http.dispatch.dispatch`, continuing an incoming ``traceparent``;
* a queue message: a CONSUMER span (``process scan-requests``) in :func:`shared.hosts.queue_runner.invoke`,
  the child of the trace context the sender put in the message (:func:`inject`, :func:`message_context`);
* a timer run; each scanned domain of a batch (``hunter.domain``, sampled by
  ``HUNTER_TRACE_DOMAIN_SAMPLE``); outbound httpx calls (CLIENT spans, query strings dropped, a
  webhook's path hidden); SQL statements (their text, never the bound values), only inside a trace:
  a statement with no parent span (a queue poll, a lease renewal) is not recorded.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("hunter.telemetry")

TRACE_FIELDS = ("traceparent", "tracestate")  # the W3C trace context, as headers and as message fields
_KINDS = ("internal", "server", "client", "producer", "consumer")


class _NoSpan:
    """What :func:`span` yields when tracing is off: every call is a no-op."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: object) -> None:
        return None

    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        return None

    def is_recording(self) -> bool:
        return False


NO_SPAN = _NoSpan()


class _State:
    """What :func:`setup` built: the tracer, the meter and the providers to flush."""

    def __init__(self, backend: str) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.backend = backend
        self.tracer = trace.get_tracer("hunter")
        self.meter = metrics.get_meter("hunter")
        self.propagator = TraceContextTextMapPropagator()
        self.trace = trace
        self.kinds = {name: getattr(trace.SpanKind, name.upper()) for name in _KINDS}
        self.engines: weakref.WeakSet[Any] = weakref.WeakSet()
        self.engine_tracers: list[Any] = []


_state: _State | None = None
_configured = False
_sentry = False
_lock = threading.Lock()


# -- configuration ---------------------------------------------------------------------------------


def backend(environ: Mapping[str, str] | None = None) -> str | None:
    """``"azure"``, ``"otlp"``, ``"azure+otlp"`` or None (no exporter) for these environment variables."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    azure = bool(env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip())
    otlp = bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )
    if azure and otlp:
        return "azure+otlp"
    return "azure" if azure else "otlp" if otlp else None


def enabled() -> bool:
    """True once :func:`setup` configured an exporter in this process."""
    return _state is not None


def _default_role() -> str:
    """``functions`` on the Functions host; ``serve`` (the server processes) or ``worker`` locally; else ``cli``."""
    import sys

    if os.environ.get("FUNCTIONS_WORKER_RUNTIME") or os.environ.get("WEBSITE_SITE_NAME"):
        return "functions"
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "worker"):
        return sys.argv[1]
    return "cli"


def setup(role: str | None = None) -> bool:
    """Configure OpenTelemetry (and Sentry) from the environment, once per process; True when traces
    are exported. ``role`` (default: :func:`_default_role`) becomes the resource attribute ``hunter.role``."""
    global _configured, _state, _sentry
    if _configured:
        return _state is not None
    with _lock:
        if _configured:
            return _state is not None
        _configured = True
        if os.environ.get("SENTRY_DSN", "").strip():
            try:
                _setup_sentry(os.environ["SENTRY_DSN"].strip())
                _sentry = True
            except Exception as exc:  # error tracking must never stop the app
                log.warning("sentry not configured", extra={"error": type(exc).__name__})
        kind = backend()
        if kind is None:
            return False
        try:
            role = role or _default_role()
            _state = _setup_otel(kind, role)
        except Exception as exc:
            log.warning("telemetry not configured", extra={"backend": kind, "error": type(exc).__name__})
            _state = None
            return False
        log.info("telemetry configured", extra={"backend": kind, "role": role, "sentry": _sentry})
        return True


def _resource(role: str):  # type: ignore[no-untyped-def]
    from opentelemetry.sdk.resources import Resource

    from shared import __version__

    attributes = {"service.version": __version__, "hunter.role": role}
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes["service.name"] = "hunter"
    return Resource.create(attributes)  # + OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES


def _sampler():  # type: ignore[no-untyped-def]
    """ParentBased(every root except a lone SQL statement), unless ``OTEL_TRACES_SAMPLER`` chooses."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None  # the SDK reads OTEL_TRACES_SAMPLER(_ARG) itself
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult

    class NoLoneStatements(Sampler):
        """A root span is sampled unless it is a database statement: those outside any request,
        message or timer (queue polls, lease renewals, health checks of the pool) are noise."""

        def should_sample(
            self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
        ):  # type: ignore[no-untyped-def]
            if attributes and ("db.system" in attributes or "db.system.name" in attributes):
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "NoLoneStatements"

    return ParentBased(root=NoLoneStatements())


def _otlp_parts():  # type: ignore[no-untyped-def]
    """(span processor, metric reader, log record processor) exporting OTLP over HTTP/protobuf."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip()
    if protocol != "http/protobuf":
        log.warning("only OTLP over http/protobuf is installed; using it", extra={"protocol": protocol})
    return (
        BatchSpanProcessor(OTLPSpanExporter()),
        PeriodicExportingMetricReader(OTLPMetricExporter()),
        BatchLogRecordProcessor(OTLPLogExporter()),
    )


def _setup_otel(kind: str, role: str) -> _State:
    from opentelemetry import _logs, metrics, trace

    resource = _resource(role)
    spans, reader, records = _otlp_parts() if "otlp" in kind else (None, None, None)
    hunter_logger = logging.getLogger("hunter")
    if kind.startswith("azure"):
        from azure.monitor.opentelemetry import configure_azure_monitor

        options: dict[str, Any] = {
            "connection_string": os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"].strip(),
            "resource": resource,
            "logger_name": "hunter",
            # Hunter instruments httpx (with its URL redaction) and SQLAlchemy itself; psycopg2 would double
            # the statements, urllib3 the requests spans (MSAL); Django, FastAPI and Flask are not served.
            "instrumentation_options": {
                name: {"enabled": False}
                for name in ("httpx", "httpx2", "psycopg2", "urllib", "urllib3", "django", "fastapi", "flask")
            },
        }
        credential = _azure_credential()
        if credential is not None:
            options["credential"] = credential
        if spans is not None:
            options.update(span_processors=[spans], metric_readers=[reader], log_record_processors=[records])
        configure_azure_monitor(**options)
    else:
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        tracer_provider = TracerProvider(resource=resource, sampler=_sampler())
        tracer_provider.add_span_processor(spans)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(records)
        _logs.set_logger_provider(logger_provider)
        hunter_logger.addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider))
    _instrument_httpx()
    return _State(kind)


def _azure_credential():  # type: ignore[no-untyped-def]
    """The managed identity, when App Insights takes Entra sign-in only (``Authorization=AAD;ClientId=…``)."""
    text = os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    client_id = parts.get("ClientId")
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


# -- outbound HTTP and SQL ---------------------------------------------------------------------------


def _client_url(span: Any, request: Any) -> None:
    """A client span's URL without its query (OData filters, tokens); a webhook (sent to a checked
    address with the host name as SNI) keeps scheme and host only: Slack and Teams URLs are secrets."""
    try:
        url = request[1]  # an httpx.URL (a tuple of bytes from an httpcore-level call)
        if isinstance(url, tuple):
            scheme, host, port, target = (p.decode() if isinstance(p, bytes) else p for p in url)
            path = str(target).split("?", 1)[0]
        else:
            scheme, host, port, path = url.scheme, url.host, url.port, url.path
        sni = (request[4] or {}).get("sni_hostname")
        if isinstance(sni, bytes):
            sni = sni.decode()
        authority = f"{sni or host}{f':{port}' if port else ''}"
        path = "/…" if sni else path
        full = f"{scheme}://{authority}{path}"
        span.set_attribute("url.full", full)
        span.set_attribute("http.url", full)
        if sni:
            span.set_attribute("server.address", sni)
            span.set_attribute("hunter.webhook", True)
    except Exception:  # a hook must never fail a request
        span.set_attribute("url.full", "redacted")


async def _client_url_async(span: Any, request: Any) -> None:
    _client_url(span, request)


def _instrument_httpx() -> None:
    """CLIENT spans for every httpx client (Dataverse, Partner Center, webhooks), W3C context injected."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(request_hook=_client_url, async_request_hook=_client_url_async)


class _NoCounter:
    def add(self, *args: Any, **kwargs: Any) -> None:
        return None


def instrument_engine(engine: Any) -> None:
    """Spans for the SQL statements of ``engine`` (text only, never the bound values); once per engine."""
    state = _state
    if state is None or engine in state.engines:
        return
    with _lock:
        if engine in state.engines:
            return
        from opentelemetry.instrumentation.sqlalchemy import EngineTracer
        from opentelemetry.trace import get_tracer

        # No pool-usage metric: it costs two measurements per checkout (a third of tracing's CPU per request).
        state.engine_tracers.append(
            EngineTracer(get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, _NoCounter())
        )
        state.engines.add(engine)


# -- spans ---------------------------------------------------------------------------------------------


def span(
    name: str,
    *,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Mapping[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    """A context manager for a span made current (``with span("…") as s: s.set_attribute(…)``);
    ``parent``: a W3C carrier (``traceparent``/``tracestate``) to continue. A no-op when off."""
    state = _state
    if state is None:
        return NO_SPAN
    context = state.propagator.extract(parent) if parent else None
    return state.tracer.start_as_current_span(
        name,
        context=context,
        kind=state.kinds[kind],
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
        # Exception texts can carry SQL or input data: callers record the type (failed()), never the text.
        record_exception=False,
        set_status_on_exception=False,
    )


def timer_span(name: str, *, past_due: bool = False):  # type: ignore[no-untyped-def]
    """The span of one timer run (the Azure glue and the local worker)."""
    attributes = {"faas.trigger": "timer", "faas.name": name, "hunter.timer.past_due": past_due}
    return span(f"timer {name}", attributes=attributes if _state is not None else None)


def failed(current: Any, error: BaseException | str) -> None:
    """Mark a span failed with the error's type (never its text)."""
    state = _state
    if state is None or not current.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    name = error if isinstance(error, str) else type(error).__name__
    current.set_attribute("error.type", name)
    current.set_status(Status(StatusCode.ERROR, name))


def inject() -> dict[str, str]:
    """The current trace context as ``{"traceparent": …, "tracestate": …}`` (empty when off or outside a span)."""
    state = _state
    if state is None:
        return {}
    carrier: dict[str, str] = {}
    state.propagator.inject(carrier)
    return carrier


def message_context(body: str) -> dict[str, str] | None:
    """The trace context a queue message carries (its ``traceparent``/``tracestate`` fields), if any."""
    if _state is None or '"traceparent"' not in body:
        return None
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("traceparent"), str):
        return None
    return {k: data[k] for k in TRACE_FIELDS if isinstance(data.get(k), str)}


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the span in progress, for the JSON log lines; None when none."""
    state = _state
    if state is None:
        return None
    context = state.trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def sampled(key: str, rate: float) -> bool:
    """Whether ``key`` (a domain) gets its own span at ``rate`` (0..1): the same answer for the same key,
    so a domain is traced in every batch or in none."""
    return _state is not None and in_sample(key, rate)


def in_sample(key: str, rate: float) -> bool:
    """``key``'s fixed place in a ``rate`` sample (by CRC-32)."""
    if rate <= 0:
        return False
    return rate >= 1 or zlib.crc32(key.encode("utf-8")) < rate * 2**32


def meter():  # type: ignore[no-untyped-def]
    """The OpenTelemetry meter, or None when off (:mod:`shared.metrics` records to both)."""
    return _state.meter if _state is not None else None


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered now (a process about to exit; a test)."""
    if _state is None:
        return
    from opentelemetry import _logs, metrics, trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            try:
                force_flush(timeout_ms)
            except Exception as exc:
                log.warning("telemetry flush failed", extra={"error": type(exc).__name__})


@contextmanager
def flushed() -> Iterator[None]:
    """Flush on the way out (a worker process's run)."""
    try:
        yield
    finally:
        flush()


# -- Sentry ------------------------------------------------------------------------------------------

FILTERED = "[Filtered]"
_SENSITIVE_NAMES = re.compile(
    r"(?i)^(x-api-key|api[-_]?key|authorization|proxy-authorization|cookie|set-cookie|webhook-signature|"
    r"x-hub-signature(-256)?|.*secret.*|.*password.*|.*passwd.*|.*token.*|dsn|.*connection[-_]?string.*|"
    r"email|e-mail|mail|phone|telephone|mobile|msisdn|user|ip_address)$"
)
_SECRET_PATTERNS = (
    re.compile(r"\bhunter_[A-Za-z0-9]{1,16}_[A-Za-z0-9_\-]{8,}"),  # Hunter API keys (shared.store.keys)
    re.compile(r"\bhk_[A-Za-z0-9_\-]{8,}"),  # the previous system's keys
    re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]{8,}"),  # webhook signing secrets (shared.core.notify)
    re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"),  # webhook signatures
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"),
    re.compile(r"(?i)\b(sig|signature|client_secret|access_token|refresh_token|api_key|apikey)=[^&\s\"']+"),
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONES = (
    re.compile(r"(?<![\w.:/-])(?:\+|00)[1-9]\d{0,2}(?:[\s.\-]?\(?\d{1,4}\)?){2,5}(?![\w.:/-])"),  # +90 532 123 45 67
    re.compile(r"(?<![\w.:/-])\(?0\d{3}\)?[\s.\-]?\d{3}[\s.\-]?\d{2}[\s.\-]?\d{2}(?![\w.:/-])"),  # 0532 123 45 67
)
_QUIET_MODULES = ("sqlalchemy", "pg8000", "psycopg", "sqlite3")  # their texts quote SQL and bound values


def scrub_text(text: str) -> str:
    """``text`` with keys, secrets, signatures, e-mail addresses and phone numbers replaced."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(FILTERED, text)
    text = _EMAIL.sub("[email]", text)
    for pattern in _PHONES:
        text = pattern.sub("[phone]", text)
    return text


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if isinstance(key, str) and _SENSITIVE_NAMES.match(key) else _scrub(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = list(value)
        if len(items) == 2 and isinstance(items[0], str) and _SENSITIVE_NAMES.match(items[0]):
            return [items[0], FILTERED]  # a header as a [name, value] pair
        return [_scrub(item, depth + 1) for item in items]
    return value


def scrub(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """Sentry's ``before_send``: no API key, bearer token, webhook secret or signature, e-mail address,
    phone number, cookie or user leaves the process; a database error keeps its type, not its text."""
    event = dict(event)
    event.pop("user", None)
    for entry in (event.get("exception") or {}).get("values") or []:
        module = str(entry.get("module") or "")
        if module.startswith(_QUIET_MODULES):
            entry["value"] = entry.get("type") or "database error"
    request = event.get("request")
    if isinstance(request, dict):
        request = dict(request)
        for field in ("cookies", "data"):
            if request.get(field):
                request[field] = FILTERED
        event["request"] = request
    return _scrub(event)


def _setup_sentry(dsn: str, **options: Any) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    from shared import __version__

    sentry_sdk.init(
        dsn=dsn,
        release=f"hunter@{__version__}",
        environment=os.environ.get("SENTRY_ENVIRONMENT") or None,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,
        before_breadcrumb=lambda crumb, hint: _scrub(crumb),
        traces_sample_rate=None,  # traces go through OpenTelemetry
        auto_enabling_integrations=False,  # no Flask/httpx/SQLAlchemy hooks: breadcrumbs from the logs only
        trace_propagation_targets=[],  # no sentry-trace headers on outbound calls (webhooks)
        # Log lines are breadcrumbs; events come from capture() (shared.logs.log_failure), once each.
        integrations=[LoggingIntegration(level=logging.INFO, event_level=None)],
        **options,  # the tests' transport
    )


def capture(error: BaseException, **tags: str) -> None:
    """Report ``error`` to Sentry when configured (scrubbed by :func:`scrub`), ``tags`` such as its error id."""
    if not _sentry:
        return
    try:
        import sentry_sdk

        sentry_sdk.capture_exception(error, tags={k: v for k, v in tags.items() if v is not None})
    except Exception:  # pragma: no cover - error tracking never raises into the app
        pass
