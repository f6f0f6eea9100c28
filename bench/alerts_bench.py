"""Rescan and alert benchmark: a rescan of ``--leads`` leads of which ``--changed`` moved from Google to
Microsoft 365 since their last scan, from the submit to the last webhook delivered.

A loopback DNS server (``bench/alerts_dns.py``, answers precomputed, every answer held back
``--delay-ms``) serves a generated world: each company has MX, an SPF record with includes, DMARC
with report addresses and verification TXT records. The leads are scanned once, the world is
changed (``SIGHUP``: the server switches to the precomputed second world), a webhook subscription
for ``lead.provider_changed`` is made against a receiver on 127.0.0.1, and the service behind
``POST /v1/rescans {"filter": {}}`` submits every lead. One queue worker (in this process, the
local queue on SQLite) scans the batches and delivers the alerts.

Reports the end-to-end time (submit → last delivery), rescanned leads per second, deliveries per
second (first → last delivery) and checks that exactly ``--changed`` alerts arrived, each once.

    python bench/alerts_bench.py --leads 10000 --changed 500
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.alerts_dns import moved_set  # noqa: E402
from shared import aio  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.core.inputs import InputRow  # noqa: E402
from shared.local.worker import QueueWorker  # noqa: E402
from shared.queues.hostjson import QueueOptions  # noqa: E402
from shared.runtime import Runtime, set_runtime  # noqa: E402
from shared.scan.pipeline import run_pipeline  # noqa: E402
from shared.services import rescans  # noqa: E402
from shared.services.after_scan import AfterScan  # noqa: E402
from shared.store import notifications as store  # noqa: E402
from shared.store.queries import LeadFilter  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.ids: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.ids.append(json.loads(body)["data"]["event_id"])
                receiver.times.append(time.monotonic())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=500)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument(
        "--concurrency", type=int, default=100, help="domains in flight"
    )
    args = parser.parse_args()
    moved = moved_set(args.leads, args.changed)
    workdir = Path(tempfile.mkdtemp(prefix="hunter-alerts-"))
    dns = subprocess.Popen(
        [sys.executable, "bench/alerts_dns.py", "--leads", str(args.leads), "--changed", str(args.changed),
         "--delay-ms", str(args.delay_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    _, host, port = dns.stdout.readline().split()  # type: ignore[union-attr]
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'hunter.db'}",
        dns_nameservers=[f"{host}:{port}"],
        whois_enabled=False,
        scan_concurrency=args.concurrency,
        notify_allow_private=True,
        notify_backoff_base=0.5,
        queue_retry_base=0.5,
    )
    runtime = Runtime(settings)
    set_runtime(runtime)
    try:
        started = time.monotonic()
        rows = [InputRow(f"firma{n}.com.tr", f"Firma {n} A.Ş.") for n in range(args.leads)]
        aio.run(run_pipeline(rows, settings, AfterScan(runtime)))
        print(f"seeded {args.leads} leads in {time.monotonic() - started:.1f}s")
        with runtime.engine.connect() as connection:
            from sqlalchemy import text

            statuses = dict(connection.execute(text("SELECT status, count(*) FROM leads GROUP BY status")).all())
        print(f"lead statuses after the first scan: {statuses}")
        receiver = Receiver()
        store.create_subscription(
            runtime.engine, kind="webhook", url=receiver.url, recipients=[], events=["lead.provider_changed"],
            lead_filter={}, lang="en", digest="off", secret="whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )  # fmt: skip
        dns.send_signal(signal.SIGHUP)
        assert dns.stdout.readline().strip() == "RELOADED"  # type: ignore[union-attr]

        submitted = time.monotonic()
        job = rescans.rescan(runtime, rescans.filtered_leads(runtime, LeadFilter()), submitted_by="bench")
        options = QueueOptions(batch_size=16, new_batch_threshold=8, max_dequeue_count=5, visibility_timeout=0.0)
        aio.run(QueueWorker(options=options, exit_when_idle=True, runtime=runtime).run())
        scanned = time.monotonic()
        # A worker draining for a script stops a queue's loop once that queue is empty; alerts queued by
        # the last batches are then delivered by one more pass (a long-running worker just goes on).
        while store.deliveries(runtime.engine, None, limit=1) and any(
            row.status == "queued" for row in store.deliveries(runtime.engine, None, limit=10_000)
        ):
            aio.run(QueueWorker(options=options, exit_when_idle=True, runtime=runtime).run())
        finished = time.monotonic()
        last = max(receiver.times) if receiver.times else finished
        first = min(receiver.times) if receiver.times else finished
        print(f"rescan job {job.id}: {job.unique_domains} leads")
        rate = job.unique_domains / (scanned - submitted)
        print(f"submit → last webhook: {last - submitted:.1f}s (rescan {scanned - submitted:.1f}s, {rate:.0f} leads/s)")
        spread = max(last - first, 1e-9)
        print(f"webhooks delivered: {len(receiver.ids)} ({len(receiver.ids) / spread:.0f}/s first → last)")
        unique = len(set(receiver.ids))
        with runtime.engine.connect() as connection:
            from sqlalchemy import text

            made = connection.execute(
                text("SELECT count(*) FROM notification_events WHERE type = 'lead.provider_changed'")
            ).scalar()
        # A lead whose first scan or rescan timed out at the loopback server has no move to report.
        ok = unique == len(receiver.ids) == made
        verdict = 'yes' if ok else 'NO'
        print(f"exactly once: {verdict} ({unique} delivered, {made} provider moves seen of {len(moved)} made)")
        if not ok:
            sys.exit(1)
    finally:
        set_runtime(None)
        dns.terminate()
        dns.wait(timeout=10)
        if os.environ.get("HUNTER_BENCH_KEEP") is None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
