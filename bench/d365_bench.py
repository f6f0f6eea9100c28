"""Dynamics 365 push benchmark: 2,000 leads through the ``d365-push`` queue into a throttling Dataverse.

The Dataverse and identity stand-ins (``devtools.msstandins``) run in this process over
HTTPS on 127.0.0.1, answering every request after ``--latency-ms`` (50) and a share
``--throttle`` (5 %) of them with 429 and ``Retry-After: 1``. Leads are seeded straight into a
fresh SQLite database, queued with ``hunter d365 push``'s code, and pushed by ``--workers``
``hunter worker`` processes. Reports leads/s, the Dataverse leads created (must equal the leads
pushed: zero duplicates, zero missing) and the requests that arrived inside an open Retry-After
window (must be 0).

    python bench/d365_bench.py --leads 2000 --workers 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_bench import seed  # noqa: E402

from devtools.msstandins import start_standins  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.integrations.d365.mapping import BUNDLED  # noqa: E402
from shared.queues import open_queue  # noqa: E402
from shared.services.d365_push import D365_QUEUE, enqueue_pushes  # noqa: E402
from shared.store.db import engine_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="hunter worker processes")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--throttle", type=float, default=0.05, help="share of requests answered 429")
    args = parser.parse_args()

    with start_standins(d365_mapping=BUNDLED) as ms:
        ms.dataverse.latency = args.latency_ms / 1000
        ms.dataverse.throttle.rate = args.throttle
        ms.dataverse.throttle.retry_after = 1
        workdir = Path(tempfile.mkdtemp(prefix="hunter-d365-"))
        env = {
            "HUNTER_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "HUNTER_D365_ENABLED": "true",
            "HUNTER_D365_URL": ms.dataverse_url,
            "HUNTER_D365_TENANT_ID": ms.tenant_id,
            "HUNTER_D365_CLIENT_ID": ms.confidential_client_id,
            "HUNTER_D365_CLIENT_SECRET": ms.confidential_client_secret,
            "HUNTER_AUTHORITY_HOST": ms.authority_host,
            "HUNTER_LOG_LEVEL": "ERROR",
            "SSL_CERT_FILE": str(ms.ca_path),
        }
        settings = Settings(**{k.removeprefix("HUNTER_").lower(): v for k, v in env.items() if k.startswith("HUNTER_")})
        seed(settings.database_url, args.leads)  # firma0.com.tr … with their snapshots, as the API bench does
        engine = engine_for(settings.database_url)
        domains = [f"firma{i}.com.tr" for i in range(args.leads)]
        started = time.perf_counter()
        queued, _ = enqueue_pushes(settings, engine, domains)
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "shared", "worker", "--exit-when-idle"],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=(workdir / f"worker{i}.log").open("wb"),
            )
            for i in range(args.workers)
        ]
        for worker in workers:
            worker.wait()
        elapsed = time.perf_counter() - started
        stats = ms.dataverse.snapshot()
        left = open_queue(D365_QUEUE, settings, engine).length()
    print(
        f"\n{queued:,} leads queued, {args.workers} worker(s), Dataverse {args.latency_ms:g} ms per call, "
        f"{args.throttle:.0%} answered 429 (Retry-After: 1)"
    )
    print(f"  pushed in {elapsed:.1f} s = {queued / elapsed:.1f} leads/s")
    print(f"  Dataverse leads created {stats.creates:,} (updates {stats.updates}), messages left {left}")
    print(
        f"  requests {stats.requests:,}, throttled {stats.throttled}, inside a Retry-After window "
        f"{stats.requests_in_retry_window} (violations after the grace period: {stats.rate_limit_violations}), "
        f"max concurrency {stats.max_concurrency}"
    )
    ok = stats.creates == queued == args.leads and stats.rate_limit_violations == 0 and left == 0
    print("  OK: exactly once, no rate-limit violation" if ok else "  FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
