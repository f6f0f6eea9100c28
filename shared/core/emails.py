"""E-mail addresses as data: syntax and normal form, free-mail, role-account and disposable flags,
and the role addresses worth trying at a company. Pure: no DNS here (that is
``shared.services.email_tools``), and Hunter never sends mail or probes a mailbox.

Syntax and normalisation are ``email-validator``'s (RFC 5321/5322 with internationalised
addresses, RFC 6531): the normal form keeps a person's local part as written (well-known
case-insensitive ones such as info@ and postmaster@ lower-cased) and lower-cases the domain
(Unicode NFC); the domain is also given in its ASCII (IDNA) form, the one DNS is asked about.
The free-mail list is the one the Partner Center mapping uses (:mod:`shared.core.referrals`), the
disposable list is the maintained ``disposable-email-domains`` package, the role names and the
ranked suggestions are data (``emails.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources

import yaml
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from email_validator import EmailNotValidError, validate_email

from shared.core.referrals import FREE_MAIL_DOMAINS
from shared.core.text import fold

MAX_EMAILS = 1000  # addresses per validation request
MAX_INPUT = 1024  # characters of one input looked at (an address is at most 254)


class MailReason(StrEnum):
    """Why an address is (not) deliverable: a stable code; :data:`REASON_TEXT` says it in English."""

    INVALID_SYNTAX = "invalid_syntax"
    MX = "mx"  # the domain publishes MX records
    A_FALLBACK = "a_fallback"  # no MX, but an address record: mail goes there (RFC 5321 §5.1)
    NULL_MX = "null_mx"  # "0 ." (RFC 7505): the domain accepts no mail
    NXDOMAIN = "nxdomain"  # the domain does not exist
    NO_MAIL_HOST = "no_mail_host"  # the domain exists with neither MX nor A/AAAA
    DNS_UNANSWERED = "dns_unanswered"  # timeout or SERVFAIL: not known


REASON_TEXT = {
    MailReason.INVALID_SYNTAX: "the address is not valid",
    MailReason.MX: "the domain publishes MX records",
    MailReason.A_FALLBACK: "no MX record; mail goes to the domain's address record (RFC 5321 §5.1)",
    MailReason.NULL_MX: "the domain publishes a null MX (RFC 7505): it accepts no mail",
    MailReason.NXDOMAIN: "the domain does not exist",
    MailReason.NO_MAIL_HOST: "the domain has neither an MX nor an address record",
    MailReason.DNS_UNANSWERED: "DNS did not answer (timeout or SERVFAIL); deliverability is unknown",
}
DELIVERABLE: dict[MailReason, bool | None] = {
    MailReason.MX: True,
    MailReason.A_FALLBACK: True,
    MailReason.NULL_MX: False,
    MailReason.NXDOMAIN: False,
    MailReason.NO_MAIL_HOST: False,
    MailReason.DNS_UNANSWERED: None,
    MailReason.INVALID_SYNTAX: None,
}


@dataclass(frozen=True)
class Suggestion:
    local: str
    note_en: str
    note_tr: str


@dataclass(frozen=True)
class EmailData:
    version: str
    suggested: tuple[Suggestion, ...]
    roles: frozenset[str]


@lru_cache(maxsize=1)
def email_data() -> EmailData:
    raw = yaml.safe_load(resources.files("shared.core").joinpath("emails.yaml").read_text(encoding="utf-8"))
    suggested = tuple(Suggestion(**item) for item in raw["suggested"])
    roles = frozenset(_role_key(name) for name in raw["roles"]) | {_role_key(s.local) for s in suggested}
    return EmailData(str(raw["version"]), suggested, roles)


_SEPARATORS = re.compile(r"[.\-_]")


def _role_key(local: str) -> str:
    return _SEPARATORS.sub("", fold(local.split("+", 1)[0]))


def is_role_account(local: str) -> bool:
    """info@, İletişim@, satis+web@, insan-kaynaklari@ … (a function, not a person)."""
    return _role_key(local) in email_data().roles


def _parents(domain: str) -> list[str]:
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]  # never the bare TLD


def is_free_mail(domain: str) -> bool:
    """A mailbox anyone can sign up for (gmail.com, yandex.com.tr, hotmail.com …), subdomains included."""
    return any(name in FREE_MAIL_DOMAINS for name in _parents(domain))


def is_disposable(domain: str) -> bool:
    """A throw-away mailbox domain (the disposable-email-domains list), subdomains included."""
    return any(name in DISPOSABLE_DOMAINS for name in _parents(domain))


@dataclass(frozen=True)
class AddressCheck:
    """What can be said about one address without DNS."""

    email: str  # as given
    normalized: str | None
    valid_syntax: bool
    domain: str | None  # ASCII (IDNA) form, lower case: what DNS is asked about
    domain_unicode: str | None
    free_mail: bool = False
    role_account: bool = False
    disposable: bool = False
    error: str | None = None  # why the syntax is invalid, in English


def check_address(email: str) -> AddressCheck:
    """Syntax, normal form and flags of one address (internationalised addresses allowed)."""
    text = email.strip()
    if len(text) > MAX_INPUT:
        return AddressCheck(email, None, False, None, None, error="the address is too long")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return AddressCheck(email, None, False, None, None, error=str(exc))
    domain = valid.ascii_domain.lower()
    return AddressCheck(
        email=email,
        normalized=valid.normalized,
        valid_syntax=True,
        domain=domain,
        domain_unicode=valid.domain,
        free_mail=is_free_mail(domain),
        role_account=is_role_account(valid.local_part),
        disposable=is_disposable(domain),
    )


def suggested_addresses(domain: str) -> list[tuple[int, Suggestion, str]]:
    """(rank from 1, suggestion, address) of the role addresses to try at ``domain``, most common first."""
    return [(rank, item, f"{item.local}@{domain}") for rank, item in enumerate(email_data().suggested, start=1)]
