"""The composition root: the one place that builds Hunter's long-lived parts from the settings.

Every trigger (an HTTP request on Azure or in the local runner, a queue message, a timer, a CLI
command) gets a :class:`Runtime` and hands it down explicitly; handlers never build an engine,
a queue or a cache of their own. Each part is built on first use, so ``import function_app`` and
a health probe stay light, and tests swap the whole runtime with :func:`set_runtime`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.metrics import Metrics
    from shared.queues import Queue
    from shared.redis.cache import Cache
    from shared.redis.limits import FailedAuthLimiter, RateLimiter
    from shared.store.jobs import JobStore
    from shared.store.keys import ApiKeyStore
    from shared.store.leads import LeadStore


@dataclass
class Runtime:
    """Settings plus the adapters built from them, once per process."""

    settings: Settings
    started_at: float = field(default_factory=time.monotonic)

    @cached_property
    def engine(self) -> Engine:
        from shared import telemetry
        from shared.store.db import engine_for

        engine = engine_for(self.settings.database_url, auto_migrate=self.settings.auto_migrate)
        telemetry.instrument_engine(engine)  # statement spans when telemetry is on (a no-op otherwise)
        return engine

    @cached_property
    def leads(self) -> LeadStore:
        """Leads, snapshots and change events; reads go to the read engine (see ``db.read_engine_for``)."""
        from shared import telemetry
        from shared.store.db import read_engine_for
        from shared.store.leads import LeadStore

        reads = read_engine_for(self.settings.database_url, auto_migrate=self.settings.auto_migrate)
        telemetry.instrument_engine(reads)
        return LeadStore(self.engine, reads=reads)

    @cached_property
    def jobs(self) -> JobStore:
        from shared.store.jobs import JobStore

        return JobStore(self.engine)

    @cached_property
    def keys(self) -> ApiKeyStore:
        from shared.store.keys import ApiKeyStore

        return ApiKeyStore(self.engine)

    @cached_property
    def limiter(self) -> RateLimiter:
        from shared.redis.limits import RateLimiter, buckets_for

        return RateLimiter(buckets_for(self.settings))

    @cached_property
    def auth_failures(self) -> FailedAuthLimiter:
        """Wrong API keys per client address and key id (shares the rate limiter's buckets)."""
        from shared.redis.limits import FailedAuthLimiter, buckets_for

        return FailedAuthLimiter(buckets_for(self.settings), failures=self.settings.auth_failures_per_minute)

    @cached_property
    def scan_cache(self) -> Cache:
        """Recent scan results by domain (Redis when configured; rescans replace them)."""
        from shared.redis.cache import new_cache

        return new_cache(self.settings, "scan")

    @cached_property
    def redis(self):  # type: ignore[no-untyped-def]
        from shared.redis.connection import connection_for

        return connection_for(self.settings)

    @cached_property
    def metrics(self) -> Metrics:
        from shared.metrics import Metrics

        return Metrics()

    def queue(self, name: str) -> Queue:
        """The queue ``name`` on the configured backend (the local backend lives in this runtime's database)."""
        from shared.queues import open_queue

        return open_queue(name, self.settings, self.engine)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime, built from the environment on first use (triggers call this, nothing deeper)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                from shared import logs, telemetry

                settings = get_settings()
                logs.configure(settings.log_level)
                telemetry.setup()  # OpenTelemetry and Sentry when the environment configures them (after a fork)
                _runtime = Runtime(settings)
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime built elsewhere (the tests, the CLI with its own settings); None resets."""
    global _runtime
    _runtime = runtime
