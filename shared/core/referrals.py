"""A Partner Center referral (the JSON of ``GET /v1.0/engagements/referrals``) → the columns of
``referrals``, and a lead's referral facts for scoring. Pure: no I/O.

The Referrals API has no website for the customer. The company domain therefore comes from the
customer's contacts (``customerProfile.team[].email``): the first address on a company domain
wins; addresses at free-mail providers (gmail.com, hotmail.com, outlook.com, yandex.com, ...)
say nothing about the company and are skipped. A referral with no company address is kept with
``link_status = domain_missing`` for a person to resolve, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.domains import parse
from shared.core.text import clean_text

LINKED = "linked"
DOMAIN_MISSING = "domain_missing"
LINK_STATUSES = (LINKED, DOMAIN_MISSING)

# Registrable domains (after Public Suffix reduction) of mailbox providers anyone can sign up
# to, plus domains that never name a company (Entra ID's default *.onmicrosoft.com tenant names,
# the documentation domains of RFC 2606). Kept as data, reviewed like the rules file.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Microsoft consumer
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es",
        "hotmail.com.tr", "outlook.com", "outlook.com.tr", "outlook.fr", "outlook.de", "outlook.es",
        "live.com", "live.co.uk", "live.fr", "live.de", "msn.com", "windowslive.com", "passport.com",
        # Google
        "gmail.com", "googlemail.com",
        # Yahoo / AOL
        "yahoo.com", "yahoo.com.tr", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.co.jp", "ymail.com",
        "rocketmail.com", "aol.com", "aim.com",
        # Apple
        "icloud.com", "me.com", "mac.com",
        # Yandex / Mail.ru
        "yandex.com", "yandex.com.tr", "yandex.ru", "yandex.ua", "yandex.by", "yandex.kz", "ya.ru",
        "mail.ru", "inbox.ru", "list.ru", "bk.ru",
        # Privacy and others
        "protonmail.com", "protonmail.ch", "proton.me", "pm.me", "tutanota.com", "tuta.io",
        "zohomail.com", "gmx.com", "gmx.net", "gmx.de", "web.de", "mail.com", "email.com",
        "fastmail.com", "hushmail.com", "qq.com", "163.com", "126.com",
        # Turkey
        "mynet.com", "superonline.com", "ttmail.com", "turk.net",
        # never a company
        "onmicrosoft.com", "example.com", "example.net", "example.org",
    }
)  # fmt: skip

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Keys of customerProfile.ids that carry the customer's Entra ID (Azure AD) tenant, compared
# without case, spaces, dashes or underscores. The documented ids are external ones (Duns,
# External); a tenant id is taken only from a key that says so and only if it is a GUID.
_TENANT_KEYS = frozenset(
    {"azureadtenantid", "aadtenantid", "azuretenantid", "entratenantid", "entraidtenantid", "tenantid",
     "microsofttenantid", "customertenantid", "msftenantid"}
)  # fmt: skip
# Column widths of ReferralRow: PostgreSQL refuses longer text, SQLite would keep it.
_WIDTH = {"id": 64, "engagement_id": 64, "name": 300, "type": 32, "qualification": 32, "status": 32,
          "substatus": 64, "direction": 16, "customer_name": 300, "customer_country": 64, "customer_size": 64,
          "customer_tenant_id": 64, "contact_domain": 253, "currency": 8}  # fmt: skip
REFERRAL_TYPES = ("Independent", "Shared")  # Partner Center's referral types (engagement types)
REFERRAL_STATUSES = ("New", "Active", "Closed")
CO_SELL_TYPES = frozenset({"shared"})  # Partner Center's type of a referral shared with Microsoft (co-sell)
OPEN_STATUSES = frozenset({"new", "active"})


class ReferralError(ValueError):
    """The item is not a referral we can store (no id)."""


def is_free_mail(domain: str) -> bool:
    """True for a free-mail provider (or a domain that never names a company)."""
    return domain.lower().rstrip(".") in FREE_MAIL_DOMAINS


def email_domain(address: object) -> str | None:
    """The registrable domain of an e-mail address, or None when it is not one."""
    if not isinstance(address, str) or "@" not in address:
        return None
    parsed = parse(address.strip())
    return parsed.domain.name if parsed.domain is not None else None


def contact_emails(referral: Mapping[str, Any]) -> list[str]:
    """The customer's contacts' e-mail addresses, in the order the referral lists them."""
    profile = referral.get("customerProfile") or {}
    team = profile.get("team") if isinstance(profile, Mapping) else None
    if not isinstance(team, list):
        return []
    return [str(member["email"]) for member in team if isinstance(member, Mapping) and member.get("email")]


def company_domain(emails: Iterable[str]) -> tuple[str | None, str | None]:
    """(company domain, first contact e-mail domain): the first address on a company domain wins."""
    first: str | None = None
    for address in emails:
        domain = email_domain(address)
        if domain is None:
            continue
        first = first or domain
        if not is_free_mail(domain):
            return domain, first
    return None, first


def tenant_id(referral: Mapping[str, Any]) -> str | None:
    """The customer's Entra ID tenant id from ``customerProfile.ids``, if the referral carries one."""
    profile = referral.get("customerProfile") or {}
    ids = profile.get("ids") if isinstance(profile, Mapping) else None
    if not isinstance(ids, Mapping):
        return None
    for key, value in ids.items():
        if re.sub(r"[\s_\-]", "", str(key)).lower() in _TENANT_KEYS and isinstance(value, str):
            value = value.strip().strip("{}")
            if _GUID.match(value):
                return value.lower()
    return None


def parse_timestamp(value: object) -> datetime | None:
    """Partner Center's ISO 8601 timestamps (up to 7 fraction digits, ``Z`` or an offset) as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if match and match.group(2):  # .NET writes 7 fraction digits; Python reads at most 6
        text = match.group(1) + "." + match.group(2)[1:7].ljust(6, "0") + match.group(3)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """For ``$filter``: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object, column: str) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return clean_text(str(value), _WIDTH[column])


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def referral_fields(referral: Mapping[str, Any]) -> dict[str, Any]:
    """The ``referrals`` columns for one referral (everything but the bookkeeping timestamps)."""
    referral_id = _text(referral.get("id"), "id")
    if not referral_id:
        raise ReferralError("a referral without an id")
    profile = referral.get("customerProfile") or {}
    profile = profile if isinstance(profile, Mapping) else {}
    address = profile.get("address") if isinstance(profile.get("address"), Mapping) else {}
    details = referral.get("details") if isinstance(referral.get("details"), Mapping) else {}
    domain, first = company_domain(contact_emails(referral))
    return {
        "id": referral_id,
        "engagement_id": _text(referral.get("engagementId"), "engagement_id"),
        "name": _text(referral.get("name"), "name"),
        "type": _text(referral.get("type"), "type"),
        "qualification": _text(referral.get("qualification"), "qualification"),
        "status": _text(referral.get("status"), "status"),
        "substatus": _text(referral.get("substatus"), "substatus"),
        "direction": _text(referral.get("direction"), "direction"),
        "customer_name": _text(profile.get("name"), "customer_name"),
        "customer_country": _text(address.get("country"), "customer_country"),  # type: ignore[union-attr]
        "customer_size": _text(profile.get("size"), "customer_size"),
        "customer_tenant_id": tenant_id(referral),
        "contact_domain": first,
        "deal_value": _number(details.get("dealValue")),  # type: ignore[union-attr]
        "currency": _text(details.get("currency"), "currency"),  # type: ignore[union-attr]
        "created_at": parse_timestamp(referral.get("createdDateTime")),
        "updated_at": parse_timestamp(referral.get("updatedDateTime")),
        "expires_at": parse_timestamp(referral.get("expirationDateTime")),
        "domain": domain,
        "link_status": LINKED if domain else DOMAIN_MISSING,
        "raw": dict(referral),
    }


@dataclass(frozen=True)
class ReferralFacts:
    """What a lead's referrals tell scoring: the ``LeadFacts`` fields, without importing scoring."""

    referral_type: str | None
    known_tenant: bool


def referral_facts(referrals: Iterable[Mapping[str, Any]]) -> ReferralFacts:
    """Facts from a lead's referrals (dicts with ``type``, ``status``, ``customer_tenant_id``, ``updated_at``).

    An open (New/Active) referral shared with Microsoft is a co-sell referral: the rules file's
    ``referral_cosell`` boost applies. A closed one no longer does (won or lost, the deal is
    decided). Any referral naming the customer's Entra ID tenant makes the tenant known.
    """
    items = list(referrals)
    known = any(item.get("customer_tenant_id") for item in items)
    cosell = any(
        str(item.get("type") or "").strip().lower() in CO_SELL_TYPES
        and str(item.get("status") or "").strip().lower() in OPEN_STATUSES
        for item in items
    )
    if cosell:
        return ReferralFacts("co-sell", known)
    newest = max(items, key=lambda item: item.get("updated_at") or datetime.min.replace(tzinfo=UTC), default=None)
    kind = str(newest.get("type") or "").strip() if newest else ""
    return ReferralFacts(kind.lower() or None, known)


PERSONAL_FIELDS = ("firstName", "lastName", "phoneNumber", "email")
REDACTED = "[redacted]"


def redact_contacts(referral: Mapping[str, Any]) -> dict[str, Any]:
    """The referral without the personal data of its people: the customer's contacts
    (``customerProfile.team``) and the partner's and Microsoft's team members (``team``) keep their
    e-mail domain (``emailDomain``: it is how a referral links to a company) and their contact
    preference; names, phone numbers and addresses become ``[redacted]``. Only admin keys see the
    referral as Partner Center sent it (README, "Security and operations")."""
    import copy

    redacted = copy.deepcopy(dict(referral))

    def scrub(team: Any) -> Any:
        if not isinstance(team, list):
            return team
        members = []
        for member in team:
            if not isinstance(member, Mapping):
                members.append(REDACTED)
                continue
            member = dict(member)
            member["emailDomain"] = email_domain(member.get("email"))
            for name in PERSONAL_FIELDS:
                if name in member:
                    member[name] = REDACTED
            members.append(member)
        return members

    if "team" in redacted:
        redacted["team"] = scrub(redacted["team"])
    profile = redacted.get("customerProfile")
    if isinstance(profile, Mapping) and "team" in profile:
        redacted["customerProfile"] = {**profile, "team": scrub(profile["team"])}
    return redacted
