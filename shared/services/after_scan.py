"""The one step after a scan, whatever triggered it (``POST /v1/scan``, a bulk-scan batch from the
queue, ``hunter scan``, the demo): referral facts → save → Dynamics 365 re-push → alert events → metrics.

The store receives results that are already scored: it never reaches into an integration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.core.alerts import scan_events
from shared.services.d365_push import repush_changed
from shared.services.lead_facts import rescore_with_referrals
from shared.services.notifications import publish

if TYPE_CHECKING:
    from shared.core.results import ScanResult
    from shared.runtime import Runtime
    from shared.store.leads import Guard


class AfterScan:
    """``save(results)`` for a runtime: what every scan path calls instead of the store's ``save``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def save(self, results: Sequence[ScanResult], *, guard: Guard | None = None) -> list[ScanResult]:
        """Score with referral facts, persist (``guard`` claims job items in the same transaction;
        see :meth:`LeadStore.save`), queue the synced leads whose score moved, count the scans.
        Returns what was written, with each result's change events filled in."""
        runtime = self.runtime
        rescore_with_referrals(runtime.engine, results)
        before = runtime.leads.priorities([r.record.domain for r in results if r.record.domain])
        saved = runtime.leads.save(results, guard=guard)
        repush_changed(runtime.settings, runtime.engine, saved)
        events = [
            event
            for result in saved
            for event in scan_events(result, before.get(result.record.domain), public_url=runtime.settings.public_url)
        ]
        if events:
            publish(runtime, events)  # stored once each under a stable id; deliveries go to the notifications queue
        for result in saved:
            runtime.metrics.scans.labels(result.record.status.value).inc()
        return saved
