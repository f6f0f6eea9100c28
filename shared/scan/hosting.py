"""Hosting enrichment: where a company's mail servers and website live.

For the first addresses of the MX hosts and of the apex (``HUNTER_HOSTING_ADDRESSES``, 3 by
default: a handful of extra questions per domain, never one per address), the reverse DNS (PTR)
through Hunter's own DNS client and — when ``HUNTER_IP_DB_PATH`` names a MaxMind-format database
(GeoLite2-ASN/City, IPinfo Lite, DB-IP Lite) — the autonomous system, its organisation and the
country. The database is opened once per process (memory-mapped) and read locally: no network.

What the addresses *mean* (the hosting company, the one-line summary, supporting evidence for
the classifier) is decided in the pure core (:mod:`shared.core.hosting`); this module only asks.
A missing or unreadable database is said once in the log and on each record (``hosting.error``);
it never fails a scan.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from shared.core.models import HostedAddress, HostingInfo, MxHost
from shared.core.providers import provider_data
from shared.dns.client import Answer, DnsClient

log = logging.getLogger("hunter.scan.hosting")


class IpDatabaseError(RuntimeError):
    """The IP database named by ``HUNTER_IP_DB_PATH`` cannot be read."""


def _country(record: dict[str, Any]) -> str | None:
    country = record.get("country")
    if isinstance(country, dict):  # GeoLite2/DB-IP City and Country: {"country": {"iso_code": "TR"}}
        code = country.get("iso_code")
    elif isinstance(country, str) and len(country) == 2:  # IPinfo's older country_asn: "country": "TR"
        code = country
    else:
        code = record.get("country_code")  # IPinfo Lite
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def _asn(record: dict[str, Any]) -> tuple[int | None, str | None]:
    number = record.get("autonomous_system_number")  # GeoLite2-ASN, DB-IP ASN Lite
    org = record.get("autonomous_system_organization")
    if number is None and isinstance(record.get("asn"), str | int):  # IPinfo Lite: "asn": "AS13335"
        raw = str(record["asn"]).upper().removeprefix("AS")
        number = int(raw) if raw.isdigit() else None
        org = record.get("as_name") or org
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    return (number if isinstance(number, int) else None), (org if isinstance(org, str) and org else None)


def read_fields(record: Any) -> tuple[int | None, str | None, str | None]:
    """(ASN, AS organisation, ISO country) from one database record, whatever its vendor's layout."""
    if not isinstance(record, dict):
        return None, None, None
    asn, org = _asn(record)
    return asn, org, _country(record)


class IpDatabase:
    """One or more MaxMind-format databases read together (an ASN file and a City file complement
    each other); a field comes from the first file that has it."""

    def __init__(self, paths: Sequence[str]) -> None:
        import maxminddb

        self.paths = list(paths)
        self._readers = []
        for path in self.paths:
            try:
                mode = maxminddb.MODE_MMAP_EXT if _has_extension() else maxminddb.MODE_MMAP
                self._readers.append(maxminddb.open_database(path, mode))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                self.close()
                raise IpDatabaseError(f"cannot read the IP database {path}: {exc}") from None

    def lookup(self, ip: str) -> tuple[int | None, str | None, str | None]:
        """(ASN, organisation, country); Nones for an address the files do not know. Never raises."""
        asn = org = country = None
        for reader in self._readers:
            try:
                found = read_fields(reader.get(ip))
            except Exception:  # a damaged data section, an address of the other family
                continue
            asn, org, country = asn or found[0], org or found[1], country or found[2]
            if asn and org and country:
                break
        return asn, org, country

    def close(self) -> None:
        for reader in self._readers:
            try:
                reader.close()
            except Exception:
                pass
        self._readers = []


def _has_extension() -> bool:
    try:
        import maxminddb.extension  # noqa: F401
    except ImportError:
        return False
    return True


_databases: dict[str, IpDatabase | IpDatabaseError] = {}
_databases_lock = threading.Lock()


def ip_database(setting: str) -> IpDatabase:
    """The process's database for ``HUNTER_IP_DB_PATH`` (one path, or several comma-separated),
    opened on first use and kept; raises :class:`IpDatabaseError` (also remembered) when unreadable."""
    with _databases_lock:
        found = _databases.get(setting)
        if found is None:
            paths = [part.strip() for part in setting.split(",") if part.strip()]
            try:
                found = IpDatabase(paths)
            except IpDatabaseError as exc:
                found = exc
                log.error("hosting enrichment without the IP database: %s", exc)
            _databases[setting] = found
    if isinstance(found, IpDatabaseError):
        raise found
    return found


def _first_address(addresses: Sequence[str]) -> str | None:
    """An IPv4 address when there is one (what PTR and IP databases know best), else the first."""
    return next((a for a in addresses if ":" not in a), addresses[0] if addresses else None)


@lru_cache(maxsize=1)
def _known_service_names() -> tuple[tuple[str, ...], frozenset[str]]:
    """(suffixes, exact names) of the MX hosts of the big providers and the gateways (``providers.yaml``)."""
    data = provider_data()
    patterns = [p for name, spec in data.providers.items() if name != "Hosting" for p in spec.get("mx", [])]
    patterns += [p for gateway in data.gateways for p in gateway.patterns]
    suffixes = tuple("." + p[2:] for p in patterns if p.startswith("*."))
    exact = frozenset(p[2:] if p.startswith("*.") else p for p in patterns)
    return suffixes, exact


def _ptr_worth_asking(host: str) -> bool:
    """The reverse DNS of a big provider's or a gateway's MX address names only that provider,
    which the MX host already does: only other hosts are worth a question."""
    suffixes, exact = _known_service_names()
    return not (host in exact or host.endswith(suffixes))


class HostingEnricher:
    """Picks the addresses, asks their PTR, reads the IP database. ``slots`` bounds the addresses."""

    def __init__(self, slots: int, database: IpDatabase | None = None, database_error: str | None = None) -> None:
        self.slots = slots
        self.database = database
        self.database_error = database_error

    async def enrich(
        self, client: DnsClient, name: str, mx_hosts: Sequence[MxHost], apex: Answer, deadline: float
    ) -> HostingInfo | None:
        apex_ip = _first_address(apex.records) if apex.ok else None
        mx_slots = self.slots - 1 if apex_ip and self.slots > 1 else self.slots
        picked: list[tuple[str, str, str, bool]] = []  # ip, role, host, ask PTR
        for host in mx_hosts:
            if len(picked) >= mx_slots:
                break
            ip = _first_address(host.addresses)
            if ip is not None and all(ip != p[0] for p in picked):
                picked.append((ip, "mx", host.host, _ptr_worth_asking(host.host)))
        if apex_ip is not None and len(picked) < self.slots:
            picked.append((apex_ip, "apex", name, True))
        if not picked:
            return HostingInfo(error=self.database_error) if self.database_error else None
        asked = [ip for ip, _, _, ask in picked if ask]
        if len(asked) == 1:  # one question needs no gather (its tasks cost more CPU than the question)
            answers = [await client.query(_reverse(asked[0]), "PTR", deadline=deadline)]
        else:
            answers = await asyncio.gather(*(client.query(_reverse(ip), "PTR", deadline=deadline) for ip in asked))
        ptrs = {
            ip: (answer.records[0] if answer.ok and answer.records else None)
            for ip, answer in zip(asked, answers, strict=True)
        }
        addresses = []
        for ip, role, host, _ in picked:
            asn, org, country = self.database.lookup(ip) if self.database is not None else (None, None, None)
            ptr = ptrs.get(ip)
            addresses.append(
                HostedAddress(
                    ip=ip,
                    role=role,
                    host=host,
                    ptr=ptr.lower().rstrip(".") if isinstance(ptr, str) else None,
                    asn=asn,
                    org=org,
                    country=country,
                )
            )
        return HostingInfo(addresses=addresses, error=self.database_error)


def _reverse(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


def enricher_for(slots: int, ip_db_path: str | None) -> HostingEnricher | None:
    """What the settings ask for: None with no slots; a database error is kept for every record."""
    if slots <= 0:
        return None
    if not ip_db_path:
        return HostingEnricher(slots)
    try:
        return HostingEnricher(slots, ip_database(ip_db_path))
    except IpDatabaseError as exc:
        return HostingEnricher(slots, None, str(exc))
