"""Garbage-collector settings for a process that scans in bulk (``hunter scan``, its workers, the queue worker).

A bulk scan allocates millions of short-lived objects (DNS answers, records, SQL parameters) while
it keeps a large DNS answer cache alive: with CPython's default thresholds (700, 10, 10) the cyclic
collector runs thousands of times a minute and walks that cache on every full collection — about a
quarter of the scanner's CPU (2.0 → 1.5 ms per domain measured without the store). The objects alive
once the process has started (modules, settings, the data files) are frozen out of collection and
the thresholds raised; reference cycles are still collected, only less often.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)  # hunter scan: measured on bench/scan_bench.py (3.3 -> 2.3 ms per domain)
# The queue worker's, measured on bench/bulk_bench.py in an earlier round; one bench run should decide
# whether it can take the bulk-scan thresholds too.
WORKER_THRESHOLDS = (20_000, 20, 20)


def tune_for_bulk_scan(thresholds: tuple[int, int, int] = THRESHOLDS) -> None:
    gc.freeze()
    gc.set_threshold(*thresholds)
