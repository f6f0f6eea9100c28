"""Bulk scan benchmark: end to end through the local runner and the ``local`` queue.

Starts the synthetic DNS server (every query answered after ``--delay-ms``, 20 ms by default,
like a real recursive resolver), ``hunter serve`` with N queue worker processes on a fresh
database, uploads ``--domains`` domains as a CSV file to ``POST /api/v1/scans`` and polls the
job until it is done. Reports domains/s from submission to completion, the peak RSS of the
runner (the server and its workers, sampled every 0.2 s) and the CPU seconds of the server, the
workers and the DNS server during the run (their sum per domain is what two cores must carry).

The DNS server stands in for the internet, so it must not be the bottleneck: it precomputes the
wire-format answers to every question about the benchmark's domains before the run (a
look-up and an ID patch per query, still held back ``--delay-ms`` on its event loop's timer);
the answers are the ones it would build per query. Before that change it spent about 1.2 ms of
CPU per domain (19 queries) building answers, on the same two cores as the workers.

    python bench/bulk_bench.py --domains 10000 --queue-workers 1
    python bench/bulk_bench.py --domains 10000 --queue-workers 1 2     (one run per count)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.api_server import start_api_server  # noqa: E402
from shared.store.db import make_engine, migrate  # noqa: E402
from shared.store.keys import ApiKeyStore  # noqa: E402


def start_dns(delay_ms: float, domains: int) -> tuple[subprocess.Popen, str]:
    """The synthetic DNS server, with every answer about the benchmark's domains precomputed: it
    stands in for the internet and must not be the bottleneck (see ``synthetic_dns.py``)."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "synthetic_dns.py"),
            "--port",
            "0",
            "--delay-ms",
            str(delay_ms),
            "--precompute",
            str(domains),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready = process.stdout.readline().split()  # type: ignore[union-attr]
    if not ready or ready[0] != "READY":
        raise RuntimeError("synthetic DNS server did not start")
    return process, f"{ready[1]}:{ready[2]}"


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree (the runner and its worker children), and the CPU
    seconds each of its processes used (kept at every sample, so a process's time survives it)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.cpu: dict[int, tuple[str, float]] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
            self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            for p in procs:
                times = p.cpu_times()
                role = "worker" if p.cmdline()[-1:] == ["worker"] else "server"
                self.cpu[p.pid] = (role, times.user + times.system)
        except psutil.Error:
            pass

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.sample()

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for role, seconds in self.cpu.values():
            totals[role] = totals.get(role, 0.0) + seconds
        return totals


def cpu_seconds(process: subprocess.Popen) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return times.user + times.system


def run_once(
    domains: int, queue_workers: int, dns: subprocess.Popen, nameserver: str, batch: int, database: str | None
) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="hunter-bulk-"))
    url = database or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    key, _ = ApiKeyStore(engine).create(f"bench-{time.time_ns()}", ["admin"], rate_limit_per_minute=1_000_000)
    engine.dispose()
    env = {
        "HUNTER_DATABASE_URL": url,
        "HUNTER_DNS_NAMESERVERS": nameserver,
        "HUNTER_DNS_TIMEOUT": "2.0",
        "HUNTER_WHOIS_ENABLED": "false",
        "HUNTER_BULK_BATCH_SIZE": str(batch),
        "HUNTER_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "runner.log").open("wb")
    server, base = start_api_server(env, queue_workers=queue_workers, log=log)
    sampler = RssSampler(server.pid)
    sampler.start()
    headers = {"X-API-Key": key}
    body = ("domain\n" + "".join(f"co{i}.com.tr\n" for i in range(1, domains + 1))).encode()
    try:
        dns_cpu = cpu_seconds(dns)
        started = time.perf_counter()
        reply = httpx.post(
            f"{base}/v1/scans", content=body, headers={**headers, "Content-Type": "text/csv"}, timeout=120
        )
        reply.raise_for_status()
        job = reply.json()
        submitted = time.perf_counter() - started
        while (state := httpx.get(f"{base}/v1/scans/{job['id']}", headers=headers, timeout=30).json())[
            "status"
        ] != "done":
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        dns_cpu = cpu_seconds(dns) - dns_cpu
        sampler.sample()
    finally:
        sampler.stop.set()
        server.terminate()
        server.wait(timeout=30)
        log.close()
    totals = state["totals"]
    return {
        "queue_workers": queue_workers,
        "domains": domains,
        "submit_s": submitted,
        "elapsed_s": elapsed,
        "rate": (totals["done"] + totals["failed"]) / elapsed,
        "failed": totals["failed"],
        "peak_rss_mb": sampler.peak / 2**20,
        "cpu": {**sampler.cpu_by_role(), "dns": dns_cpu},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--queue-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--delay-ms", type=float, default=20.0, help="DNS answer delay per query")
    parser.add_argument("--batch", type=int, default=100, help="domains per queue message")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file per run)")
    args = parser.parse_args()
    dns, nameserver = start_dns(args.delay_ms, args.domains)
    try:
        rows = [run_once(args.domains, n, dns, nameserver, args.batch, args.database) for n in args.queue_workers]
    finally:
        dns.terminate()
    print(f"\n{args.domains:,} domains, DNS {args.delay_ms:g} ms per query, {args.batch} domains per message")
    print(
        f"{'workers':>8} {'submit s':>9} {'total s':>8} {'domains/s':>10} {'failed':>7} {'peak RSS MB':>12}"
        "   CPU s: server / workers / DNS (ms per domain)"
    )
    for r in rows:
        cpu = r["cpu"]
        per = 1000 * sum(cpu.values()) / r["domains"]
        print(
            f"{r['queue_workers']:>8} {r['submit_s']:>9.2f} {r['elapsed_s']:>8.1f} {r['rate']:>10.0f} "
            f"{r['failed']:>7} {r['peak_rss_mb']:>12.0f}   "
            f"{cpu.get('server', 0):.1f} / {cpu.get('worker', 0):.1f} / {cpu['dns']:.1f} ({per:.1f})"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"gain {last['queue_workers']} vs {first['queue_workers']} workers: {last['rate'] / first['rate']:.2f}x")


if __name__ == "__main__":
    main()
