"""Scan one input file with several worker processes.

One scanner process saturates one core at roughly 500 domains/s. ``hunter scan --workers N``
(by default one per core for a text file of 1,000+ rows)
starts N processes that each read the same file and keep the rows whose domain hashes to
them, so every domain belongs to exactly one worker: duplicates still collapse (they hash
alike), each worker runs the ordinary bounded pipeline and writes its own batches, and the
parent only prints what the workers send back (JSON lines) and draws the progress bar.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from queue import Empty

from shared.config import Settings
from shared.scan.pipeline import RunSummary

_BATCH = 50


def _worker(
    path: str, column: str | None, settings_json: str, shard: tuple[int, int], save: bool, results: mp.Queue
) -> None:
    from shared import aio
    from shared.core.inputs import read_file
    from shared.core.results import result_line
    from shared.runtime import Runtime
    from shared.scan.gc_tuning import tune_for_bulk_scan
    from shared.scan.pipeline import run_pipeline
    from shared.services.after_scan import AfterScan

    settings = Settings.model_validate_json(settings_json)
    store = AfterScan(Runtime(settings)) if save else None
    tune_for_bulk_scan()
    buffer: list[str] = []

    def on_result(result) -> None:
        buffer.append(result_line(result))
        if len(buffer) >= _BATCH:
            results.put(("rows", buffer.copy()))
            buffer.clear()

    try:
        summary = aio.run(run_pipeline(read_file(path, column), settings, store, on_result, shard=shard))
    except Exception as exc:  # reported by the parent, which owns the terminal
        results.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    if buffer:
        results.put(("rows", buffer))
    results.put(("done", asdict(summary)))


def scan_file_in_workers(
    path: Path, column: str | None, settings: Settings, workers: int, save: bool, on_line: Callable[[str], None]
) -> RunSummary:
    """Run ``workers`` processes over ``path``; ``on_line`` gets each result as a JSON line."""
    if save:  # migrate once, before the workers race to do it
        from shared.store.db import engine_for

        engine_for(settings.database_url, auto_migrate=settings.auto_migrate)
    ctx = mp.get_context("spawn")  # a clean interpreter per worker: no inherited loops or threads
    results: mp.Queue = ctx.Queue(maxsize=workers * 64)
    processes = [
        ctx.Process(
            target=_worker,
            args=(str(path), column, settings.model_dump_json(), (k, workers), save, results),
            daemon=True,
        )
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    total = RunSummary()
    finished = 0
    try:
        while finished < workers:
            try:
                kind, payload = results.get(timeout=1.0)
            except Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a scan worker died (exit code {dead[0].exitcode})") from None
                continue
            if kind == "rows":
                for line in payload:
                    on_line(line)
            elif kind == "done":
                finished += 1
                _add(total, RunSummary(**payload))
            else:
                raise RuntimeError(payload)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=10)
    return total


def _add(total: RunSummary, part: RunSummary) -> None:
    total.total += part.total
    total.scanned += part.scanned
    total.invalid += part.invalid
    total.duplicates += part.duplicates
    total.elapsed = max(total.elapsed, part.elapsed)
    total.latencies_ms.extend(part.latencies_ms)
    total.dns_queries += part.dns_queries
    total.dns_cache_hits += part.dns_cache_hits
    for status, count in part.by_status.items():
        total.by_status[status] = total.by_status.get(status, 0) + count
