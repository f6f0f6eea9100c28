"""Scan benchmark: N synthetic domains through the real CLI pipeline into SQLite.

The DNS server (``bench/synthetic_dns.py``) runs as its own process on 127.0.0.1 and holds
every answer back ``--delay-ms`` (20 ms by default, like a recursive resolver). The scanner
is ``python -m shared scan --input FILE --json`` exactly as a user runs it. Reported: domains/s
from start to exit, p50/p95 per-domain latency (in ms and in round trips), DNS queries per
domain, CPU milliseconds per domain of the scanner processes (the parent and its workers, user +
system, from psutil) and of the DNS server, and the scanner's peak RSS.

The DNS server precomputes its answers about the benchmark's domains (``--precompute``) so that it
is not what is measured: its CPU per domain is printed to show it stays small.

    python bench/scan_bench.py --domains 10000
    python bench/scan_bench.py --domains 100000    # the memory check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def start_dns(delay_ms: float, domains: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "synthetic_dns.py"),
            "--port",
            "0",
            "--delay-ms",
            str(delay_ms),
            *(["--precompute", str(domains)] if domains else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        raise SystemExit(f"DNS server did not start: {proc.stderr.read()}")
    return proc, int(line[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=None, help="HUNTER_SCAN_CONCURRENCY for the run")
    parser.add_argument("--workers", type=int, default=1, help="scanner processes (hunter scan --workers)")
    parser.add_argument("--no-precompute", action="store_true", help="the DNS server builds each answer on demand")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hunter-bench-"))
    inputs = workdir / "domains.txt"
    inputs.write_text("".join(f"co{i}.com.tr\n" for i in range(1, args.domains + 1)))
    dns_proc, port = start_dns(args.delay_ms, 0 if args.no_precompute else args.domains)
    dns_ps = psutil.Process(dns_proc.pid)
    dns_cpu_before = _cpu(dns_ps)
    env = dict(
        os.environ,
        HUNTER_DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        HUNTER_WHOIS_ENABLED="false",
        HUNTER_DNS_NAMESERVERS=f"127.0.0.1:{port}",
    )
    if args.concurrency:
        env["HUNTER_SCAN_CONCURRENCY"] = str(args.concurrency)
    # Bytecode cached as in an installed copy (outside the work tree): with PYTHONDONTWRITEBYTECODE each
    # scanner process would compile the project's modules again, ~0.2 s of CPU per process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    # Create the schema first so the timed run measures scanning, not the one-off migration (this and
    # the import below also fill the bytecode cache).
    subprocess.run([sys.executable, "-m", "shared", "migrate"], env=env, check=True, capture_output=True)
    warm = "import shared.cli.scan, shared.scan.pipeline, shared.services.after_scan, shared.services.parallel_scan"
    subprocess.run([sys.executable, "-c", warm], env=env, check=True, capture_output=True, cwd=ROOT)

    started = time.monotonic()
    scanner = subprocess.Popen(
        [sys.executable, "-m", "shared", "scan", "--input", str(inputs), "--json", "--workers", str(args.workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=workdir,
    )
    peak = 0  # the largest single process (parent or worker)
    proc = psutil.Process(scanner.pid)
    cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system), last seen

    def watch() -> None:
        nonlocal peak
        while scanner.poll() is None:
            try:
                for p in [proc, *proc.children(recursive=True)]:
                    with p.oneshot():
                        peak = max(peak, p.memory_info().rss)
                        cpu[p.pid] = _cpu(p)
            except psutil.Error:
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for line in scanner.stdout:
        row = json.loads(line)
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        if row["duration_ms"] is not None:
            latencies.append(row["duration_ms"])
    # The scanner's own CPU, read before it is reaped (exited workers were last seen by the watcher
    # moments before they finished; the parent waits for them, so that misses at most ~50 ms each).
    try:
        while scanner.poll() is None:
            for p in [proc, *proc.children(recursive=True)]:
                cpu[p.pid] = _cpu(p)
            time.sleep(0.01)
    except psutil.Error:
        pass
    rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    scanner.wait()
    elapsed = time.monotonic() - started
    watcher.join()
    rusage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Reaped children (the scanner and, through it, its workers) are counted exactly by the kernel.
    scanner_cpu = max(
        sum(cpu.values()),
        (rusage.ru_utime + rusage.ru_stime) - (rusage_before.ru_utime + rusage_before.ru_stime),
    )
    dns_cpu = _cpu(dns_ps) - dns_cpu_before
    dns_proc.terminate()
    _, server_err = dns_proc.communicate(timeout=10)
    queries = int(server_err.split("queries")[-1].split()[0]) if "queries" in server_err else 0
    if scanner.returncode != 0:
        raise SystemExit(f"scan failed: {scanner.stderr.read()}")

    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"domains            {len(latencies)} of {args.domains}  {statuses}")
    print(f"delay per query    {args.delay_ms:g} ms")
    print(f"throughput         {len(latencies) / elapsed:,.0f} domains/s  ({elapsed:.1f} s wall)")
    print(f"latency p50        {p50:.0f} ms = {p50 / args.delay_ms:.1f} round trips")
    print(f"latency p95        {p95:.0f} ms = {p95 / args.delay_ms:.1f} round trips")
    print(f"queries on server  {queries:,} ({queries / max(1, len(latencies)):.1f} per domain)")
    print(f"workers            {args.workers}")
    per = max(1, len(latencies))
    print(f"scanner CPU        {scanner_cpu * 1000 / per:.2f} ms per domain ({scanner_cpu:.1f} s)")
    if len(cpu) > 1:  # with workers: the parent's share (it relays the JSON lines), as last sampled
        others = sorted(seconds for pid, seconds in cpu.items() if pid != scanner.pid)
        workers = ", ".join(f"{seconds:.1f}" for seconds in others)
        print(f"  by process       parent {cpu.get(scanner.pid, 0.0):.1f} s, others {workers} s")
    print(f"DNS server CPU     {dns_cpu * 1000 / per:.2f} ms per domain ({dns_cpu:.1f} s)")
    print(f"peak RSS           {peak / 2**20:.0f} MB (largest scanner process)")


def _cpu(p: psutil.Process) -> float:
    times = p.cpu_times()
    return times.user + times.system


if __name__ == "__main__":
    main()
