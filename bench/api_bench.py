"""API benchmark: 100,000 leads, the local runner over HTTP, SQLite and PostgreSQL.

Seeds N leads (domains, lead rows and one snapshot each, with a realistic provider mix) straight
into a fresh database, starts ``hunter serve`` (functions-framework + gunicorn, one
``HunterWorker`` process per core) and measures with bounded concurrency on 127.0.0.1:

* ``GET /api/v1/leads`` with a filter + sort + limit 50 (rotating filters, sorts and offsets),
* ``GET /api/v1/leads/{domain}`` for random domains,
* ``GET /api/v1/leads`` following ``next`` cursors (pages 2-6 of a rotating filter + sort),

reporting p50/p95 latency (overall, per filter and per sort) and requests/s. The load comes from
wrk (Debian's ``wrk``, written in C: the two cores stay with the server) when it is installed,
for ``--duration`` seconds per measurement with ``--concurrency`` connections; otherwise, or with
``--client python``, from an httpx async client sending ``--requests`` per endpoint (it costs
about 3 ms of CPU a request on the same cores, so its figures are higher). Also measures the
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
import shutil
import signal
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

from devtools.api_server import start_api_server  # noqa: E402
from shared.core.models import DkimSelector, DmarcInfo, MxHost, ScanRecord, ScanStatus, SpfInfo  # noqa: E402
from shared.core.providers import classify  # noqa: E402
from shared.core.scoring import score_record  # noqa: E402
from shared.core.text import fold  # noqa: E402
from shared.local.server import default_workers  # noqa: E402
from shared.store.db import engine_for  # noqa: E402
from shared.store.keys import ApiKeyStore  # noqa: E402
from shared.store.models import DomainRow, LeadRow, SnapshotRow  # noqa: E402

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
Stats = dict[str, float]  # p50 and p95 in ms, requests


def stats_of(values: list[float]) -> Stats:
    values = sorted(values)
    return {
        "p50": statistics.median(values),
        "p95": values[max(0, int(len(values) * 0.95) - 1)],
        "requests": len(values),
    }


def list_params(rng: random.Random, **fixed: Any) -> dict[str, Any]:
    """A list request: a filter, a sort, 50 rows, mostly the first page (``fixed`` pins a part)."""
    params = {**rng.choice(FILTERS), "sort": rng.choice(SORTS), "limit": 50, "offset": rng.choice([0, 0, 50, 500])}
    if "filter" in fixed:
        params = {**fixed["filter"], **{k: v for k, v in params.items() if k in ("sort", "limit", "offset")}}
    if "sort" in fixed:
        params["sort"] = fixed["sort"]
    return params


async def measure_python(base: str, key: str, leads: int, requests: int, concurrency: int) -> dict[str, Any]:
    """httpx, ``requests`` per endpoint with list, detail and cursor requests interleaved."""
    raw: dict[str, Any] = {"list": [], "detail": [], "cursor": [], "by_filter": {}, "by_sort": {}}
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
                raw["detail"].append(elapsed)
                return
            params = list_params(rng)
            if kind == "list":
                elapsed, _ = await get("/v1/leads", params)
                raw["list"].append(elapsed)
                raw["by_filter"].setdefault(next(iter(params)), []).append(elapsed)
                raw["by_sort"].setdefault(params["sort"], []).append(elapsed)
                return
            _, page = await get("/v1/leads", {**params, "offset": 0})  # page 1: not counted here
            for _ in range(CURSOR_PAGES):
                if page["next"] is None:
                    break
                elapsed, page = await get("/v1/leads", {**params, "offset": 0, "cursor": page["next"]})
                raw["cursor"].append(elapsed)

        for kind in ("list", "detail", "cursor"):  # warm-up: imports, key verification, caches
            await asyncio.gather(*(one(kind) for _ in range(20 if kind == "cursor" else 50)))
        for values in raw.values():
            values.clear()
        started = time.monotonic()
        await asyncio.gather(
            *(one(kind) for kind in ("list", "detail") for _ in range(requests)),
            *(one("cursor") for _ in range(requests // (CURSOR_PAGES * 2))),
        )
        wall = time.monotonic() - started
    return {
        **{kind: stats_of(raw[kind]) for kind in ("list", "detail", "cursor")},
        **{group: {name: stats_of(v) for name, v in raw[group].items()} for group in ("by_filter", "by_sort")},
        "rate": (len(raw["list"]) + len(raw["detail"]) + len(raw["cursor"])) / wall,
    }


def cursor_paths(base: str, key: str) -> list[str]:
    """Pages 2-6 of every filter x sort, walked once through ``next`` (cursors are opaque)."""
    paths = []
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        for filters in FILTERS:
            for sort in SORTS:
                params = {**filters, "sort": sort, "limit": 50}
                page = client.get("/v1/leads", params=params).raise_for_status().json()
                for _ in range(CURSOR_PAGES):
                    if page["next"] is None:
                        break
                    query = {**params, "cursor": page["next"]}
                    paths.append(httpx.URL(base + "/v1/leads", params=query).raw_path.decode())
                    page = client.get("/v1/leads", params=query).raise_for_status().json()
    return paths


def run_wrk(origin: str, key: str, paths: list[str], seconds: float, concurrency: int, workdir: Path) -> Stats:
    """One wrk run over ``paths`` in turn; any non-2xx answer or socket error stops the benchmark."""
    path_file = workdir / f"paths-{uuid.uuid4().hex[:6]}.txt"
    path_file.write_text("\n".join(paths) + "\n", encoding="ascii")
    done = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
        + ["-s", str(ROOT / "bench" / "wrk_paths.lua"), origin],
        env={"PATHS": str(path_file), "HUNTER_KEY": key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result: {done.stdout[-500:]} {done.stderr[-500:]}")
    values = {k: float(v) for k, v in (part.split("=") for part in line.split()[1:])}
    if values["non2xx"] or values["errors"]:
        raise SystemExit(f"wrk saw {values['non2xx']:.0f} non-2xx answers and {values['errors']:.0f} errors")
    return {**values, "rate": values["requests"] / values["seconds"]}


def measure_wrk(base: str, key: str, leads: int, seconds: float, concurrency: int) -> dict[str, Any]:
    """wrk, one endpoint at a time for ``seconds`` each (per filter and per sort: a third of that)."""
    origin = base.removesuffix("/api")
    rng = random.Random(7)

    def lists(**fixed: Any) -> list[str]:
        return [httpx.URL(base + "/v1/leads", params=list_params(rng, **fixed)).raw_path.decode() for _ in range(2000)]

    details = [f"/api/v1/leads/firma{rng.randrange(leads)}.com.tr" for _ in range(2000)]
    cursors = cursor_paths(base, key)
    with tempfile.TemporaryDirectory(prefix="hunter-wrk-") as workdir:

        def run(paths: list[str], length: float) -> Stats:
            return run_wrk(origin, key, paths, length, concurrency, Path(workdir))

        run(lists(), 2)  # warm-up: every process verifies the key and builds its statements once
        run(details, 2)
        results: dict[str, Any] = {"list": run(lists(), seconds), "detail": run(details, seconds)}
        results["cursor"] = run(cursors, seconds)
        short = max(2, round(seconds / 3))  # wrk takes whole seconds
        results["by_filter"] = {next(iter(f)): run(lists(filter=f), short) for f in FILTERS}
        results["by_sort"] = {sort: run(lists(sort=sort), short) for sort in SORTS}
    results["rate"] = results["list"]["rate"]
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
    parser.add_argument("--client", choices=["wrk", "python"], help="load generator (default: wrk when installed)")
    parser.add_argument("--duration", type=float, default=10, help="wrk: seconds per endpoint")
    parser.add_argument("--requests", type=int, default=1000, help="python client: requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent connections")
    parser.add_argument("--workers", type=int, help="hunter serve --workers (default: its own, one per core)")
    parser.add_argument("--threads", type=int, help="hunter serve --threads (default: its own, 1)")
    parser.add_argument("--postgres-admin", default="postgresql+pg8000://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database and print its URL")
    parser.add_argument("--database-url", help="measure this database, seeded by an earlier --keep run")
    parser.add_argument(
        "--otlp",
        action="store_true",
        help="tracing on: export traces, metrics and logs over OTLP/HTTP to a loopback sink (devtools/otlp_sink.py)",
    )
    args = parser.parse_args()
    if args.client is None:
        args.client = "wrk" if shutil.which("wrk") else "python"
        if args.client == "python":
            print("wrk not found (apt-get install wrk): measuring with the Python client", file=sys.stderr)
    elif args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk, or use --client python")

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
    server_env = {"HUNTER_DATABASE_URL": url, "HUNTER_LOG_LEVEL": "WARNING"}
    sink = None
    if args.otlp:  # a separate process that only counts what arrives (no decoding on the measured cores)
        sink = subprocess.Popen(
            [sys.executable, "-m", "devtools.otlp_sink"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        endpoint = sink.stdout.readline().strip()  # type: ignore[union-attr]
        server_env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    server, base = start_api_server(server_env, workers=args.workers, threads=args.threads)
    try:
        if args.client == "wrk":
            results = measure_wrk(base, key, args.leads, args.duration, args.concurrency)
        else:
            results = asyncio.run(measure_python(base, key, args.leads, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
        if drop and not args.keep:
            drop()
    exported = None
    if sink is not None:
        sink.send_signal(signal.SIGINT)
        exported = sink.communicate(timeout=10)[0].strip()
    import_ms, rss_mb = cold_start()
    seeded_text = "already seeded" if args.database_url else f"seeded in {seeded:.0f} s"

    def field(label: str, text: str) -> None:
        print(f"{label:<36s} {text}")

    def line(label: str, stats: Stats) -> None:
        field(label, f"p50 {stats['p50']:6.1f} ms   p95 {stats['p95']:6.1f} ms   ({stats['requests']:,.0f} requests)")

    workers = args.workers or default_workers()
    field("backend", f"{args.backend} ({args.leads:,} leads {seeded_text})")
    load = f"wrk, {args.duration:g} s per endpoint" if args.client == "wrk" else f"httpx, {args.requests} per endpoint"
    field("load", f"{load}, {args.concurrency} connections")
    field("server", f"hunter serve: {workers} processes x {args.threads or 1} thread(s)")
    field("telemetry", f"OTLP/HTTP to a loopback sink (received: {exported})" if args.otlp else "off")
    line("GET /v1/leads", results["list"])
    line("GET /v1/leads/{d}", results["detail"])
    line(f"GET /v1/leads, cursor pages 2-{CURSOR_PAGES + 1}", results["cursor"])
    for group in ("filter", "sort"):
        for name, stats in sorted(results[f"by_{group}"].items()):
            line(f"  list by {group} {name}", stats)
    field(
        "throughput",
        f"{results['rate']:,.0f} requests/s (list)" if args.client == "wrk" else f"{results['rate']:,.0f} requests/s",
    )
    field("cold start", f"import function_app {import_ms:.0f} ms, RSS after import {rss_mb:.0f} MB")
    if args.keep:
        field("kept", f"--database-url {url}")
    print(json.dumps({"backend": args.backend, "leads": args.leads}), file=sys.stderr)


if __name__ == "__main__":
    main()
