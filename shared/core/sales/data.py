"""Schemas and loaders for the sales data files (offers, playbook, texts per language).

Plan names, prices, weights and every sentence a rep reads live in YAML next to this
module so that sales can change them without touching code. Each file is validated into a
strict pydantic model on first use: a missing text, an unknown placeholder or an offer
rule pointing at a plan that does not exist fails at load time, not in front of a customer.
"""

from __future__ import annotations

import string
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.core.models import ScanStatus
from shared.core.scoring.facts import DmarcState, TenantBand
from shared.core.scoring.rules import CommercialSegment
from shared.core.technologies import technology_data

SUPPORTED_LANGS = ("en", "tr")
CATEGORIES = ("P1", "P2", "P3", "P4", "P5", "P6")


class SalesDataError(ValueError):
    """A bundled sales data file is malformed."""


class FindingCode(StrEnum):
    """Security gaps, most severe first (the order findings are listed in)."""

    SPF_PASS_ALL = "spf_pass_all"
    DMARC_MISSING = "dmarc_missing"
    DMARC_INVALID = "dmarc_invalid"
    SPF_MISSING = "spf_missing"
    SPF_OVER_LIMIT = "spf_over_limit"
    SPF_PERMERROR = "spf_permerror"
    DMARC_NONE = "dmarc_none"
    DKIM_MISSING = "dkim_missing"
    DMARC_PARTIAL = "dmarc_partial"
    SPF_SOFTFAIL = "spf_softfail"
    SPF_NEUTRAL_ALL = "spf_neutral_all"
    SPF_NO_ALL = "spf_no_all"
    SPF_TEMPERROR = "spf_temperror"
    DMARC_NO_REPORTS = "dmarc_no_reports"


class UrgencyTrigger(StrEnum):
    DOMAIN_EXPIRED = "domain_expired"
    DOMAIN_EXPIRING = "domain_expiring"
    COMPETITOR_NO_DMARC = "competitor_no_dmarc"
    NO_DMARC = "no_dmarc"
    SPF_BROKEN = "spf_broken"
    NO_SPF = "no_spf"
    DMARC_MONITOR_ONLY = "dmarc_monitor_only"
    DMARC_PARTIAL = "dmarc_partial"
    NO_DKIM = "no_dkim"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require_keys(value: dict[Any, Any], keys: list[Any] | tuple[Any, ...], what: str) -> dict[Any, Any]:
    missing = [str(k) for k in keys if k not in value]
    if missing:
        raise ValueError(f"{what} lacks entries for: {', '.join(missing)}")
    return value


# --------------------------------------------------------------------------- offers


class Plan(_Strict):
    name: str = Field(min_length=1)
    monthly_price: float | None = Field(None, ge=0)


class OfferCondition(_Strict):
    can_receive_mail: bool | None = None
    provider: list[str] | None = Field(None, min_length=1)
    tenant_size: list[TenantBand] | None = Field(None, min_length=1)
    has_gateway: bool | None = None
    security_gaps: bool | None = None

    def is_catch_all(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class OfferRule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    plan: str | None
    when: OfferCondition = Field(default_factory=OfferCondition)


class Offers(_Strict):
    version: str
    currency: str = Field(min_length=3, max_length=3)
    plans: dict[str, Plan] = Field(min_length=1)
    selection: list[OfferRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Offers:
        for rule in self.selection:
            if rule.plan is not None and rule.plan not in self.plans:
                raise ValueError(f"selection rule {rule.id!r} names unknown plan {rule.plan!r}")
        if not self.selection[-1].when.is_catch_all():
            raise ValueError(f"the last selection rule ({self.selection[-1].id!r}) must have an empty 'when'")
        return self


# --------------------------------------------------------------------------- playbook


class Potential(_Strict):
    category_base: dict[str, int]
    tenant_size_bonus: dict[TenantBand, int]
    gateway_bonus: int
    score_weight: float = Field(ge=0)

    @field_validator("category_base")
    @classmethod
    def _all_categories(cls, value: dict[str, int]) -> dict[str, int]:
        return _require_keys(value, CATEGORIES, "potential.category_base")

    @field_validator("tenant_size_bonus")
    @classmethod
    def _all_bands(cls, value: dict[TenantBand, int]) -> dict[TenantBand, int]:
        return _require_keys(value, list(TenantBand), "potential.tenant_size_bonus")


class UrgencyConfig(_Strict):
    domain_expiry_days: int = Field(ge=0)
    levels: dict[UrgencyTrigger, Literal["low", "medium", "high"]]
    max_reasons: int = Field(ge=1)

    @field_validator("levels")
    @classmethod
    def _all_triggers(cls, value: dict[UrgencyTrigger, str]) -> dict[UrgencyTrigger, str]:
        return _require_keys(value, list(UrgencyTrigger), "urgency.levels")


class Playbook(_Strict):
    version: str
    potential: Potential
    urgency: UrgencyConfig


# --------------------------------------------------------------------------- texts

# Every placeholder a text may use. build_sales_summary fills those a lead has; a text that
# needs a value the lead lacks is a bug in variant selection and raises, never prints "None".
CONTEXT_KEYS = frozenset(
    {
        "domain",
        "provider_name",
        "local_provider",
        "gateway",
        "mx_host",
        "host_name",
        "tenant_domain",
        "dmarc_policy",
        "dmarc_pct",
        "dmarc_error",
        "spf_error",
        "spf_lookups",
        "registrar",
        "expiry_date",
        "days_to_expiry",
        "days_since_expiry",
        "score",
        "category_label",
        "plan_name",
        "status_text",
        "situation",
        "dmarc_state",
        "top_finding",
        "urgency_reason",
        "amount",
        "currency",
        "tech_names",
        "technologies",
        "federation",
    }
)


class SituationTexts(_Strict):
    M365: str
    M365_tenant: str
    competitor: str
    mail_service: str
    Hosting: str
    Hosting_named: str
    Local: str
    Local_named: str
    Unknown: str
    no_mail: str
    gateway_suffix: str


class GatewayHook(_Strict):
    M365: str
    other: str


class CallScriptTexts(_Strict):
    opener: str
    situation: str
    pitch: dict[CommercialSegment, str]
    gateway_hook: GatewayHook
    finding_hook: str
    close: dict[str, str]
    no_mail: list[str] = Field(min_length=2)

    @field_validator("pitch")
    @classmethod
    def _all_pitches(cls, value: dict[CommercialSegment, str]) -> dict[CommercialSegment, str]:
        return _require_keys(value, list(CommercialSegment), "call_script.pitch")

    @field_validator("close")
    @classmethod
    def _all_closes(cls, value: dict[str, str]) -> dict[str, str]:
        return _require_keys(value, CATEGORIES, "call_script.close")


class ProviderQuestions(_Strict):
    M365: list[str] = Field(min_length=2)
    M365_tenant: str
    competitor: list[str] = Field(min_length=2)
    mail_service: list[str] = Field(min_length=2)
    Hosting: list[str] = Field(min_length=2)
    Local: list[str] = Field(min_length=2)
    Unknown: list[str] = Field(min_length=2)


class QuestionTexts(_Strict):
    provider: ProviderQuestions
    gateway: str
    gaps: dict[str, str]
    general: list[str] = Field(min_length=3)
    no_mail: list[str] = Field(min_length=3, max_length=6)

    @field_validator("gaps")
    @classmethod
    def _all_gaps(cls, value: dict[str, str]) -> dict[str, str]:
        keys = ["domain_expired", "domain_expiring", *GAP_QUESTION_FOR.values()]
        return _require_keys(value, sorted(set(keys)), "questions.gaps")


# Which discovery question a finding leads to (findings without one are left out).
GAP_QUESTION_FOR: dict[FindingCode, str] = {
    FindingCode.DMARC_MISSING: "dmarc_missing",
    FindingCode.DMARC_INVALID: "dmarc_invalid",
    FindingCode.DMARC_NONE: "dmarc_none",
    FindingCode.DMARC_PARTIAL: "dmarc_partial",
    FindingCode.DKIM_MISSING: "dkim_missing",
    FindingCode.SPF_MISSING: "spf_missing",
    FindingCode.SPF_OVER_LIMIT: "spf_broken",
    FindingCode.SPF_PERMERROR: "spf_broken",
    FindingCode.SPF_PASS_ALL: "spf_broken",
}


class TechnologyTexts(_Strict):
    """What the company's technologies (``ScanRecord.technologies``) add to the pitch: the line that
    lists them, and per hook of ``tech_hooks.yaml`` a talking point for the rep, a sentence of the
    call script (said to the customer) and a discovery question."""

    line: str
    hooks: dict[str, str]
    script: dict[str, str]
    questions: dict[str, str]


class IdentityTexts(_Strict):
    """What Microsoft 365 tenant recon (``ScanRecord.tenant_recon``) adds: a tenant whose sign-in is
    federated (on-premises AD FS and the like) is a modernisation project. ``{federation}`` is the
    identity provider and its host ("AD FS (sts.contoso.com)"), or ``unknown_idp`` when not recognised."""

    federated_script: str
    federated_question: str
    unknown_idp: str


class TechHook(_Strict):
    """One talking point: it applies when the lead uses one of ``vendors`` or a vendor of ``categories``."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    vendors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _matches_something(self) -> TechHook:
        if not (self.vendors or self.categories):
            raise ValueError(f"hook {self.id!r} names no vendor and no category")
        return self


class TechHooks(_Strict):
    version: str
    max_hooks: int = Field(ge=1)
    hooks: list[TechHook] = Field(min_length=1)


class NextActionTexts(_Strict):
    P1: str
    P2: str
    P3: str
    P4: str
    P5: str
    P6: str
    no_mail: str
    no_mail_transient: str
    urgent: str


class Texts(_Strict):
    """All the words of one language."""

    lang: str
    date_format: str
    decimal_separator: Literal[".", ","]
    price_template: str
    price_note: str
    provider_names: dict[str, str]
    category_labels: dict[str, str]
    status_texts: dict[ScanStatus, str]
    dmarc_states: dict[DmarcState, str]
    situation: SituationTexts
    one_liner: dict[str, str]
    call_script: CallScriptTexts
    questions: QuestionTexts
    findings: dict[FindingCode, str]
    urgency: dict[str, str]
    offer_reasons: dict[str, str]
    next_action: NextActionTexts
    technologies: TechnologyTexts
    identity: IdentityTexts

    @field_validator("category_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _require_keys(value, CATEGORIES, "category_labels")

    @field_validator("status_texts")
    @classmethod
    def _statuses(cls, value: dict[ScanStatus, str]) -> dict[ScanStatus, str]:
        return _require_keys(value, list(ScanStatus), "status_texts")

    @field_validator("dmarc_states")
    @classmethod
    def _dmarc(cls, value: dict[DmarcState, str]) -> dict[DmarcState, str]:
        return _require_keys(value, list(DmarcState), "dmarc_states")

    @field_validator("one_liner")
    @classmethod
    def _one_liners(cls, value: dict[str, str]) -> dict[str, str]:
        return _require_keys(value, [*CATEGORIES, "no_mail"], "one_liner")

    @field_validator("findings")
    @classmethod
    def _findings(cls, value: dict[FindingCode, str]) -> dict[FindingCode, str]:
        return _require_keys(value, list(FindingCode), "findings")

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, value: dict[str, str]) -> dict[str, str]:
        return _require_keys(value, [*UrgencyTrigger, "none", "no_mail"], "urgency")


def iter_templates(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (dotted path, text) in a texts tree — for placeholder checks and tests."""
    if isinstance(node, BaseModel):
        node = node.model_dump()
    if isinstance(node, dict):
        out: list[tuple[str, str]] = []
        for key, value in node.items():
            out += iter_templates(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(node, list):
        out = []
        for index, value in enumerate(node):
            out += iter_templates(value, f"{path}[{index}]")
        return out
    return [(path, node)] if isinstance(node, str) else []


def template_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


# --------------------------------------------------------------------------- loading


def _load_yaml(name: str) -> Any:
    text = resources.files("shared.core.sales").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _validate(model: type[BaseModel], name: str) -> Any:
    try:
        return model.model_validate(_load_yaml(name))
    except ValidationError as exc:
        raise SalesDataError(f"shared/core/sales/{name} is invalid:\n{exc}") from None


@lru_cache(maxsize=1)
def load_offers() -> Offers:
    """The bundled ``offers.yaml`` (plans, prices and which plan fits which lead)."""
    offers: Offers = _validate(Offers, "offers.yaml")
    return offers


@lru_cache(maxsize=1)
def load_tech_hooks() -> TechHooks:
    """The bundled ``tech_hooks.yaml`` (which technologies lead to which talking point), checked
    against ``shared/core/technologies.yaml``: a hook naming an unknown vendor or category fails here."""
    hooks: TechHooks = _validate(TechHooks, "tech_hooks.yaml")
    data = technology_data()
    for hook in hooks.hooks:
        unknown = [v for v in hook.vendors if v not in data.names] + [
            c for c in hook.categories if c not in data.categories
        ]
        if unknown:
            raise SalesDataError(f"tech_hooks.yaml hook {hook.id!r} names unknown {', '.join(unknown)}")
    return hooks


@lru_cache(maxsize=1)
def load_playbook() -> Playbook:
    """The bundled ``playbook.yaml`` (potential weights, urgency levels)."""
    playbook: Playbook = _validate(Playbook, "playbook.yaml")
    return playbook


def check_lang(lang: str) -> str:
    """Normalise ``lang`` or raise a ValueError that names the supported languages."""
    normalised = lang.strip().lower() if isinstance(lang, str) else lang
    if normalised not in SUPPORTED_LANGS:
        raise ValueError(f"unsupported language {lang!r}; supported languages: {', '.join(SUPPORTED_LANGS)}")
    return normalised


@lru_cache(maxsize=len(SUPPORTED_LANGS))
def load_texts(lang: str) -> Texts:
    """The bundled ``texts_<lang>.yaml``, checked for completeness and known placeholders."""
    lang = check_lang(lang)
    texts: Texts = _validate(Texts, f"texts_{lang}.yaml")
    for path, template in iter_templates(texts):
        try:
            unknown = template_fields(template) - CONTEXT_KEYS
        except ValueError as exc:
            raise SalesDataError(f"texts_{lang}.yaml {path}: malformed template: {exc}") from None
        if unknown:
            raise SalesDataError(f"texts_{lang}.yaml {path}: unknown placeholder(s) {', '.join(sorted(unknown))}")
    missing = [r.id for r in load_offers().selection if r.plan is not None and r.id not in texts.offer_reasons]
    if missing:
        raise SalesDataError(f"texts_{lang}.yaml offer_reasons lacks: {', '.join(missing)}")
    hook_ids = [hook.id for hook in load_tech_hooks().hooks]
    for part in ("hooks", "script", "questions"):
        missing = [h for h in hook_ids if h not in getattr(texts.technologies, part)]
        if missing:
            raise SalesDataError(f"texts_{lang}.yaml technologies.{part} lacks: {', '.join(missing)}")
    return texts
