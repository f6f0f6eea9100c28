"""Shared caches and rate limits against real Redis servers, including one stopped mid-run.

Each test module process starts its own ``redis-server`` on a free port (nothing on disk), so
parallel test workers and other users of the machine's Redis never see each other's keys;
the tests that stop Redis start one of their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.api_server import free_port
from shared import aio
from shared.config import Settings
from shared.dns.client import DnsClient
from shared.http.dispatch import dispatch
from shared.http.types import HttpRequest
from shared.redis.cache import MemoryCache, RedisCache, cache_for
from shared.redis.connection import RedisConnection, connection_for
from shared.redis.limits import AsyncLimiter, RedisBuckets, buckets_for
from shared.runtime import Runtime
from shared.scan.pipeline import Scanner
from shared.scan.whois import WhoisClient
from shared.store.db import engine_for
from shared.store.keys import ApiKeyStore
from tests.integration.test_whois import ANSWER, WhoisStandIn
from tests.integration.zones import RECORDS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


class RedisServer:
    """A ``redis-server`` process of our own that a test may kill, pause and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.directory), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.kill()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A server for this test alone: it will be stopped mid-run."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def redis_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Handler(logging.INFO)
    logger = logging.getLogger("hunter.redis")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def warnings_in(records: list[logging.LogRecord]) -> int:
    return sum(r.levelno == logging.WARNING for r in records)


def settings_for(server: RedisServer, tmp_path: Path, **extra) -> Settings:
    return Settings(
        redis_url=server.url,
        redis_timeout=0.2,
        redis_retry_interval=0.5,
        database_url=f"sqlite:///{tmp_path / 'hunter.db'}",
        whois_enabled=False,
        **extra,
    )


def ready(context: Runtime) -> tuple[int, dict]:
    response = dispatch(HttpRequest("GET", "/healthz/ready"), context)
    return response.status, json.loads(response.body_bytes())


# -- the token bucket script ----------------------------------------------------------------


def test_bucket_grants_exactly_capacity_to_racing_threads(redis_server, prefix):
    buckets = RedisBuckets(RedisConnection(redis_server.url, timeout=2), prefix=prefix)
    grants = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        grants.append(sum(buckets.take("shared", 0.001, 50) == 0.0 for _ in range(40)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(grants) == 50  # 320 attempts, 50 tokens, no refill worth one within the window


def test_bucket_grants_exactly_capacity_to_racing_processes(redis_server, prefix):
    code = textwrap.dedent(f"""
        from shared.redis.limits import RedisBuckets
        from shared.redis.connection import RedisConnection
        buckets = RedisBuckets(RedisConnection({redis_server.url!r}, timeout=2), prefix={prefix!r})
        print(sum(buckets.take("shared", 0.001, 30) == 0.0 for _ in range(40)))
    """)
    workers = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    counts = [int(worker.communicate(timeout=60)[0]) for worker in workers]
    assert sum(counts) == 30


def test_bucket_retry_after_and_refill_use_the_server_clock(redis_server, prefix):
    buckets = RedisBuckets(RedisConnection(redis_server.url, timeout=2), prefix=prefix)
    rate = 2 / 60  # a 2-per-minute API key
    assert [buckets.take("minute", rate, 2) for _ in range(2)] == [0.0, 0.0]
    assert 29.0 < buckets.take("minute", rate, 2) <= 30.0
    assert buckets.take("fast", 2, 1) == 0.0
    wait = buckets.take("fast", 2, 1)
    assert 0.0 < wait <= 0.5
    time.sleep(wait + 0.02)
    assert buckets.take("fast", 2, 1) == 0.0
    client = redis_server.client()
    assert set(client.hgetall(f"{prefix}fast")) == {b"t", b"v"}
    assert 0 < client.pttl(f"{prefix}fast") <= 1500  # gone once it would be full again: no stale keys


def test_api_key_limits_are_shared_by_two_processes(redis_server, tmp_path):
    settings = settings_for(redis_server, tmp_path)
    context = Runtime(settings, time.monotonic())
    key, _ = ApiKeyStore(engine_for(settings.database_url)).create("shared", ["read"], rate_limit_per_minute=3)
    request = HttpRequest("GET", "/v1/leads", headers={"x-api-key": key})
    assert dispatch(request, context).status == 200
    other = Runtime(settings, time.monotonic())  # a second context in this process
    assert dispatch(request, other).status == 200
    code = textwrap.dedent(f"""
        import time
        from shared.config import Settings
        from shared.http.dispatch import dispatch
        from shared.runtime import Runtime
        from shared.http.types import HttpRequest
        context = Runtime(Settings(redis_url={settings.redis_url!r}, database_url={settings.database_url!r}), 0)
        request = HttpRequest("GET", "/v1/leads", headers={{"x-api-key": {key!r}}})
        for _ in range(2):
            response = dispatch(request, context)
            print(response.status, response.headers.get("Retry-After"))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, second = (line.split() for line in done.stdout.splitlines())
    assert first == ["200", "None"]  # the third request of the minute, from another process
    assert second[0] == "429" and 1 <= int(second[1]) <= 20
    assert dispatch(request, context).status == 429  # and this process sees the same empty bucket


# -- the cache ------------------------------------------------------------------------------


def test_cache_entries_expire_and_are_json_under_the_hunter_prefix(redis_server, prefix):
    connection = RedisConnection(redis_server.url, timeout=2)
    cache = RedisCache(connection, "t")
    key = prefix + "k"
    cache.set(key, {"registrar": "Örnek A.Ş.", "n": [1, 2]}, 0.3)
    assert cache.get(key) == {"registrar": "Örnek A.Ş.", "n": [1, 2]}
    raw = redis_server.client().get(f"hunter:t:{key}")
    assert json.loads(raw) == {"registrar": "Örnek A.Ş.", "n": [1, 2]}
    assert cache.get_many([key, prefix + "missing"]) == {key: {"registrar": "Örnek A.Ş.", "n": [1, 2]}}
    time.sleep(0.35)
    assert cache.get(key) is None and redis_server.client().exists(f"hunter:t:{key}") == 0
    cache.set_many([(prefix + "a", 1, 10), (prefix + "b", 2, 0)])  # a zero TTL is not stored
    assert cache.get_many([prefix + "a", prefix + "b"]) == {prefix + "a": 1}
    cache.delete(prefix + "a")
    assert cache.get(prefix + "a") is None


def test_dns_answers_are_shared_by_workers_with_a_capped_ttl(redis_server, tmp_path, dns_server_factory):
    dns = dns_server_factory(RECORDS)
    settings = settings_for(redis_server, tmp_path, dns_nameservers=[dns.address], dns_timeout=0.5, cache_dns_ttl=60)

    async def scan_twice() -> tuple[dict, dict, str | None]:
        first = Scanner(settings)  # two scanners: two workers' DNS clients, each with its own memory
        one = await first.scan_row_text("m365.com.tr")
        await first.close()  # flushes the shared writes
        second = Scanner(settings)
        two = await second.scan_row_text("m365.com.tr")
        await second.close()
        assert one.record.provider == two.record.provider == "M365"
        return first.client.stats, second.client.stats, two.record.mx[0].host

    stats_one, stats_two, mx = aio.run(scan_twice())
    assert stats_one["queries"] >= 15 and stats_one["shared_hits"] == 0
    assert stats_two["queries"] == 0 and stats_two["shared_hits"] >= 15  # all from Redis, none on the wire
    assert mx == "m365-com-tr.mail.protection.outlook.com"
    client = redis_server.client()
    ttl = client.pttl("hunter:dns:15:m365.com.tr")  # MX; the zone says 300 s, the setting caps it at 60
    assert 50_000 < ttl <= 60_000


def test_dns_queries_per_second_are_shared_by_workers(redis_server, tmp_path, dns_server_factory, prefix):
    dns = dns_server_factory(RECORDS)
    server = redis_server.client()
    server.config_resetstat()
    buckets = RedisBuckets(RedisConnection(redis_server.url, timeout=2), prefix=prefix)

    async def two_workers() -> float:
        clients = [DnsClient([dns.address], timeout=0.5, limiter=AsyncLimiter(buckets, "dns", 200)) for _ in range(2)]
        started = time.monotonic()
        # 400 distinct names (NXDOMAIN): with one bucket of 200/s and a burst of 200, one second at least.
        names = [(client, f"n{i}-{j}.example.org") for j, client in enumerate(clients) for i in range(200)]
        await asyncio.gather(*(client.query(name, "A") for client, name in names))
        elapsed = time.monotonic() - started
        for client in clients:
            await client.close()
        return elapsed

    elapsed = aio.run(two_workers())
    assert elapsed >= 0.9  # each worker alone would have been within its own burst
    calls = server.info("commandstats")
    scripts = sum(v["calls"] for k, v in calls.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    assert 2 <= scripts <= 40  # reservations are batched: far fewer round trips than 400 queries


def test_whois_answers_are_cached_and_queries_limited(redis_server, prefix):
    whois = WhoisStandIn(ANSWER)
    connection = RedisConnection(redis_server.url, timeout=2)
    buckets = RedisBuckets(connection, prefix=prefix)

    cache = RedisCache(connection, "whois", prefix=prefix)

    async def run() -> tuple[list, list]:
        client = WhoisClient(
            server=f"127.0.0.1:{whois.port}",
            timeout=2,
            cache=cache,
            cache_ttl=60,
            limiter=AsyncLimiter(buckets, "whois", 0.1, capacity=2, max_batch=1),
        )
        first = [await client.lookup(f"d{i}.com") for i in range(3)]  # a burst of 2, then 10 s > 2 s: skipped
        await client.close()
        again = WhoisClient(server=f"127.0.0.1:{whois.port}", timeout=2, cache=cache, cache_ttl=60)
        second = [await again.lookup("d0.com"), await again.lookup("d1.com")]
        return first, second

    try:
        first, second = aio.run(run())
    finally:
        whois.close()
    assert [i.registrar for i in first] == ["Example Registrar, LLC", "Example Registrar, LLC", None]
    assert "limit" in first[2].error
    assert [i.registrar for i in second] == ["Example Registrar, LLC"] * 2
    assert whois.queries == ["d0.com", "d1.com"]  # the second client was answered from the cache
    assert 0 < redis_server.client().pttl(f"{prefix}whois:127.0.0.1:{whois.port}|d0.com") <= 60_000


# -- the scan-result cache ------------------------------------------------------------------


def test_scan_answers_from_the_cache_and_rescan_replaces_it(redis_server, tmp_path, dns_server_factory):
    dns = dns_server_factory(RECORDS)
    settings = settings_for(redis_server, tmp_path, dns_nameservers=[dns.address], dns_timeout=0.5)
    context = Runtime(settings, time.monotonic())
    key, _ = ApiKeyStore(engine_for(settings.database_url)).create("scanner", ["scan"])
    headers = {"x-api-key": key, "content-type": "application/json"}

    def post(path: str, body: dict | None = None) -> tuple[str | None, dict]:
        request = HttpRequest("POST", path, headers=headers, body=json.dumps(body).encode() if body else b"")
        response = dispatch(request, context)
        assert response.status == 200, response.body
        return response.headers.get("X-Hunter-Cache"), json.loads(response.body_bytes())

    cache_state, first = post("/v1/scan", {"domain": "m365.com.tr"})
    assert cache_state == "miss"
    cache_state, again = post("/v1/scan", {"domain": "https://www.m365.com.tr/", "lang": "en"})
    assert cache_state == "hit" and again["scanned_at"] == first["scanned_at"]
    assert again["input"] == "https://www.m365.com.tr/" and again["sales_summary"]["metadata"]["lang"] == "en"
    other = Runtime(settings, time.monotonic())  # another instance sharing the Redis
    response = dispatch(HttpRequest("POST", "/v1/scan", headers=headers, body=b'{"domain": "m365.com.tr"}'), other)
    assert response.headers["X-Hunter-Cache"] == "hit"
    assert redis_server.client().exists("hunter:scan:m365.com.tr") == 1

    _, rescanned = post("/v1/leads/m365.com.tr/rescan")
    assert rescanned["scanned_at"] > first["scanned_at"]
    cache_state, after = post("/v1/scan", {"domain": "m365.com.tr"})
    assert cache_state == "hit" and after["scanned_at"] == rescanned["scanned_at"]  # the rescan replaced it


def test_scan_cache_yields_to_a_newer_scan_in_the_database(tmp_path, dns_server_factory):
    """Without Redis each process caches alone; the database's newer scan wins over a stale copy."""
    dns = dns_server_factory(RECORDS)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hunter.db'}",
        dns_nameservers=[dns.address],
        dns_timeout=0.5,
        whois_enabled=False,
    )
    context = Runtime(settings, time.monotonic())
    key, _ = ApiKeyStore(engine_for(settings.database_url)).create("scanner", ["scan"])
    request = HttpRequest("POST", "/v1/scan", headers={"x-api-key": key}, body=b'{"domain": "gw.com.tr"}')
    assert dispatch(request, context).headers["X-Hunter-Cache"] == "miss"
    assert dispatch(request, context).headers["X-Hunter-Cache"] == "hit"
    assert isinstance(context.scan_cache, MemoryCache)

    async def scan_elsewhere():  # a file scan by another process
        scanner = Scanner(settings)
        try:
            return await scanner.scan_row_text("gw.com.tr")
        finally:
            await scanner.close()

    context.leads.save([aio.run(scan_elsewhere())])
    assert dispatch(request, context).headers["X-Hunter-Cache"] == "miss"


# -- Redis going away mid-run ---------------------------------------------------------------


def test_redis_killed_mid_run_degrades_then_recovers(own_redis, tmp_path, dns_server_factory, redis_log):
    dns = dns_server_factory(RECORDS)
    settings = settings_for(own_redis, tmp_path, dns_nameservers=[dns.address], dns_timeout=0.5)
    context = Runtime(settings, time.monotonic())
    key, _ = ApiKeyStore(engine_for(settings.database_url)).create("k", ["admin"], rate_limit_per_minute=100_000)
    headers = {"x-api-key": key}
    connection = connection_for(settings)
    cache = cache_for(settings, "t")
    buckets = buckets_for(settings)

    def one_round(i: int) -> None:
        """Everything that touches Redis: none of it may fail."""
        cache.set(f"k{i}", i, 60)
        assert cache.get(f"k{i}") == i
        assert buckets.take(f"b{i % 3}", 1000, 1000) == 0.0
        assert dispatch(HttpRequest("GET", "/v1/dashboard", headers=headers), context).status == 200

    status, body = ready(context)
    assert (status, body["status"], body["checks"]) == (200, "ok", {"database": "ok", "redis": "ok"})
    for i in range(5):
        one_round(i)
    assert own_redis.client().exists("hunter:t:k0") == 1

    own_redis.kill()
    started = time.monotonic()
    for i in range(100):
        one_round(i)
    assert time.monotonic() - started < 10  # one refused connection, not 100 (or 100 timeouts)
    status, body = ready(context)
    assert status == 200 and body["status"] == "degraded" and body["checks"]["redis"] == "degraded"
    assert str(own_redis.port) not in json.dumps(body)  # the public probe names no host, port or error
    scan = dispatch(HttpRequest("POST", "/v1/scan", headers=headers, body=b'{"domain": "m365.com.tr"}'), context)
    assert scan.status == 200, scan.body
    assert connection.breaker.opens == 1 and warnings_in(redis_log) == 1  # one warning, not one per call

    own_redis.start()  # same port, empty
    time.sleep(settings.redis_retry_interval + 0.05)
    one_round(1000)  # the probe: Redis answers, the breaker closes
    assert connection.breaker.state == "closed"
    assert own_redis.client().get("hunter:t:k1000") == b"1000"  # used again
    assert ready(context)[1]["status"] == "ok"
    assert warnings_in(redis_log) == 1 and any("reachable again" in r.getMessage() for r in redis_log)


def test_a_hung_redis_costs_one_timeout_per_interval(own_redis, tmp_path, redis_log):
    settings = settings_for(own_redis, tmp_path)
    cache = cache_for(settings, "t")
    buckets = buckets_for(settings)
    cache.set("warm", 1, 60)  # a pooled connection exists
    own_redis.pause()  # accepts nothing, answers nothing: every call would wait the full timeout
    try:
        started = time.monotonic()
        calls = 0
        while time.monotonic() - started < 1.2:
            cache.get("warm")
            buckets.take("b", 100, 100)
            calls += 2
        elapsed = time.monotonic() - started
    finally:
        own_redis.resume()
    assert calls > 100  # without the breaker 1.2 s would have allowed six calls of 0.2 s
    assert elapsed < 1.2 + 0.8  # at most the timeout of the call in flight at the end
    assert connection_for(settings).breaker.opens == 1 and warnings_in(redis_log) == 1
    time.sleep(settings.redis_retry_interval + 0.05)
    assert cache.get("warm") == 1  # back, and the entry survived the pause
    assert connection_for(settings).breaker.state == "closed"


def test_dns_client_stops_reading_a_cache_that_never_hits(redis_server, dns_server_factory, monkeypatch, prefix):
    """A bulk scan of new domains: reads pause (no round trip before each query), writes go on."""
    import shared.dns.client as dns_client

    monkeypatch.setattr(dns_client, "SHARED_WINDOW", 50)
    dns = dns_server_factory(RECORDS)
    server = redis_server.client()
    cache = RedisCache(RedisConnection(redis_server.url, timeout=2), "dns", prefix=prefix)

    async def run() -> tuple[dict, int, int]:
        client = DnsClient([dns.address], timeout=0.5, shared_cache=cache)
        await asyncio.gather(*(client.query(f"new{i}.example.org", "A") for i in range(50)))
        server.config_resetstat()
        await asyncio.gather(*(client.query(f"more{i}.example.org", "A") for i in range(50)))
        await client.close()
        reads = server.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
        # Count what was stored, not SET calls: late writes of the first 50 may land after the reset.
        writes = sum(1 for _ in server.scan_iter(match=f"{prefix}*more*"))
        return client.stats, reads, writes

    stats, reads, writes = aio.run(run())
    assert stats["shared_pauses"] == 1 and stats["queries"] == 100
    assert reads == 0 and writes == 50  # the second 50 were not looked up, but were stored
