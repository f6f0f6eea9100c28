"""Web app benchmark: how long the Leads screen takes to show its first page with 100,000 leads.

Seeds N leads on the embedded default (SQLite) with the API benchmark's seeder (or measures a database
seeded earlier), starts ``hunter serve`` and drives Debian's Chromium with Playwright: sign in once,
then open ``#/leads`` (with and without a filter and a sort) as a new document each time and time it
from navigation start to the first table row on screen (``performance.now()`` in the page). Reports
the median and the slowest of the runs per view; the target is under 1 s.

    python bench/ui_bench.py --leads 100000
    python bench/ui_bench.py --database-url sqlite:////tmp/hunter-api-bench-xyz/hunter.db
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_bench import seed  # noqa: E402
from devtools.api_server import start_api_server  # noqa: E402
from shared.store.db import engine_for  # noqa: E402
from shared.store.keys import ApiKeyStore  # noqa: E402
from shared.store.models import LeadRow  # noqa: E402

VIEWS = {
    "default (priority)": "#/leads",
    "P1, by score": "#/leads?priority=P1&sort=-score",
    "search + provider": "#/leads?q=co1&provider=Google",
    "page 2 (cursor)": None,  # reached through the "next" button of the default view
}


def first_row_ms(page, url: str) -> float:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.wait_for_selector("table.leads-table tbody tr, .empty", timeout=30_000)
    return page.evaluate("performance.now()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9, help="page loads per view")
    parser.add_argument("--database-url", help="measure this database, seeded by an earlier run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if args.database_url:
        url = args.database_url
        with engine_for(url).connect() as conn:
            args.leads = conn.execute(sa.select(sa.func.count()).select_from(LeadRow.__table__)).scalar_one()
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='hunter-ui-bench-')}/hunter.db"
        started = time.monotonic()
        seed(url, args.leads)
        print(f"seeded {args.leads:,} leads in {time.monotonic() - started:.0f} s", file=sys.stderr)
    key, _ = ApiKeyStore(engine_for(url)).create(f"ui-bench-{uuid.uuid4().hex[:6]}", ["read"], 1_000_000)
    server, base = start_api_server({"HUNTER_DATABASE_URL": url, "HUNTER_LOG_LEVEL": "WARNING"})
    app = f"{base}/ui/"
    results: dict[str, list[float]] = {name: [] for name in VIEWS}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="tr-TR")
            page = context.new_page()
            page.goto(app)
            page.fill("input[name=api_key]", key)
            page.click("form.signin button[type=submit]")
            page.wait_for_selector("table.leads-table tbody tr", timeout=30_000)
            for _ in range(args.runs):
                for name, route in VIEWS.items():
                    page.goto("about:blank")  # a new document each time; the tab keeps its session key
                    if route is None:
                        first_row_ms(page, f"{app}#/leads")
                        started = page.evaluate("performance.now()")
                        page.get_by_role("button", name="Sonraki sayfa").click()
                        page.wait_for_function("location.hash.includes('cursor=')")
                        page.wait_for_selector("table.leads-table tbody tr")
                        results[name].append(page.evaluate("performance.now()") - started)
                    else:
                        results[name].append(first_row_ms(page, f"{app}{route}"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{'leads':<22s} {args.leads:,} on {engine_for(url).dialect.name}, {args.runs} loads per view")
    for name, values in results.items():
        print(f"{name:<22s} median {statistics.median(values):6.0f} ms   slowest {max(values):6.0f} ms")


if __name__ == "__main__":
    main()
