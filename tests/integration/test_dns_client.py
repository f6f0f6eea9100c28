"""The DNS client against the loopback server: caching, de-duplication, limits, CNAMEs."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared import aio
from shared.dns.client import DnsClient, Outcome
from tests.integration.zones import RECORDS


@pytest.fixture(scope="module")
def dns(dns_server_factory):
    return dns_server_factory(RECORDS)


def run(coro_factory, **client_args):
    async def main():
        client = DnsClient(**client_args)
        try:
            return await coro_factory(client), client.stats
        finally:
            await client.close()

    return aio.run(main())


def test_identical_questions_in_flight_are_asked_once(dns):
    async def ask(client):
        return await asyncio.gather(*(client.query("spf.protection.outlook.com", "TXT") for _ in range(50)))

    answers, stats = run(ask, nameservers=[dns.address])
    assert all(a.ok and a.texts()[0].startswith("v=spf1") for a in answers)
    assert stats["queries"] == 1 and stats["cache_hits"] == 49


def test_answers_are_cached_by_ttl_and_failures_are_not(dns):
    async def ask(client):
        await client.query("m365.com.tr", "MX")
        await client.query("m365.com.tr", "MX")
        await client.query("x.slow.com", "A")
        await client.query("x.slow.com", "A")

    _, stats = run(ask, nameservers=[dns.address], timeout=0.1, attempts=1)
    assert stats["queries"] == 3  # MX once, the timed-out name twice
    assert stats["cache_hits"] == 1


def test_cname_chain_is_reported_and_followed(dns):
    async def ask(client):
        return await client.query("selector1._domainkey.m365.com.tr", "TXT")

    answer, _ = run(ask, nameservers=[dns.address])
    assert answer.cnames == ["selector1-m365-com-tr._domainkey.m365tr.onmicrosoft.com"]
    assert answer.texts() == ["v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEB"]


def test_nodata_nxdomain_servfail_timeout(dns):
    async def ask(client):
        return await asyncio.gather(
            client.query("nomx.com", "MX"),
            client.query("nothing.example.com", "MX"),
            client.query("broken.com", "MX"),
            client.query("slow.com", "MX"),
        )

    answers, _ = run(ask, nameservers=[dns.address], timeout=0.2, attempts=1)
    assert [a.outcome for a in answers] == [Outcome.NODATA, Outcome.NXDOMAIN, Outcome.SERVFAIL, Outcome.TIMEOUT]


def test_queries_per_second_limit(dns):
    names = [f"q{i}.nothing.example.com" for i in range(30)]

    async def ask(client):
        started = time.monotonic()
        await asyncio.gather(*(client.query(n, "A") for n in names))
        return time.monotonic() - started

    elapsed, stats = run(ask, nameservers=[dns.address], qps=40)
    assert stats["queries"] == 30
    # a one-second burst allowance of 40 would let all 30 through at once; so use a lower limit
    elapsed_low, _ = run(ask, nameservers=[dns.address], qps=10, cache_size=0)
    assert elapsed_low >= 1.5, elapsed_low  # 30 queries at 10/s with a 10-query burst take ≥ 2 s
    assert elapsed < elapsed_low


def test_concurrency_cap(dns_server_factory):
    slow = dns_server_factory(RECORDS, delay_ms=100)

    async def ask(client):
        started = time.monotonic()
        await asyncio.gather(*(client.query(f"c{i}.nothing.example.com", "A") for i in range(6)))
        return time.monotonic() - started

    capped, _ = run(ask, nameservers=[slow.address], concurrency=2)
    free, _ = run(ask, nameservers=[slow.address], concurrency=100)
    assert capped >= 0.28, capped  # three waves of 100 ms
    assert free < 0.25, free


def test_invalid_name_is_an_error_answer_not_an_exception(dns):
    async def ask(client):
        return await client.query("a" * 70 + ".com", "MX")

    answer, stats = run(ask, nameservers=[dns.address])
    assert answer.outcome is Outcome.ERROR and stats["queries"] == 0


# -- spoofing resistance -------------------------------------------------------------------------


class _ForgingServer(asyncio.DatagramProtocol):
    """Answers every A question with 192.0.2.1, echoing the question's case. With ``forge`` on it
    first sends, with the right ID, a forged answer (192.0.2.66) whose question is lower-cased, as an
    off-path attacker who guessed the ID but not the 0x20 case would."""

    def __init__(self) -> None:
        self.forge = False
        self.ports: set[int] = set()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        from shared.dns import wire

        self.ports.add(addr[1])
        _, _, qname, qtype, _ = wire.parse_query(data)
        asked = wire.decode_name(data, 12, keep_case=True)[0]
        if self.forge:
            forged = bytearray(wire.build_response(data, 0, [(qname, wire.A, 60, bytes([192, 0, 2, 66]))]))
            start = 12
            forged[start : start + len(wire.encode_name(asked))] = wire.encode_name(asked.lower())
            self.transport.sendto(bytes(forged), addr)
        self.transport.sendto(wire.build_response(data, 0, [(asked, wire.A, 60, bytes([192, 0, 2, 1]))]), addr)


def test_forged_answers_with_the_wrong_letter_case_are_ignored():
    async def main():
        loop = asyncio.get_running_loop()
        transport, server = await loop.create_datagram_endpoint(_ForgingServer, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        client = DnsClient([f"127.0.0.1:{port}"], timeout=1.0, max_ttl=0)
        try:
            warmup = [await client.query(f"warm-up-name-{i}.example.com", "A") for i in range(5)]
            server.forge = True
            answers = [await client.query(f"victim-company-{i}.example.com", "A") for i in range(20)]
            forged = sum(channel.forged for channels in client._channels.values() for channel in channels)
            return warmup, answers, forged
        finally:
            await client.close()
            transport.close()

    warmup, answers, forged = aio.run(main())
    assert all(a.ok for a in warmup)
    assert [a.records for a in answers] == [["192.0.2.1"]] * 20  # the real answer, every time
    assert forged >= 19  # each forged answer was seen and refused (one name may have had no letter to flip)


def test_message_ids_are_unpredictable_and_source_ports_rotate(monkeypatch):
    import random

    from shared.dns import client as client_module

    channel = client_module._UdpChannel()
    random.seed(7)
    first = [channel.free_id() for _ in range(50)]
    random.seed(7)
    assert [channel.free_id() for _ in range(50)] != first  # not the seeded Mersenne Twister

    monkeypatch.setattr(client_module, "ROTATE_AFTER", 10)

    async def main():
        loop = asyncio.get_running_loop()
        transport, server = await loop.create_datagram_endpoint(_ForgingServer, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        client = DnsClient([f"127.0.0.1:{port}"], timeout=1.0, max_ttl=0, sockets_per_server=1)
        try:
            answers = [await client.query(f"n{i}.example.com", "A") for i in range(60)]
            return answers, server.ports, client.stats
        finally:
            await client.close()
            transport.close()

    answers, ports, stats = aio.run(main())
    assert all(a.ok for a in answers)
    assert stats["rotations"] >= 5 and len(ports) >= 5  # a new source port every ten questions


def test_query_slots_hand_over_and_survive_cancellation():
    """The in-flight cap: a released slot goes to the longest waiter; a waiter cancelled while waiting,
    or after it was handed a slot, never loses that slot for the others."""
    from shared.dns.client import _Slots

    async def main():
        slots = _Slots(1)
        order: list[str] = []
        await slots.acquire()

        async def take(name: str) -> None:
            await slots.acquire()
            order.append(name)
            slots.release()

        first = asyncio.ensure_future(take("first"))
        cancelled = asyncio.ensure_future(take("cancelled"))
        last = asyncio.ensure_future(take("last"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        slots.release()
        await asyncio.gather(first, last)
        await slots.acquire()  # holds the only slot; the next two queue behind it
        handed = asyncio.ensure_future(take("handed-then-cancelled"))
        waiting = asyncio.ensure_future(take("after"))
        await asyncio.sleep(0)
        slots.release()  # handed to "handed-then-cancelled" ...
        handed.cancel()  # ... which is cancelled before it runs: the slot must reach "after"
        await asyncio.wait_for(waiting, 1.0)
        return order, cancelled.cancelled(), slots.free

    order, was_cancelled, free = aio.run(main())
    assert order == ["first", "last", "after"] and was_cancelled and free == 1


def test_cached_answers_without_asking(dns):
    """``cached`` gives what ``query`` would give from the cache, and None where a question is needed."""

    async def ask(client):
        before = client.cached("m365.com.tr", "MX")
        asked = await client.query("M365.com.tr.", "MX")
        return before, asked, client.cached("m365.com.tr", "MX"), client.cached("nothere.m365.com.tr", "MX")

    (before, asked, cached, other), stats = run(ask, nameservers=[dns.address])
    assert before is None and other is None
    assert cached == asked and cached.ok and stats["queries"] == 1 and stats["cache_hits"] == 1
