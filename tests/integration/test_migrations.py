"""Migrations are a locked deploy step; an instance refuses a schema that is not its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import Settings
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.runtime import Runtime
from shared.store.db import SchemaOutdatedError, current_revision, engine_for, head_revision, make_engine

ROOT = Path(__file__).resolve().parents[2]


def test_four_processes_migrating_one_fresh_database_at_once_all_succeed(database_url):
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shared", "migrate", "--db", database_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], [err[-800:] for _, err in outcomes]
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_without_auto_migrate_an_instance_refuses_an_outdated_schema(database_url):
    with pytest.raises(SchemaOutdatedError) as refused:
        engine_for(database_url, auto_migrate=False)
    assert "hunter migrate" in str(refused.value) and head_revision() in str(refused.value)

    runtime = Runtime(Settings(database_url=database_url, auto_migrate=False))
    startup = dispatch(HttpRequest("GET", "/healthz/startup"), runtime)
    assert startup.status == 503 and b"schema_outdated" in startup.body_bytes()
    api = dispatch(HttpRequest("GET", "/v1/leads", headers={"x-api-key": "hunter_x_y"}), runtime)
    assert api.status == 503 and b"hunter migrate" in api.body_bytes()
    assert database_url.split("@")[-1].encode() not in api.body_bytes()  # no database address in an answer

    done = subprocess.run(
        [sys.executable, "-m", "shared", "migrate", "--db", database_url], cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    served = Runtime(Settings(database_url=database_url, auto_migrate=False))
    assert dispatch(HttpRequest("GET", "/healthz/startup"), served).status == 200
    served.engine.dispose()
