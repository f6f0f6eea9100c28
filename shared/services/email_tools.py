"""E-mail tools: validate addresses and list a company's likely role addresses, with each domain's
mail DNS. The pure part (syntax, flags, suggestions) is :mod:`shared.core.emails`.

Deliverability is a DNS fact about the domain, never about a mailbox: Hunter sends no mail and
makes no SMTP connection (no RCPT probing). Per RFC 5321 §5.1: MX records → deliverable; no MX
but an A/AAAA record → deliverable (the implicit MX); a null MX (RFC 7505), NXDOMAIN, or neither
MX nor address → not deliverable; a timeout or SERVFAIL → unknown (null). Each distinct domain
is asked once per call, through the scanner's DNS client (its servers, rate limit, answer cache
and, with Redis, the shared DNS cache), at most :data:`CONCURRENCY` domains at a time; verdicts are
kept in the process's ``mail-domains`` cache (Redis when configured) for ``cache_dns_ttl`` seconds,
unknown ones never.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared import aio
from shared.core.emails import DELIVERABLE, REASON_TEXT, AddressCheck, MailReason, check_address, suggested_addresses
from shared.dns.client import DnsClient, Outcome
from shared.redis.cache import cache_for
from shared.scan.pipeline import dns_client_for

if TYPE_CHECKING:
    from shared.config import Settings

CONCURRENCY = 32  # domains checked at once (each costs one to three queries)
# One API call's whole DNS budget (s): 1,000 distinct domains that never answer must not hold an HTTP
# request for minutes; what is not settled by then is "unknown" (null), like a timeout. The CLI has none.
CALL_BUDGET = 20.0
CACHE_NAMESPACE = "mail-domains"


async def mail_reason(client: DnsClient, domain: str, *, deadline: float | None = None) -> MailReason:
    """What DNS says about mail to ``domain`` (ASCII form)."""
    mx = await client.query(domain, "MX", deadline=deadline)
    if mx.outcome is Outcome.OK:
        if all(record.exchange in ("", ".") for record in mx.records):
            return MailReason.NULL_MX
        return MailReason.MX
    if mx.outcome is Outcome.NXDOMAIN:
        return MailReason.NXDOMAIN
    if mx.outcome.is_failure:
        return MailReason.DNS_UNANSWERED
    a, aaaa = await asyncio.gather(
        client.query(domain, "A", deadline=deadline), client.query(domain, "AAAA", deadline=deadline)
    )
    if a.ok or aaaa.ok:
        return MailReason.A_FALLBACK
    if a.outcome.is_failure or aaaa.outcome.is_failure:
        return MailReason.DNS_UNANSWERED
    return MailReason.NO_MAIL_HOST


async def _ask_all(
    settings: Settings, domains: list[str], progress: Callable[[int], None] | None, budget: float
) -> dict[str, MailReason]:
    client = dns_client_for(settings)
    semaphore = asyncio.Semaphore(CONCURRENCY)
    call_deadline = time.monotonic() + budget  # inf: none

    async def one(domain: str) -> tuple[str, MailReason]:
        async with semaphore:
            deadline = min(time.monotonic() + settings.dns_domain_budget, call_deadline)
            if deadline <= time.monotonic():
                reason = MailReason.DNS_UNANSWERED
            else:
                reason = await mail_reason(client, domain, deadline=deadline)
        if progress is not None:
            progress(1)
        return domain, reason

    try:
        return dict(await asyncio.gather(*(one(domain) for domain in domains)))
    finally:
        await client.close()


def mail_reasons(
    settings: Settings,
    domains: Iterable[str],
    *,
    progress: Callable[[int], None] | None = None,
    budget: float | None = None,
) -> dict[str, MailReason]:
    """The verdict for each distinct domain: from the cache, else asked once each, concurrently; with a
    ``budget`` (seconds), what is not settled within it is ``dns_unanswered``. ``None``: the module's
    :data:`CALL_BUDGET` (read at call time); pass ``float("inf")`` for none."""
    budget = CALL_BUDGET if budget is None else budget
    wanted = list(dict.fromkeys(domains))
    if not wanted:
        return {}
    cache = cache_for(settings, CACHE_NAMESPACE)
    ttl = settings.cache_dns_ttl
    found: dict[str, MailReason] = {}
    if ttl > 0:
        for domain, value in cache.get_many(wanted).items():
            try:
                found[domain] = MailReason(value)
            except ValueError:
                pass  # written by another version: ask again
        if progress is not None and found:
            progress(len(found))
    missing = [domain for domain in wanted if domain not in found]
    if missing:
        asked = aio.run(_ask_all(settings, missing, progress, budget))
        found.update(asked)
        if ttl > 0:
            cache.set_many(
                (domain, reason.value, ttl)
                for domain, reason in asked.items()
                if reason is not MailReason.DNS_UNANSWERED
            )
    return found


def result_item(check: AddressCheck, reason: MailReason | None) -> dict[str, Any]:
    """One address as ``POST /v1/email/validate`` answers it."""
    code = MailReason.INVALID_SYNTAX if not check.valid_syntax else reason
    detail = check.error if not check.valid_syntax else (REASON_TEXT[code] if code else None)
    return {
        "email": check.email,
        "normalized": check.normalized,
        "valid_syntax": check.valid_syntax,
        "domain": check.domain,
        "domain_unicode": check.domain_unicode,
        "deliverable": DELIVERABLE[code] if code else None,
        "free_mail": check.free_mail,
        "role_account": check.role_account,
        "disposable": check.disposable,
        "reason": code.value if code else None,
        "detail": detail,
    }


def validate_emails(
    settings: Settings,
    emails: list[str],
    *,
    progress: Callable[[int], None] | None = None,
    budget: float | None = None,
) -> list[dict[str, Any]]:
    """Every address checked, in input order; DNS asked once per distinct valid domain.

    ``progress(n)`` is called as addresses are settled (for a CLI progress bar)."""
    checks = [check_address(email) for email in emails]
    domains = [check.domain for check in checks if check.valid_syntax and check.domain]
    invalid = len(checks) - len(domains)
    if progress is not None and invalid:
        progress(invalid)
    per_domain: dict[str, int] = {}
    for domain in domains:
        per_domain[domain] = per_domain.get(domain, 0) + 1

    def domain_done(count: int) -> None:  # the CLI counts addresses, DNS settles domains
        if progress is not None:
            progress(count)

    reasons = mail_reasons(settings, domains, progress=None if progress is None else domain_done, budget=budget)
    if progress is not None:
        progress(len(domains) - len(per_domain))  # repeats of a domain settle with it
    return [result_item(check, reasons.get(check.domain) if check.domain else None) for check in checks]


def lead_addresses(settings: Settings, domain: str) -> dict[str, Any]:
    """The role addresses to try at ``domain`` (a lead's ASCII domain), ranked, with its mail DNS; for an
    internationalised domain each address also in Unicode (``info@şirket.com.tr``)."""
    from shared.core.domains import normalize

    reason = mail_reasons(settings, [domain])[domain]
    unicode_name = normalize(domain).unicode
    unicode_name = unicode_name if unicode_name != domain else None
    return {
        "domain": domain,
        "domain_unicode": unicode_name,
        "deliverable": DELIVERABLE[reason],
        "reason": reason.value,
        "detail": REASON_TEXT[reason],
        "addresses": [
            {
                "rank": rank,
                "email": address,
                "email_unicode": f"{item.local}@{unicode_name}" if unicode_name else None,
                "local_part": item.local,
                "note_en": item.note_en,
                "note_tr": item.note_tr,
                "role_account": True,
                "deliverable": DELIVERABLE[reason],
            }
            for rank, item, address in suggested_addresses(domain)
        ],
    }
