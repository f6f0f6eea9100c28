"""Turn a scan and its score into what a sales rep needs before picking up the phone.

Everything here is a pure function of (record, score, lang, generated_at): the words come
from ``texts_<lang>.yaml``, the plans and prices from ``offers.yaml`` and the weights from
``playbook.yaml``. Code decides only *which* sentence applies to this lead and fills it with
the lead's real facts (its domain, host, gateway, DMARC policy and coverage, tenant); a
sentence that needs a fact the lead does not have is a bug and raises instead of printing a
placeholder.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.core.models import ScanRecord
from shared.core.sales.data import (
    GAP_QUESTION_FOR,
    FindingCode,
    OfferRule,
    Offers,
    Playbook,
    TechHooks,
    Texts,
    UrgencyTrigger,
    check_lang,
    load_offers,
    load_playbook,
    load_tech_hooks,
    load_texts,
    template_fields,
)
from shared.core.scoring.changes import TRANSIENT_STATUSES
from shared.core.scoring.engine import ScoreResult
from shared.core.scoring.facts import DmarcState, Facts, SpfState, extract_facts
from shared.core.scoring.rules import CommercialSegment

CLOUD_COMPETITORS = frozenset({"Google", "Zoho", "Yandex"})
MAIL_SERVICES = frozenset({"Amazon", "SendGrid", "Mailgun"})
_LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}
MAX_QUESTIONS = 6
MIN_QUESTIONS = 3


class SalesTextError(RuntimeError):
    """A text needs a fact this lead does not have: the variant selection is wrong."""


class OfferTier(BaseModel):
    """The Microsoft 365 plan that fits this lead, and why."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str
    name: str
    reason: str
    monthly_price: float | None = Field(None, description="list price per user per month")
    currency: str | None = None
    price_text: str | None = None
    price_note: str | None = None


class Urgency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["low", "medium", "high"]
    reason: str
    triggers: list[UrgencyTrigger] = Field(default_factory=list)


class SalesMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules_version: str
    offers_version: str
    generated_at: datetime
    lang: str


class SalesSummary(BaseModel):
    """A call-ready brief for one lead, in one language."""

    model_config = ConfigDict(extra="forbid")

    domain: str
    priority_category: str
    priority_label: str
    one_liner: str
    call_script: list[str] = Field(min_length=2)
    discovery_questions: list[str] = Field(min_length=MIN_QUESTIONS, max_length=MAX_QUESTIONS)
    offer_tier: OfferTier | None
    opportunity_potential: int = Field(ge=0, le=100)
    urgency: Urgency
    security_findings: list[str]
    technologies_line: str | None = Field(None, description="the technologies seen in the lead's DNS, as a sentence")
    technology_hooks: list[str] = Field(
        default_factory=list, description="talking points from those technologies (a Teams or CRM conversation, ...)"
    )
    next_action: str
    metadata: SalesMetadata


# --------------------------------------------------------------------------- helpers


def _render(template: str, ctx: dict[str, str], where: str) -> str:
    missing = sorted(f for f in template_fields(template) if f not in ctx)
    if missing:
        raise SalesTextError(f"text {where} needs {', '.join(missing)}, which this lead does not have")
    return template.format_map(ctx)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _primary_mx(record: ScanRecord) -> str | None:
    hosts = sorted((mx for mx in record.mx if mx.host), key=lambda mx: (mx.preference, mx.host))
    return hosts[0].host if hosts else None


def _security_gaps(facts: Facts) -> bool:
    return (
        facts.spf in (SpfState.MISSING, SpfState.PERMERROR)
        or not facts.dkim
        or facts.dmarc in (DmarcState.MISSING, DmarcState.INVALID, DmarcState.NONE)
    )


def _findings(record: ScanRecord, facts: Facts) -> list[FindingCode]:
    """Security gaps in severity order (the order of :class:`FindingCode`)."""
    if not facts.can_receive_mail:
        return []  # no mail, no mail security to sell; records of a failed scan are unreliable
    found: set[FindingCode] = set()
    spf = record.spf
    enforcing_dmarc = facts.dmarc in (DmarcState.QUARANTINE, DmarcState.REJECT)
    if facts.spf is SpfState.MISSING:
        found.add(FindingCode.SPF_MISSING)
    elif facts.spf is SpfState.PERMERROR:
        found.add(FindingCode.SPF_OVER_LIMIT if spf and spf.over_lookup_limit else FindingCode.SPF_PERMERROR)
    elif facts.spf is SpfState.TEMPERROR:
        found.add(FindingCode.SPF_TEMPERROR)
    if spf is not None and facts.spf is SpfState.VALID:
        if spf.all == "+all":
            found.add(FindingCode.SPF_PASS_ALL)
        elif spf.all == "?all":
            found.add(FindingCode.SPF_NEUTRAL_ALL)
        elif spf.all == "~all" and not enforcing_dmarc:
            found.add(FindingCode.SPF_SOFTFAIL)
        elif spf.all is None and spf.redirect is None:
            found.add(FindingCode.SPF_NO_ALL)
    if not facts.dkim:
        found.add(FindingCode.DKIM_MISSING)
    dmarc_codes = {
        DmarcState.MISSING: FindingCode.DMARC_MISSING,
        DmarcState.INVALID: FindingCode.DMARC_INVALID,
        DmarcState.NONE: FindingCode.DMARC_NONE,
    }
    if facts.dmarc in dmarc_codes:
        found.add(dmarc_codes[facts.dmarc])
    if enforcing_dmarc and facts.dmarc_pct < 100:
        found.add(FindingCode.DMARC_PARTIAL)
    if record.dmarc is not None and record.dmarc.valid and not record.dmarc.rua:
        found.add(FindingCode.DMARC_NO_REPORTS)
    return [code for code in FindingCode if code in found]


def _select_offer(facts: Facts, offers: Offers) -> OfferRule:
    values = {
        "can_receive_mail": facts.can_receive_mail,
        "provider": facts.provider,
        "tenant_size": facts.tenant_size,
        "has_gateway": facts.gateway is not None,
        "security_gaps": _security_gaps(facts),
    }
    for rule in offers.selection:
        when = rule.when
        if (
            (when.can_receive_mail is None or when.can_receive_mail is values["can_receive_mail"])
            and (when.provider is None or values["provider"] in when.provider)
            and (when.tenant_size is None or values["tenant_size"] in when.tenant_size)
            and (when.has_gateway is None or when.has_gateway is values["has_gateway"])
            and (when.security_gaps is None or when.security_gaps is values["security_gaps"])
        ):
            return rule
    raise AssertionError("unreachable: the last offer rule matches everything")


def _format_amount(amount: float, texts: Texts) -> str:
    return f"{amount:.2f}".replace(".", texts.decimal_separator)


def _urgency_triggers(
    record: ScanRecord, facts: Facts, playbook: Playbook, now: datetime, ctx: dict[str, str], texts: Texts
) -> list[UrgencyTrigger]:
    triggers: list[UrgencyTrigger] = []
    expires = record.whois.expires if record.whois else None
    if expires is not None:
        days = (_as_utc(expires).date() - now.date()).days
        ctx["expiry_date"] = _as_utc(expires).strftime(texts.date_format)
        if days < 0:
            ctx["days_since_expiry"] = str(-days)
            triggers.append(UrgencyTrigger.DOMAIN_EXPIRED)
        elif days <= playbook.urgency.domain_expiry_days:
            ctx["days_to_expiry"] = str(days)
            triggers.append(UrgencyTrigger.DOMAIN_EXPIRING)
    if not facts.can_receive_mail:
        return triggers
    if facts.dmarc in (DmarcState.MISSING, DmarcState.INVALID):
        triggers.append(
            UrgencyTrigger.COMPETITOR_NO_DMARC if facts.provider in CLOUD_COMPETITORS else UrgencyTrigger.NO_DMARC
        )
    elif facts.dmarc is DmarcState.NONE:
        triggers.append(UrgencyTrigger.DMARC_MONITOR_ONLY)
    elif facts.dmarc_pct < 100:
        triggers.append(UrgencyTrigger.DMARC_PARTIAL)
    if facts.spf is SpfState.PERMERROR:
        triggers.append(UrgencyTrigger.SPF_BROKEN)
    elif facts.spf is SpfState.MISSING:
        triggers.append(UrgencyTrigger.NO_SPF)
    if not facts.dkim:
        triggers.append(UrgencyTrigger.NO_DKIM)
    return triggers


def _urgency(
    triggers: list[UrgencyTrigger], facts: Facts, playbook: Playbook, texts: Texts, ctx: dict[str, str]
) -> Urgency:
    levels = playbook.urgency.levels
    if not triggers:
        key = "none" if facts.can_receive_mail else "no_mail"
        return Urgency(level="low", reason=_render(texts.urgency[key], ctx, f"urgency.{key}"))
    level = max((levels[t] for t in triggers), key=_LEVEL_ORDER.__getitem__)
    top = [t for t in triggers if levels[t] == level][: playbook.urgency.max_reasons]
    reason = " ".join(_render(texts.urgency[t], ctx, f"urgency.{t}") for t in top)
    return Urgency(level=level, reason=reason, triggers=triggers)


def _potential(score: ScoreResult, facts: Facts, playbook: Playbook) -> int:
    if not facts.can_receive_mail:
        return 0
    weights = playbook.potential
    value = (
        weights.category_base[score.priority_category]
        + weights.tenant_size_bonus[facts.tenant_size]
        + (weights.gateway_bonus if facts.gateway else 0)
        + math.floor(score.score * weights.score_weight + 0.5)
    )
    return max(0, min(100, value))


def _situation_key(facts: Facts) -> str:
    provider = facts.provider
    if not facts.can_receive_mail or provider is None:
        return "no_mail"
    if provider == "M365":
        return "M365_tenant" if facts.tenant_domain else "M365"
    if provider in CLOUD_COMPETITORS:
        return "competitor"
    if provider in MAIL_SERVICES:
        return "mail_service"
    if provider in ("Hosting", "Local"):
        return f"{provider}_named" if facts.local_provider else provider
    return "Unknown"


def _question_group(facts: Facts) -> str:
    key = _situation_key(facts)
    return {"M365_tenant": "M365", "Hosting_named": "Hosting", "Local_named": "Local"}.get(key, key)


def _host_name(facts: Facts, mx_host: str | None, provider_name: str) -> str | None:
    """What a rep calls the place the mail lives: the hosting company's name when known,
    else the MX host (a mail service's MX host, e.g. an AWS endpoint, means nothing to a
    customer, so those use the service's name)."""
    if facts.local_provider:
        return facts.local_provider
    if mx_host and facts.provider not in MAIL_SERVICES:
        return mx_host
    return provider_name or None


def _base_context(record: ScanRecord, facts: Facts, score: ScoreResult, texts: Texts) -> dict[str, str]:
    provider_name = texts.provider_names.get(facts.provider or "", facts.provider or "")
    mx_host = _primary_mx(record)
    values: dict[str, str | None] = {
        "domain": facts.domain,
        "provider_name": provider_name or None,
        "local_provider": facts.local_provider,
        "gateway": facts.gateway,
        "mx_host": mx_host,
        "host_name": _host_name(facts, mx_host, provider_name),
        "tenant_domain": facts.tenant_domain,
        "dmarc_policy": record.dmarc.policy if record.dmarc else None,
        "dmarc_pct": str(facts.dmarc_pct),
        "dmarc_error": facts.dmarc_error,
        "spf_error": facts.spf_error,
        "spf_lookups": str(facts.spf_lookups),
        "registrar": record.whois.registrar if record.whois else None,
        "score": str(score.score),
        "category_label": texts.category_labels[score.priority_category],
        "status_text": texts.status_texts[facts.status],
    }
    return {key: value for key, value in values.items() if value is not None}


def _situation(facts: Facts, texts: Texts, ctx: dict[str, str]) -> str:
    key = _situation_key(facts)
    text = _render(getattr(texts.situation, key), ctx, f"situation.{key}")
    if key in ("mail_service", "Hosting", "Hosting_named", "Local", "Local_named", "Unknown") and "mx_host" in ctx:
        text += f" ({ctx['mx_host']})"
    if key != "no_mail" and facts.gateway:
        text += _render(texts.situation.gateway_suffix, ctx, "situation.gateway_suffix")
    return text


def _questions(
    facts: Facts,
    texts: Texts,
    ctx: dict[str, str],
    findings: list[FindingCode],
    triggers: list[UrgencyTrigger],
) -> list[str]:
    q = texts.questions
    if not facts.can_receive_mail:
        return [_render(t, ctx, f"questions.no_mail[{i}]") for i, t in enumerate(q.no_mail)]
    group = _question_group(facts)
    chosen: list[tuple[str, str]] = [
        (f"questions.provider.{group}[{i}]", t) for i, t in enumerate(getattr(q.provider, group))
    ]
    if group == "M365" and facts.tenant_domain:
        chosen.insert(1, ("questions.provider.M365_tenant", q.provider.M365_tenant))
    if facts.gateway:
        chosen.append(("questions.gateway", q.gateway))
    gap_keys: list[str] = []
    for trigger in (UrgencyTrigger.DOMAIN_EXPIRED, UrgencyTrigger.DOMAIN_EXPIRING):
        if trigger in triggers:
            gap_keys.append(trigger.value)
    for code in findings:
        key = GAP_QUESTION_FOR.get(code)
        if key and key not in gap_keys:
            gap_keys.append(key)
    chosen += [(f"questions.gaps.{key}", q.gaps[key]) for key in gap_keys]
    for i, general in enumerate(q.general):
        if len(chosen) >= MIN_QUESTIONS:
            break
        chosen.append((f"questions.general[{i}]", general))
    return [_render(t, ctx, where) for where, t in chosen[:MAX_QUESTIONS]]


def _tech_hooks(record: ScanRecord, hooks: TechHooks) -> list[tuple[str, list[str]]]:
    """(hook id, the lead's vendors that trigger it) for each hook of ``tech_hooks.yaml`` that applies."""
    found: list[tuple[str, list[str]]] = []
    for hook in hooks.hooks:
        names = [t.name for t in record.technologies if t.name in hook.vendors or t.category in hook.categories]
        if names:
            found.append((hook.id, names))
    return found[: hooks.max_hooks]


def _questions_with_tech(
    questions: list[str], hook: tuple[str, list[str]] | None, facts: Facts, texts: Texts, ctx: dict[str, str]
) -> list[str]:
    """The first technology question right after the provider questions (gap questions may then drop
    off the end: the list holds at most MAX_QUESTIONS)."""
    if hook is None or not facts.can_receive_mail:
        return questions
    group = _question_group(facts)
    after = len(getattr(texts.questions.provider, group)) + (1 if group == "M365" and facts.tenant_domain else 0)
    key, names = hook
    text = _render(
        texts.technologies.questions[key], {**ctx, "tech_names": ", ".join(names)}, f"technologies.questions.{key}"
    )
    return [*questions[:after], text, *questions[after:]][:MAX_QUESTIONS]


def _federation(record: ScanRecord, texts: Texts) -> str | None:
    """``AD FS (sts.contoso.com)`` when tenant recon found the domain's sign-in federated, else None."""
    recon = record.tenant_recon
    if recon is None or not recon.federated:
        return None
    idp = recon.federation_idp or texts.identity.unknown_idp
    return f"{idp} ({recon.auth_url_host})" if recon.auth_url_host else idp


def _questions_with_identity(questions: list[str], facts: Facts, texts: Texts, ctx: dict[str, str]) -> list[str]:
    """The federation question right after the provider questions (ahead of the technology question)."""
    if "federation" not in ctx:
        return questions
    group = _question_group(facts)
    after = len(getattr(texts.questions.provider, group)) + (1 if group == "M365" and facts.tenant_domain else 0)
    text = _render(texts.identity.federated_question, ctx, "identity.federated_question")
    return [*questions[:after], text, *questions[after:]][:MAX_QUESTIONS]


def _call_script(facts: Facts, score: ScoreResult, texts: Texts, ctx: dict[str, str], findings: list[str]) -> list[str]:
    cs = texts.call_script
    if not facts.can_receive_mail:
        return [_render(t, ctx, f"call_script.no_mail[{i}]") for i, t in enumerate(cs.no_mail)]
    commercial = CommercialSegment(score.commercial_segment)
    lines = [
        _render(cs.opener, ctx, "call_script.opener"),
        _render(cs.situation, ctx, "call_script.situation"),
        _render(cs.pitch[commercial], ctx, f"call_script.pitch.{commercial.value}"),
    ]
    if "tech_hook" in ctx:  # the first talking point the company's technologies give
        lines.append(ctx["tech_hook"])
    if "federation" in ctx:  # tenant recon: federated sign-in is a modernisation project
        lines.append(_render(texts.identity.federated_script, ctx, "identity.federated_script"))
    if facts.gateway:
        hook = "M365" if facts.provider == "M365" else "other"
        lines.append(_render(getattr(cs.gateway_hook, hook), ctx, f"call_script.gateway_hook.{hook}"))
    if findings:
        lines.append(_render(cs.finding_hook, {**ctx, "top_finding": findings[0]}, "call_script.finding_hook"))
    category = score.priority_category
    lines.append(_render(cs.close[category], ctx, f"call_script.close.{category}"))
    return lines


# --------------------------------------------------------------------------- entry point


def build_sales_summary(
    record: ScanRecord, score: ScoreResult, *, lang: str = "tr", generated_at: datetime | None = None
) -> SalesSummary:
    """A call-ready brief for ``record`` scored as ``score``, in ``lang`` ("tr" or "en").

    ``generated_at`` anchors everything time-dependent (domain expiry urgency) and is
    stamped in the metadata; pass it explicitly for reproducible output. Raises ValueError
    for an unsupported language.
    """
    lang = check_lang(lang)
    texts, offers, playbook = load_texts(lang), load_offers(), load_playbook()
    now = _as_utc(generated_at) if generated_at is not None else datetime.now(UTC)
    facts = extract_facts(record)

    ctx = _base_context(record, facts, score, texts)
    offer_rule = _select_offer(facts, offers)
    plan = offers.plans[offer_rule.plan] if offer_rule.plan is not None else None
    if plan is not None:
        ctx["plan_name"] = plan.name

    findings = _findings(record, facts)
    finding_texts = [_render(texts.findings[code], ctx, f"findings.{code}") for code in findings]
    triggers = _urgency_triggers(record, facts, playbook, now, ctx, texts)
    urgency = _urgency(triggers, facts, playbook, texts, ctx)

    ctx["situation"] = _situation(facts, texts, ctx)
    ctx["dmarc_state"] = _render(texts.dmarc_states[facts.dmarc], ctx, f"dmarc_states.{facts.dmarc}")

    technologies_line = None
    if record.technologies:
        ctx["technologies"] = ", ".join(t.name for t in record.technologies)
        technologies_line = _render(texts.technologies.line, ctx, "technologies.line")
    hooks = _tech_hooks(record, load_tech_hooks()) if facts.can_receive_mail else []
    hook_texts = [
        _render(texts.technologies.hooks[key], {**ctx, "tech_names": ", ".join(names)}, f"technologies.hooks.{key}")
        for key, names in hooks
    ]
    federation = _federation(record, texts) if facts.can_receive_mail else None
    if federation is not None:
        ctx["federation"] = federation
    if hooks:
        key, names = hooks[0]
        ctx["tech_hook"] = _render(
            texts.technologies.script[key], {**ctx, "tech_names": ", ".join(names)}, f"technologies.script.{key}"
        )

    offer_tier: OfferTier | None = None
    if plan is not None and offer_rule.plan is not None:
        price_text = None
        if plan.monthly_price is not None:
            price_ctx = {"amount": _format_amount(plan.monthly_price, texts), "currency": offers.currency}
            price_text = _render(texts.price_template, price_ctx, "price_template")
        offer_tier = OfferTier(
            plan_id=offer_rule.plan,
            name=plan.name,
            reason=_render(texts.offer_reasons[offer_rule.id], ctx, f"offer_reasons.{offer_rule.id}"),
            monthly_price=plan.monthly_price,
            currency=offers.currency if plan.monthly_price is not None else None,
            price_text=price_text,
            price_note=texts.price_note if plan.monthly_price is not None else None,
        )

    if facts.can_receive_mail:
        category = score.priority_category
        one_liner = _render(texts.one_liner[category], ctx, f"one_liner.{category}")
        next_action = _render(getattr(texts.next_action, category), ctx, f"next_action.{category}")
    else:
        one_liner = _render(texts.one_liner["no_mail"], ctx, "one_liner.no_mail")
        key = "no_mail_transient" if facts.status in TRANSIENT_STATUSES else "no_mail"
        next_action = _render(getattr(texts.next_action, key), ctx, f"next_action.{key}")
    if urgency.level == "high" and facts.can_receive_mail:
        urgent = _render(texts.next_action.urgent, {**ctx, "urgency_reason": urgency.reason}, "next_action.urgent")
        next_action = f"{urgent} {next_action}"

    return SalesSummary(
        domain=facts.domain,
        priority_category=score.priority_category,
        priority_label=texts.category_labels[score.priority_category],
        one_liner=one_liner,
        call_script=_call_script(facts, score, texts, ctx, finding_texts),
        discovery_questions=_questions_with_identity(
            _questions_with_tech(
                _questions(facts, texts, ctx, findings, triggers), hooks[0] if hooks else None, facts, texts, ctx
            ),
            facts,
            texts,
            ctx,
        ),
        offer_tier=offer_tier,
        opportunity_potential=_potential(score, facts, playbook),
        urgency=urgency,
        security_findings=finding_texts,
        technologies_line=technologies_line,
        technology_hooks=hook_texts,
        next_action=next_action,
        metadata=SalesMetadata(
            rules_version=score.rules_version, offers_version=offers.version, generated_at=now, lang=lang
        ),
    )
