"""Shared fixtures: a real DNS server process on loopback and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("HUNTER_TEST_POSTGRES_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test")


@dataclass
class DnsServer:
    host: str
    port: int
    process: subprocess.Popen
    records_path: Path | None = None

    def reload(self, records: str) -> None:
        """Serve ``records`` from now on (SIGHUP to the server process; waits until it says so)."""
        assert self.records_path is not None
        self.records_path.write_text(records, encoding="utf-8")
        self.process.send_signal(signal.SIGHUP)
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "RELOADED", line

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def start_dns_server(records: str, directory: Path, *, delay_ms: float = 0) -> DnsServer:
    """Start ``shared.demo.dnsserver`` as its own process serving ``records``."""
    path = directory / f"records-{uuid.uuid4().hex[:8]}.txt"
    path.write_text(records, encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared.demo.dnsserver",
            "--records",
            str(path),
            "--port",
            "0",
            "--delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = process.stdout.readline().split()  # type: ignore[union-attr]
    if not line or line[0] != "READY":
        process.kill()
        raise RuntimeError(f"DNS server did not start: {process.stderr.read()}")  # type: ignore[union-attr]
    return DnsServer(line[1], int(line[2]), process, path)


@pytest.fixture(scope="session")
def dns_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DnsServer]]:
    servers: list[DnsServer] = []
    directory = tmp_path_factory.mktemp("dns")

    def factory(records: str, *, delay_ms: float = 0) -> DnsServer:
        server = start_dns_server(records, directory, delay_ms=delay_ms)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.process.terminate()
        server.process.wait(timeout=10)


def _postgres_database() -> Iterator[str]:
    """A fresh database on the real PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa

    name = f"hunter_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the environment is broken, say so loudly
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from shared.store.db import engine_for

        engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hunter.db'}"
    else:
        yield from _postgres_database()
