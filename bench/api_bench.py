"""API benchmark: 100,000 leads, the local runner over HTTP, SQLite and PostgreSQL.

Seeds N leads (domains, lead rows and one snapshot each, with a realistic provider mix) straight
into a fresh database, starts ``hunter serve`` (functions-framework + gunicorn threads) and
measures, from an async HTTP client with bounded concurrency on 127.0.0.1:

* ``GET /api/v1/leads`` with a filter + sort + limit 50 (rotating filters, sorts and offsets),
* ``GET /api/v1/leads/{domain}`` for random domains,
* ``GET /api/v1/leads`` following ``next`` cursors (pages 2-6 of a rotating filter + sort),

reporting p50/p95 latency (overall, per filter and per sort) and requests/s. Also measures the
cold start of the Azure entry point: ``python -X importtime -c "import function_app"`` and the
RSS after that import.

    python bench/api_bench.py --backend sqlite --leads 100000
    python bench/api_bench.py --backend postgresql --leads 100000

On a busy machine, seed once and measure again when it is quiet:

    python bench/api_bench.py --backend postgresql --keep        # prints the database URL
    python bench/api_bench.py --database-url postgresql+pg8000://...  # measures it again
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.devtools.api_server import start_api_server  # noqa: E402
from shared.http.auth import ApiKeyStore  # noqa: E402
from shared.models import DkimSelector, DmarcInfo, MxHost, ScanRecord, ScanStatus, SpfInfo  # noqa: E402
from shared.providers import classify  # noqa: E402
from shared.scoring import score_record  # noqa: E402
from shared.store.db import engine_for  # noqa: E402
from shared.store.models import DomainRow, LeadRow, SnapshotRow  # noqa: E402
from shared.text import fold  # noqa: E402

PROFILES = [
    ("m365", 40, "{d}-x.mail.protection.outlook.com"),
    ("google", 20, "aspmx.l.google.com"),
    ("local", 15, "mail.{d}"),
    ("hosting", 10, "smtp.secureserver.net"),
    ("yandex", 5, "mx.yandex.net"),
    ("zoho", 5, "mx.zoho.eu"),
    ("nomx", 5, None),
]
FILTERS = [
    {"segment": "Migration"},
    {"priority": ["P1", "P2"]},
    {"provider": "Google"},
    {"min_score": 50},
    {"commercial_segment": "WEAK_PARTNER"},
    {"q": "firma12"},
]
SORTS = ["-priority", "-score", "domain", "-scanned_at"]


SECURITY = [  # (SPF, DKIM, DMARC policy, pct): from nothing published to fully enforced
    (False, False, None, 100),
    (True, False, None, 100),
    (True, True, "none", 100),
    (True, True, "quarantine", 50),
    (True, True, "quarantine", 100),
    (True, True, "reject", 100),
]


def _templates() -> list[tuple[ScanRecord, object]]:
    """Every provider profile x security posture, classified and scored by the real code."""
    out = []
    d = "template.com.tr"
    for _, weight, mx in PROFILES:
        for spf, dkim, policy, pct in SECURITY:
            record = ScanRecord(
                input=d,
                domain=d,
                domain_unicode=d,
                status=ScanStatus.OK if mx else ScanStatus.NO_MX,
                mx=[MxHost(preference=10, host=mx.format(d=d.replace(".", "-")))] if mx else [],
                spf=SpfInfo(record="v=spf1 -all", valid=True, all="-all") if spf else None,
                dkim=[DkimSelector(selector="selector1", has_key=True)] if dkim else [],
                dmarc=DmarcInfo(record=f"v=DMARC1; p={policy}", valid=True, policy=policy, pct=pct) if policy else None,
                scanned_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
            record = classify(record)
            out.extend([(record, score_record(record))] * weight)
    return out


def seed(url: str, count: int) -> None:
    engine = engine_for(url)
    templates = _templates()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            domains, leads, snapshots = [], [], []
            for i in range(start, min(count, start + 5000)):
                name = f"firma{i}.com.tr"
                record, score = templates[(i * 7919) % len(templates)]
                domains.append(
                    {
                        "id": i + 1,
                        "name": name,
                        "unicode_name": name,
                        "company_name": f"Firma {i} A.Ş.",
                        "search_text": fold(f"{name} Firma {i} A.Ş."),
                        "first_seen_at": now,
                    }
                )
                scanned = now - timedelta(minutes=i % 10_000)
                leads.append(
                    {
                        "domain_id": i + 1,
                        "domain": name,
                        "status": record.status.value,
                        "error": None,
                        "provider": record.provider,
                        "local_provider": record.local_provider,
                        "gateway": None,
                        "mx_primary": record.mx[0].host if record.mx else None,
                        "spf_valid": None,
                        "dkim_found": 0,
                        "dmarc_policy": None,
                        "dmarc_pct": None,
                        "tenant_domain": None,
                        "tenant_size": None,
                        "whois_expires": None,
                        "score": score.score,
                        "segment": score.segment.value,
                        "commercial_segment": score.commercial_segment.value,
                        "priority_category": score.priority_category,
                        "priority_score": score.priority_score,
                        "rules_version": score.rules_version,
                        "breakdown": [b.model_dump() for b in score.breakdown],
                        "scan_count": 1,
                        "scanned_at": scanned,
                        "changed_at": None,
                    }
                )
                snap = record.model_dump(mode="json")
                snap.update(input=name, domain=name, domain_unicode=name)
                snapshots.append(
                    {
                        "domain_id": i + 1,
                        "scanned_at": scanned,
                        "collector_version": "1.0.0",
                        "status": record.status.value,
                        "record": snap,
                    }
                )
            for table, rows in ((DomainRow, domains), (LeadRow, leads), (SnapshotRow, snapshots)):
                if engine.dialect.name == "postgresql":  # pg8000 runs an executemany row by row
                    for chunk in range(0, len(rows), 1000):
                        conn.execute(sa.insert(table.__table__).values(rows[chunk : chunk + 1000]))
                else:
                    conn.execute(sa.insert(table.__table__), rows)
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()  # VACUUM refuses a transaction: use the driver in autocommit
        try:
            raw.rollback()  # end the transaction the pool's ping opened
            raw.driver_connection.autocommit = True
            cursor = raw.cursor()
            cursor.execute("VACUUM ANALYZE")  # after a bulk load, as autovacuum would: sets the visibility map
            cursor.close()
        finally:
            raw.driver_connection.autocommit = False
            raw.close()
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


CURSOR_PAGES = 5  # pages 2..6 of a cursor walk


async def measure(base: str, key: str, leads: int, requests: int, concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {"list": [], "detail": [], "cursor": [], "by_filter": {}, "by_sort": {}}
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def get(path: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
            async with semaphore:
                started = time.perf_counter()
                reply = await client.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
            if reply.status_code != 200:
                raise SystemExit(f"{path} {params}: {reply.status_code} {reply.text[:300]}")
            return elapsed, reply.json()

        async def one(kind: str) -> None:
            if kind == "detail":
                elapsed, _ = await get(f"/v1/leads/firma{rng.randrange(leads)}.com.tr", {})
                results["detail"].append(elapsed)
                return
            params = {**rng.choice(FILTERS), "sort": rng.choice(SORTS), "limit": 50}
            if kind == "list":
                elapsed, _ = await get("/v1/leads", {**params, "offset": rng.choice([0, 0, 50, 500])})
                results["list"].append(elapsed)
                results["by_filter"].setdefault(next(iter(params)), []).append(elapsed)
                results["by_sort"].setdefault(params["sort"], []).append(elapsed)
                return
            _, page = await get("/v1/leads", params)  # page 1: not counted here
            for _ in range(CURSOR_PAGES):
                if page["next"] is None:
                    break
                elapsed, page = await get("/v1/leads", {**params, "cursor": page["next"]})
                results["cursor"].append(elapsed)

        for kind in ("list", "detail", "cursor"):  # warm-up: imports, key verification, caches
            await asyncio.gather(*(one(kind) for _ in range(20 if kind == "cursor" else 50)))
        for values in results.values():
            values.clear()
        await asyncio.gather(
            *(one(kind) for kind in ("list", "detail") for _ in range(requests)),
            *(one("cursor") for _ in range(requests // (CURSOR_PAGES * 2))),
        )
    return results


def cold_start() -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function_app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and match.group(3) == "function_app":
            total = int(match.group(1))
    rss = subprocess.run(
        [
            sys.executable,
            "-c",
            # VmRSS, not ru_maxrss: the latter counts the pages of the (large) forking parent before exec.
            "import function_app; print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return total / 1000, int(rss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="hunter serve --workers")
    parser.add_argument("--postgres-admin", default="postgresql+pg8000://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database and print its URL")
    parser.add_argument("--database-url", help="measure this database, seeded by an earlier --keep run")
    args = parser.parse_args()

    drop = None
    if args.database_url:
        url = args.database_url
        args.backend = engine_for(url).dialect.name
    elif args.backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='hunter-api-bench-')}/hunter.db"
    else:
        name = f"hunter_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = args.postgres_admin.rsplit("/", 1)[0] + f"/{name}"

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    started = time.monotonic()
    if args.database_url:
        with engine_for(url).connect() as conn:
            args.leads = conn.execute(sa.select(sa.func.count()).select_from(LeadRow.__table__)).scalar_one()
    else:
        seed(url, args.leads)
    seeded = time.monotonic() - started
    key, _ = ApiKeyStore(engine_for(url)).create(
        f"bench-{uuid.uuid4().hex[:6]}", ["read"], rate_limit_per_minute=1_000_000
    )
    server, base = start_api_server({"HUNTER_DATABASE_URL": url, "HUNTER_LOG_LEVEL": "WARNING"}, workers=args.workers)
    try:
        wall = time.monotonic()
        results = asyncio.run(measure(base, key, args.leads, args.requests, args.concurrency))
        wall = time.monotonic() - wall
    finally:
        server.terminate()
        server.wait(timeout=10)
        if drop and not args.keep:
            drop()
    import_ms, rss_mb = cold_start()
    seeded_text = "already seeded" if args.database_url else f"seeded in {seeded:.0f} s"

    def field(label: str, text: str) -> None:
        print(f"{label:<36s} {text}")

    def line(label: str, values: list[float]) -> None:
        values = sorted(values)
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        field(label, f"p50 {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms")

    field("backend", f"{args.backend} ({args.leads:,} leads {seeded_text})")
    field(
        "concurrency",
        f"{args.concurrency} connections, {args.requests} requests per endpoint, {args.workers} server processes",
    )
    line("GET /v1/leads", results["list"])
    line("GET /v1/leads/{d}", results["detail"])
    line(f"GET /v1/leads, cursor pages 2-{CURSOR_PAGES + 1}", results["cursor"])
    for group in ("filter", "sort"):
        for name, values in sorted(results[f"by_{group}"].items()):
            line(f"  list by {group} {name}", values)
    field("throughput", f"{(2 * args.requests + len(results['cursor'])) / wall:,.0f} requests/s")
    field("cold start", f"import function_app {import_ms:.0f} ms, RSS after import {rss_mb:.0f} MB")
    if args.keep:
        field("kept", f"--database-url {url}")
    print(json.dumps({"backend": args.backend, "leads": args.leads}), file=sys.stderr)


if __name__ == "__main__":
    main()
