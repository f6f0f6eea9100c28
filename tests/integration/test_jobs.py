"""Bulk scans end to end on the local queue: submit, fan out, scan, results, poison, redrive,
idempotent redelivery and a worker killed with SIGKILL mid-job. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from devtools.api_server import start_api_server
from shared import aio
from shared.config import Settings
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.jobs import SCAN_QUEUE
from shared.jobs.submit import batch_message
from shared.local.worker import QueueWorker
from shared.queues import Delivery, open_queue, poison_name
from shared.queues.hostjson import QueueOptions, queue_options
from shared.runtime import Runtime, set_runtime
from shared.services.queue_ops import QueueOps
from shared.services.scan_batch import handle_scan_batch
from shared.store.db import engine_for
from shared.store.jobs import JobStore
from shared.store.keys import ApiKeyStore
from shared.store.models import LeadRow, ScanJobRow, SnapshotRow
from shared.store.queue_audit import QueueAudit
from shared.triggers.registry import QUEUE_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
FAST = QueueOptions(
    max_dequeue_count=3, visibility_timeout=0, batch_size=16, new_batch_threshold=8, max_polling_interval=0.2
)


@pytest.fixture
def env(database_url, synthetic_dns):
    values = {
        "HUNTER_DATABASE_URL": database_url,
        "HUNTER_DNS_NAMESERVERS": synthetic_dns,
        "HUNTER_DNS_TIMEOUT": "1.0",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_BULK_BATCH_SIZE": "10",
        "HUNTER_QUEUE_BACKEND": "local",
        "HUNTER_QUEUE_RETRY_BASE": "0",  # failed messages come back at once (FAST's old visibility_timeout=0)
    }
    settings = Settings(**{k.removeprefix("HUNTER_").lower(): v for k, v in values.items()})
    context = Runtime(settings, time.monotonic())
    set_runtime(context)
    keys = ApiKeyStore(context.engine)
    yield {
        "values": values,
        "settings": settings,
        "context": context,
        "engine": context.engine,
        "keys": {
            "scan": keys.create("scanner", ["scan"])[0],
            "read": keys.create("reader", ["read"])[0],
            "admin": keys.create("admin", ["admin"])[0],
        },
    }
    set_runtime(None)


def call(
    env, method: str, path: str, *, key: str = "scan", json_body=None, body: bytes = b"", headers=None, query=None
):
    hdrs = {"x-api-key": env["keys"][key], **{k.lower(): v for k, v in (headers or {}).items()}}
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs.setdefault("content-type", "application/json")
    reply = dispatch(
        HttpRequest(method, path, query={k: [v] for k, v in (query or {}).items()}, headers=hdrs, body=body),
        env["context"],
    )
    return reply.status, json.loads(reply.body_bytes() or b"null"), reply.headers


def drain(options: QueueOptions = FAST) -> QueueWorker:
    worker = QueueWorker(options=options, exit_when_idle=True)
    aio.run(worker.run())
    return worker


def domains(n: int, start: int = 1) -> list[str]:
    return [f"co{i}.com.tr" for i in range(start, start + n)]


# -- submit, scan, follow ------------------------------------------------------------------------


def test_json_job_runs_to_completion_with_per_row_results(env):
    rows = [*domains(25), "CO3.com.tr", "https://www.co4.com.tr/iletisim", "not a domain", "", "ali@co5.com.tr"]
    status, job, headers = call(env, "POST", "/v1/scans", json_body={"domains": rows, "source": "fuar listesi"})
    assert status == 202, job
    assert headers["Location"] == job["status_url"] == f"/api/v1/scans/{job['id']}"
    assert job["status"] == "queued" and job["source"] == "fuar listesi"
    assert job["totals"] == {
        "rows": 30,
        "unique": 25,
        "queued": 25,
        "done": 0,
        "failed": 0,
        "invalid": 2,
        "duplicates": 3,
    }
    assert open_queue(SCAN_QUEUE, env["settings"], env["engine"]).length() == 3  # 25 domains / 10 per batch

    worker = drain()
    assert worker.processed == 3 and worker.failed == 0
    status, done, _ = call(env, "GET", f"/v1/scans/{job['id']}", key="read")
    assert status == 200 and done["status"] == "done" and done["progress"] == 1.0
    totals = done["totals"]
    assert totals["queued"] == 0 and totals["done"] + totals["failed"] == 25 and totals["invalid"] == 2
    assert done["finished_at"] and done["rate_per_second"] > 0 and done["eta_seconds"] == 0

    seen, cursor = [], None
    while True:
        query = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        status, page, _ = call(env, "GET", f"/v1/scans/{job['id']}/results", key="read", query=query)
        assert status == 200
        seen.extend(page["items"])
        if not (cursor := page["next"]):
            break
    assert [i["seq"] for i in seen] == list(range(27))  # every unique or invalid row once, in input order
    invalid = [i for i in seen if i["status"] == "invalid"]
    assert {i["input"] for i in invalid} == {"not a domain", ""} and all(i["error"] for i in invalid)
    assert {i["input"]: (i["code"], i["params"]) for i in invalid} == {
        "not a domain": ("contains_spaces", {}),
        "": ("empty", {}),
    }  # the reason as a code too, for clients to word themselves
    assert all(i["code"] is None for i in seen if i["status"] != "invalid")
    scanned = {i["domain"]: i for i in seen if i["status"] in ("done", "failed")}
    assert len(scanned) == 25 and all(i["scan_status"] for i in scanned.values())
    assert any(i["provider"] == "M365" and i["priority_category"] for i in scanned.values())
    with env["engine"].connect() as c:
        assert c.scalar(select(func.count()).select_from(LeadRow)) == 25
        assert c.scalar(select(func.count()).select_from(SnapshotRow)) == 25
    status, only_invalid, _ = call(
        env, "GET", f"/v1/scans/{job['id']}/results", key="read", query={"status": "invalid"}
    )
    assert [i["input"] for i in only_invalid["items"]] == ["not a domain", ""]


def test_uploads_csv_xlsx_and_multipart_find_the_domain_column(env):
    from openpyxl import Workbook

    csv_body = "Firma;Web Sitesi;Telefon\nAnadolu A.Ş.;co11.com.tr;1\nEge Ltd.;www.co12.com.tr;2\n;;\n".encode()
    status, job, _ = call(
        env, "POST", "/v1/scans", body=csv_body, headers={"content-type": "text/csv"}, query={"lang": "en"}
    )
    assert status == 202, job
    assert job["totals"]["unique"] == 2 and job["lang"] == "en" and job["source"] == "upload"

    book = Workbook()
    book.active.append(["E-posta", "Firma"])
    book.active.append(["info@co13.com.tr", "Şişli İnşaat"])
    book.active.append(["geçersiz", "X"])
    data = io.BytesIO()
    book.save(data)
    boundary = "hunterboundary"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="liste.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, job2, _ = call(
        env, "POST", "/v1/scans", body=multipart, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert status == 202, job2
    assert job2["source"] == "liste.xlsx" and job2["totals"]["unique"] == 1 and job2["totals"]["invalid"] == 1
    drain()
    store = JobStore(env["engine"])
    (item,) = [i for i in store.items(job2["id"]) if i.domain]
    assert item.company == "Şişli İnşaat" and item.row == 2 and item.status in ("done", "failed")


def test_recent_jobs_are_listed_newest_first_with_their_progress(env):
    first = call(env, "POST", "/v1/scans", json_body=domains(3))[1]
    second = call(env, "POST", "/v1/scans", json_body=["co9.com.tr", "bad domain"])[1]
    status, listed, _ = call(env, "GET", "/v1/scans", key="read")
    assert status == 200
    assert [job["id"] for job in listed["items"]] == [second["id"], first["id"]]
    assert listed["items"][0]["totals"]["invalid"] == 1 and listed["items"][1]["totals"]["unique"] == 3
    assert [j["id"] for j in call(env, "GET", "/v1/scans", key="read", query={"limit": "1"})[1]["items"]] == [
        second["id"]
    ]
    assert call(env, "GET", "/v1/scans", key="read", query={"limit": "0"})[0] == 422
    drain()
    done = call(env, "GET", "/v1/scans", key="read")[1]["items"]
    assert {job["status"] for job in done} == {"done"} and {job["progress"] for job in done} == {1.0}


def test_preview_names_the_column_and_the_problem_rows_without_making_a_job(env):
    csv_body = (
        "Firma;Web Sitesi;Telefon\n"
        "Anadolu A.Ş.;co11.com.tr;1\n"
        "Ege Ltd.;https://www.co12.com.tr/iletisim;2\n"
        "Kopya;CO11.com.tr;3\n"
        ";;\n"
        "Bozuk;not a domain;4\n"
    ).encode()
    status, preview, _ = call(env, "POST", "/v1/scans/preview", body=csv_body, headers={"content-type": "text/csv"})
    assert status == 200, preview
    assert (preview["domain_column"], preview["company_column"]) == ("Web Sitesi", "Firma")
    assert preview["has_header"] and preview["detected"]
    assert (preview["rows"], preview["unique"], preview["duplicates"], preview["invalid"]) == (4, 2, 1, 1)
    assert [(r["line"], r["domain"], r["company"]) for r in preview["sample"]] == [
        (2, "co11.com.tr", "Anadolu A.Ş."),
        (3, "co12.com.tr", "Ege Ltd."),
    ]
    (bad,) = preview["invalid_rows"]
    assert bad["line"] == 6 and bad["input"] == "not a domain" and bad["error"]
    assert (bad["code"], bad["params"]) == ("contains_spaces", {})
    assert all(r["code"] is None for r in preview["sample"])
    with env["engine"].connect() as connection:
        assert connection.scalar(select(func.count()).select_from(ScanJobRow)) == 0  # nothing was submitted
    assert QueueOps(env["settings"], env["engine"]).stats()[0].length == 0

    headerless = b"co21.com.tr\nco22.com.tr\n"
    status, plain, _ = call(env, "POST", "/v1/scans/preview", body=headerless, headers={"content-type": "text/plain"})
    assert status == 200 and plain["domain_column"] == "#1" and not plain["has_header"] and plain["unique"] == 2
    status, named, _ = call(
        env, "POST", "/v1/scans/preview", body=csv_body, headers={"content-type": "text/csv"}, query={"column": "Firma"}
    )
    assert status == 200 and named["domain_column"] == "Firma" and not named["detected"]
    status, listed, _ = call(env, "POST", "/v1/scans/preview", json_body=["co1.com.tr", "x"])
    assert status == 200 and listed["domain_column"] is None and listed["invalid"] == 1
    status, problem, _ = call(
        env, "POST", "/v1/scans/preview", body=b"\x00\x01binary", headers={"content-type": "text/csv"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "file"
    assert call(env, "POST", "/v1/scans/preview", key="read", json_body=["co1.com.tr"])[0] == 403


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, None),
        (json.dumps({"domains": []}).encode(), {"content-type": "application/json"}, 422, "domains"),
        (json.dumps({"domains": ["a.com"], "extra": 1}).encode(), {"content-type": "application/json"}, 422, "extra"),
        (json.dumps({"domains": ["a.com"], "lang": "de"}).encode(), {"content-type": "application/json"}, 422, "lang"),
        (b"", {"content-type": "text/csv"}, 400, None),
        (b"\x00\x01binary", {"content-type": "application/octet-stream"}, 422, "file"),
        (b"PK\x03\x04broken zip", {"content-type": "application/octet-stream"}, 422, "file"),
        (
            b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
            {"content-type": "multipart/form-data; boundary=b"},
            422,
            "file",
        ),
    ],
)
def test_bad_submissions_are_4xx_naming_the_problem(env, body, headers, status, field):
    code, problem, _ = call(env, "POST", "/v1/scans", body=body, headers=headers)
    assert code == status, problem
    assert problem["status"] == status and problem["title"]
    if field:
        assert field in {e["field"] for e in problem.get("errors", [])}, problem


def test_job_routes_need_keys_and_answer_404_for_unknown_jobs(env):
    assert call(env, "POST", "/v1/scans", key="read", json_body=["co1.com.tr"])[0] == 403
    assert call(env, "GET", "/v1/scans/" + "0" * 32)[0] == 404
    assert call(env, "GET", "/v1/scans/not-an-id/results")[0] == 404
    status, problem, _ = call(env, "GET", "/v1/scans/" + "0" * 32 + "/results", query={"cursor": "%%%"})
    assert status in (404, 422)


# -- idempotency -------------------------------------------------------------------------------


def test_a_redelivered_or_concurrent_batch_writes_each_domain_once(env):
    status, job, _ = call(env, "POST", "/v1/scans", json_body=domains(10, start=100))
    assert status == 202
    body = batch_message(job["id"], 0)
    message = Delivery("m1", SCAN_QUEUE, 1)

    async def twice_at_once():
        import asyncio

        await asyncio.gather(
            handle_scan_batch(body, message, env["context"]), handle_scan_batch(body, message, env["context"])
        )

    aio.run(twice_at_once())
    aio.run(handle_scan_batch(body, Delivery("m1", SCAN_QUEUE, 2), env["context"]))  # and once more, later
    progress = JobStore(env["engine"]).progress(job["id"])
    assert progress.counts["queued"] == 0 and progress.finished == 10 and progress.status == "done"
    with env["engine"].connect() as c:
        assert c.scalar(select(func.count()).select_from(SnapshotRow)) == 10
        assert c.scalar(select(func.count()).select_from(LeadRow)) == 10
        assert c.scalar(select(func.max(LeadRow.scan_count))) == 1


# -- poison and redrive --------------------------------------------------------------------------


def test_failing_messages_go_to_poison_with_their_error_and_can_be_redriven(env):
    settings, engine = env["settings"], env["engine"]
    queue = open_queue(SCAN_QUEUE, settings, engine)
    poison = open_queue(poison_name(SCAN_QUEUE), settings, engine)
    orphan = batch_message("f" * 32, 0)  # a job that does not exist
    garbage = "this is not json"
    queue.send_many([orphan, garbage])

    worker = drain()
    assert worker.failed == 2 * FAST.max_dequeue_count and worker.processed == 0
    assert queue.length() == 0 and poison.length() == 2

    ops = QueueOps(settings, engine)
    stuck = {m.body: m for m in ops.peek_poison(SCAN_QUEUE)}
    assert set(stuck) == {orphan, garbage}  # bodies unchanged
    assert stuck[orphan].last_error.startswith("JobNotFound") and stuck[orphan].dequeue_count == 3
    assert "validation error" in stuck[garbage].last_error.lower()

    status, listed, _ = call(env, "GET", f"/v1/admin/queues/{SCAN_QUEUE}/poison", key="admin")
    assert status == 200 and {m["body"] for m in listed["items"]} == {orphan, garbage}
    status, stats, _ = call(env, "GET", "/v1/admin/queues", key="admin")
    assert stats["backend"] == "local"
    (scan_stats,) = [q for q in stats["queues"] if q["name"] == SCAN_QUEUE]
    assert scan_stats["length"] == 0 and scan_stats["poison_length"] == 2 and scan_stats["oldest_age_seconds"] is None
    assert {q["name"] for q in stats["queues"]} == {f.queue for f in QUEUE_FUNCTIONS}
    assert call(env, "GET", "/v1/admin/queues", key="scan")[0] == 403
    assert call(env, "POST", f"/v1/admin/queues/{SCAN_QUEUE}/redrive", key="admin", json_body={})[0] == 422
    assert call(env, "GET", "/v1/admin/queues/nope/poison", key="admin")[0] == 404

    status, moved, _ = call(
        env,
        "POST",
        f"/v1/admin/queues/{SCAN_QUEUE}/redrive",
        key="admin",
        json_body={"ids": [stuck[orphan].id, "missing-id"]},
    )
    assert status == 200 and moved["moved"] == [stuck[orphan].id] and moved["not_found"] == ["missing-id"]
    (back,) = queue.peek()
    assert back.body == orphan and back.dequeue_count == 0  # body unchanged, count starts again
    assert [m.body for m in poison.peek()] == [garbage]  # the other one was left alone

    assert ops.redrive(SCAN_QUEUE, ids=None, actor="test") and poison.length() == 0 and queue.length() == 2
    actions = [(a.action, a.actor) for a in QueueAudit(engine).history(SCAN_QUEUE)]
    assert actions.count(("poisoned", "worker")) == 2
    assert ("redriven", "api:admin") in actions and ("redriven", "test") in actions
    drain()
    assert ops.purge_poison(SCAN_QUEUE, actor="test") == 2 and poison.length() == 0


def test_host_json_drives_the_local_retry_settings():
    options = queue_options()
    host = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    assert options.max_dequeue_count == host["maxDequeueCount"] == 5
    assert options.batch_size == host["batchSize"] and options.message_encoding == "base64"
    assert options.visibility_timeout == 10.0 and options.max_polling_interval == 2.0


# -- crash safety ---------------------------------------------------------------------------------


def _worker(values: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "shared", "worker"],
        cwd=ROOT,
        env={**os.environ, **values},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(env, tmp_path):
    """The issue's crash test: submit 5,000 domains through the local runner, SIGKILL the worker
    mid-job, start another: every domain is scanned exactly once and the counters are exact."""
    values = {**env["values"], "HUNTER_BULK_BATCH_SIZE": "50", "HUNTER_QUEUE_LEASE": "2"}
    log = (tmp_path / "processes.log").open("wb")
    server, base = start_api_server(values, log=log)
    try:
        key = env["keys"]["scan"]
        reply = httpx.post(
            f"{base}/v1/scans", json={"domains": domains(5000, start=1000)}, headers={"X-API-Key": key}, timeout=60
        )
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["id"]

        def finished() -> int:
            return httpx.get(f"{base}/v1/scans/{job_id}", headers={"X-API-Key": key}).json()["totals"]

        first = _worker(values, log)
        deadline = time.monotonic() + 120
        while (t := finished())["done"] + t["failed"] < 1000:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        at_kill = finished()
        assert at_kill["queued"] > 0, "the job finished before the kill; make it bigger"

        second = _worker(values, log)
        while (state := httpx.get(f"{base}/v1/scans/{job_id}", headers={"X-API-Key": key}).json())["status"] != "done":
            assert time.monotonic() < deadline + 120 and second.poll() is None
            time.sleep(0.2)
        # Messages the killed worker held come back after its lease and are finished as no-ops.
        queue = open_queue(SCAN_QUEUE, env["settings"], engine_for(values["HUNTER_DATABASE_URL"]))
        while queue.length():
            assert time.monotonic() < deadline + 180 and second.poll() is None
            time.sleep(0.2)
        second.terminate()
        second.wait(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    totals = state["totals"]
    assert totals["queued"] == 0 and totals["done"] + totals["failed"] == 5000 and totals["unique"] == 5000
    engine = engine_for(values["HUNTER_DATABASE_URL"])
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(SnapshotRow)) == 5000  # each domain scanned once
        assert c.scalar(select(func.count()).select_from(LeadRow)) == 5000
        assert c.scalar(select(func.max(LeadRow.scan_count))) == 1
    items = JobStore(engine).items(job_id, limit=10_000)
    assert len(items) == 5000 and len({i.domain for i in items}) == 5000
    assert open_queue(SCAN_QUEUE, env["settings"], engine).length() == 0
    assert open_queue(poison_name(SCAN_QUEUE), env["settings"], engine).length() == 0


def test_threads_do_not_leak_from_the_worker(env):
    before = threading.active_count()
    call(env, "POST", "/v1/scans", json_body=domains(3, start=9000))
    drain()
    assert threading.active_count() <= before + 8  # the default executor's threads at most
