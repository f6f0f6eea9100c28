"""DMARC (RFC 7489 §6.3–6.4): parse the TXT record at ``_dmarc.<domain>``.

Tag names are compared case-insensitively and whitespace around tags and values is
tolerated, as receivers do; everything else is strict. An invalid record is returned with
``valid=False`` and the reason — never "repaired" into a policy the owner did not publish.
"""

from __future__ import annotations

import re

from shared.core.models import DmarcInfo

_POLICIES = {"none", "quarantine", "reject"}
_PCT = re.compile(r"[0-9]{1,3}", re.ASCII)


def is_dmarc(text: str) -> bool:
    head = text.split(";", 1)[0].replace(" ", "").replace("\t", "")
    return head.lower() == "v=dmarc1"


def select_record(txts: list[str]) -> tuple[str | None, str | None]:
    records = [t.strip() for t in txts if is_dmarc(t.strip())]
    if not records:
        return None, None
    if len(records) > 1:
        return records[0], "more than one DMARC record (receivers ignore them all)"
    return records[0], None


def parse(record: str, *, error: str | None = None) -> DmarcInfo:
    tags: dict[str, str] = {}
    problems: list[str] = [error] if error else []
    parts = [p.strip() for p in record.split(";")]
    for index, part in enumerate(parts):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key:
            problems.append(f"malformed tag {part!r}")
            continue
        if index == 0 and (key != "v" or value != "DMARC1"):
            problems.append("the record must start with v=DMARC1")
        if key in tags:
            problems.append(f"duplicate tag {key}")
        tags.setdefault(key, value)

    policy = tags.get("p", "").lower() or None
    if policy is None:
        problems.append("required tag p is missing")
    elif policy not in _POLICIES:
        problems.append(f"p={tags['p']} is not none, quarantine or reject")
        policy = None
    sp = tags.get("sp", "").lower() or None
    subdomain_policy = sp or policy  # RFC 7489 §6.3: sp defaults to p
    if sp is not None and sp not in _POLICIES:
        problems.append(f"sp={tags['sp']} is not none, quarantine or reject")
        subdomain_policy = None
    pct = 100
    if "pct" in tags:
        if _PCT.fullmatch(tags["pct"]) and int(tags["pct"]) <= 100:
            pct = int(tags["pct"])
        else:
            problems.append(f"pct={tags['pct']} is not a whole number from 0 to 100")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            problems.append(f"{tag}={tags[tag]} is not r (relaxed) or s (strict)")
    return DmarcInfo(
        record=record,
        valid=not problems,
        error="; ".join(problems) or None,
        policy=policy,
        subdomain_policy=subdomain_policy,
        pct=pct,
        rua=_uris(tags.get("rua")),
        ruf=_uris(tags.get("ruf")),
        adkim=(tags.get("adkim") or "r").lower(),
        aspf=(tags.get("aspf") or "r").lower(),
    )


def _uris(value: str | None) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()] if value else []
