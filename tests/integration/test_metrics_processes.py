"""Metrics of several processes add up when they share a PROMETHEUS_MULTIPROC_DIR (as under ``hunter serve``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

COUNT_REQUESTS = textwrap.dedent("""
    import sys
    from shared.metrics import Metrics
    metrics = Metrics()
    for _ in range(int(sys.argv[1])):
        metrics.observe("get_dashboard", "GET", 200, 0.003)
    metrics.scans.labels("ok").inc()
    if len(sys.argv) > 2:
        sys.stdout.write(metrics.render().decode())
""")


def run(count: int, env: dict[str, str], *, render: bool = False) -> str:
    args = [sys.executable, "-c", COUNT_REQUESTS, str(count)] + (["render"] if render else [])
    done = subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sample(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def test_a_scrape_in_any_process_counts_every_process(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    run(3, env)  # two processes that have exited (a restarted worker's counts stay)
    run(4, env)
    text = run(5, env, render=True)
    requests = 'hunter_http_requests_total{method="GET",route="get_dashboard",status="200"}'
    assert sample(text, requests) == 12
    assert sample(text, 'hunter_http_request_seconds_count{route="get_dashboard"}') == 12
    assert sample(text, 'hunter_scans_total{status="ok"}') == 3


def test_without_the_directory_each_process_counts_alone(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": ""}
    run(3, env)
    text = run(5, env, render=True)
    assert sample(text, 'hunter_http_requests_total{method="GET",route="get_dashboard",status="200"}') == 5
