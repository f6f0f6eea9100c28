"""PDF lead report benchmark: how long one report takes, end to end through the API handler.

Scans the bundled demo companies (``hunter demo``: its own loopback DNS server) into a fresh
SQLite file, then asks ``GET /api/v1/leads/{domain}/report.pdf`` through :func:`dispatch` (API key,
the lead read, the explaining service, the sales summary, fpdf2 with the DejaVu subsets, in
process, no socket) ``--requests`` times over the demo leads, alternating Turkish and English,
and reports the first (cold) request apart from the median and p95 of the rest. Also times a lead
with a long history (200 changes: three pages) and the call-list batch of every demo lead.

    python bench/pdf_bench.py --requests 200
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _seed(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "shared", "demo", "--db", database_url],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _add_history(runtime, domain: str, count: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert, select

    from shared.store.models import ChangeEventRow, DomainRow

    now = datetime.now(UTC)
    with runtime.engine.begin() as connection:
        domain_id = connection.scalar(select(DomainRow.id).where(DomainRow.name == domain))
        connection.execute(
            insert(ChangeEventRow),
            [
                {
                    "domain_id": domain_id,
                    "domain": domain,
                    "kind": "dmarc_policy",
                    "before": "none",
                    "after": "quarantine",
                    "summary": f"DMARC policy none → quarantine (change {i})",
                    "meaning": None,
                    "at": now - timedelta(days=i),
                }
                for i in range(count)
            ],
        )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from shared.config import Settings
    from shared.http.dispatch import dispatch
    from shared.http.types import HttpRequest
    from shared.runtime import Runtime, set_runtime

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'hunter.db'}"
        _seed(database_url)
        runtime = Runtime(Settings(database_url=database_url, whois_enabled=False))
        set_runtime(runtime)
        key = runtime.keys.create("bench", ["read"])[0]
        from shared.store.queries import LeadFilter

        domains = [row["domain"] for row in runtime.leads.lead_page(LeadFilter(limit=50)).rows]

        def report(domain: str, lang: str) -> tuple[float, int]:
            request = HttpRequest(
                "GET", f"/v1/leads/{domain}/report.pdf", query={"lang": [lang]}, headers={"x-api-key": key}
            )
            started = time.perf_counter()
            response = dispatch(request, runtime)
            elapsed = time.perf_counter() - started
            assert response.status == 200, response.body_bytes()[:300]
            return elapsed, len(response.body_bytes())

        cold, _ = report(domains[0], "tr")
        timings = []
        sizes = []
        for i in range(args.requests):
            elapsed, size = report(domains[i % len(domains)], ("tr", "en")[i % 2])
            timings.append(elapsed)
            sizes.append(size)
        timings.sort()
        print(f"demo leads: {len(domains)}; requests: {args.requests}")
        print(f"cold first report: {_ms(cold)} ms (imports fpdf2 and its fontTools, first database read)")
        print(
            f"one report: median {_ms(statistics.median(timings))} ms, "
            f"p95 {_ms(timings[int(len(timings) * 0.95) - 1])} ms, max {_ms(timings[-1])} ms, "
            f"median size {statistics.median(sizes) / 1024:.0f} KB"
        )

        _add_history(runtime, domains[0], 200)
        long = sorted(report(domains[0], "tr")[0] for _ in range(10))
        print(f"long history (200 changes, 3 pages): median {_ms(statistics.median(long))} ms")

        body = b'{"lang": "tr"}'
        batch_times = []
        for _ in range(3):
            request = HttpRequest(
                "POST",
                "/v1/leads/report.pdf",
                headers={"x-api-key": key, "content-type": "application/json"},
                body=body,
            )
            started = time.perf_counter()
            response = dispatch(request, runtime)
            batch_times.append(time.perf_counter() - started)
            assert response.status == 200
        count = int(response.headers["X-Hunter-Leads"])
        per = statistics.median(batch_times) / count
        print(
            f"batch of {count} leads: median {_ms(statistics.median(batch_times))} ms ({_ms(per)} ms a lead), "
            f"{len(response.body_bytes()) / 1024:.0f} KB"
        )
        set_runtime(None)


if __name__ == "__main__":
    main()
