"""The scoring rules file: its schema, its validation and its loader.

Business rules (how many points a DMARC reject policy earns, which score makes a lead a
migration candidate, which commercial segment is P1) change far more often than code.
They live in ``rules.yaml``; this module turns that file into a validated :class:`Rules`
object and refuses a broken one with a message that names the offending rule, so a bad
edit fails loudly at load time instead of silently mis-scoring thousands of leads.
"""

from __future__ import annotations

import os
import string
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.core.models import ScanStatus
from shared.core.scoring.facts import DmarcState, Facts, SpfState, TenantBand, normalise_referral

SCORE_MIN = 0
SCORE_MAX = 100
RULE_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class RulesError(ValueError):
    """The rules file is unusable; the message names the rule and field at fault."""


class Segment(StrEnum):
    EXISTING = "Existing"
    MIGRATION = "Migration"
    COLD = "Cold"
    SKIP = "Skip"


class CommercialSegment(StrEnum):
    GREENFIELD = "GREENFIELD"
    COMPETITIVE = "COMPETITIVE"
    WEAK_PARTNER = "WEAK_PARTNER"
    RENEWAL = "RENEWAL"
    LOW_INTENT = "LOW_INTENT"
    NO_GO = "NO_GO"


class TechnicalHeat(StrEnum):
    HOT = "Hot"
    WARM = "Warm"
    COLD = "Cold"


class CommercialHeat(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class _Strict(BaseModel):
    # extra="forbid": a misspelt key ("provder") must be an error, not a silently ignored
    # condition that makes a rule match everything.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """Let the YAML say ``provider: M365`` as well as ``provider: [M365]``."""
    return [value] if isinstance(value, str) else value


class RecordCondition(_Strict):
    """Conditions on a record's facts; every given key must hold (logical AND)."""

    provider: list[str] | None = Field(None, min_length=1)
    spf: list[SpfState] | None = Field(None, min_length=1)
    dkim: bool | None = None
    dmarc: list[DmarcState] | None = Field(None, min_length=1)
    has_gateway: bool | None = None
    has_local_provider: bool | None = None
    tenant_size: list[TenantBand] | None = Field(None, min_length=1)
    referral_type: list[str] | None = Field(None, min_length=1)
    known_tenant: bool | None = None

    @field_validator("provider", "spf", "dmarc", "tenant_size", "referral_type", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("referral_type")
    @classmethod
    def _normalise_referrals(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [normalise_referral(v) or "" for v in value]

    def matches(self, facts: Facts) -> bool:
        checks = (
            self.provider is None or facts.provider in self.provider,
            self.spf is None or facts.spf in self.spf,
            self.dkim is None or facts.dkim is self.dkim,
            self.dmarc is None or facts.dmarc in self.dmarc,
            self.has_gateway is None or (facts.gateway is not None) is self.has_gateway,
            self.has_local_provider is None or (facts.local_provider is not None) is self.has_local_provider,
            self.tenant_size is None or facts.tenant_size in self.tenant_size,
            self.referral_type is None or facts.referral_type in self.referral_type,
            self.known_tenant is None or facts.known_tenant is self.known_tenant,
        )
        return all(checks)

    def is_catch_all(self) -> bool:
        return all(value is None for value in self.model_dump().values())


class _ScoreRange(_Strict):
    score_min: int | None = Field(None, ge=SCORE_MIN, le=SCORE_MAX)
    score_max: int | None = Field(None, ge=SCORE_MIN, le=SCORE_MAX)

    @model_validator(mode="after")
    def _ordered(self) -> _ScoreRange:
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            raise ValueError(f"score_min {self.score_min} is above score_max {self.score_max}")
        return self

    def score_matches(self, score: int) -> bool:
        return (self.score_min is None or score >= self.score_min) and (
            self.score_max is None or score <= self.score_max
        )


class SegmentCondition(RecordCondition, _ScoreRange):
    """A record condition plus a range on the final (clamped) score."""

    def matches_scored(self, facts: Facts, score: int) -> bool:
        return self.matches(facts) and self.score_matches(score)


class PriorityCondition(_ScoreRange):
    """Conditions on an already scored lead: segment, provider, score, commercial segment."""

    segment: list[Segment] | None = Field(None, min_length=1)
    provider: list[str] | None = Field(None, min_length=1)
    commercial_segment: list[CommercialSegment] | None = Field(None, min_length=1)

    @field_validator("segment", "provider", "commercial_segment", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    def matches(
        self, segment: Segment, provider: str | None, score: int, commercial: CommercialSegment | None = None
    ) -> bool:
        return (
            (self.segment is None or segment in self.segment)
            and (self.provider is None or provider in self.provider)
            and (self.commercial_segment is None or commercial in self.commercial_segment)
            and self.score_matches(score)
        )

    def is_catch_all(self) -> bool:
        return all(value is None for value in self.model_dump().values())


class ScoreRule(_Strict):
    """One line of the breakdown: when ``when`` holds, add ``points``."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    when: RecordCondition
    points: int = Field(ge=-100, le=100)
    scale_by: Literal["dmarc_pct"] | None = Field(
        None, description="scale points by this percentage fact (0-100), rounding half up"
    )
    reason: str = Field(min_length=1)
    reason_tr: str = Field(min_length=1, description="the same reason in Turkish, with the same placeholders")


class SegmentRule(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    segment: Segment
    when: SegmentCondition = Field(default_factory=SegmentCondition)
    reason: str = Field(min_length=1)
    reason_tr: str = Field(min_length=1)


class HardFail(_Strict):
    """What a lead that cannot receive mail gets: no points, one explanatory line."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    segment: Segment
    reason: str = Field(min_length=1)
    reason_tr: str = Field(min_length=1)
    status_text: dict[ScanStatus, str]
    status_text_tr: dict[ScanStatus, str]

    @field_validator("status_text", "status_text_tr")
    @classmethod
    def _every_status(cls, value: dict[ScanStatus, str]) -> dict[ScanStatus, str]:
        missing = [s.value for s in ScanStatus if s not in value]
        if missing:
            raise ValueError(f"status_text lacks a text for status(es): {', '.join(missing)}")
        return value


class Clamp(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    reason: str = Field(min_length=1)
    reason_tr: str = Field(min_length=1)


class CategoryDef(_Strict):
    id: Literal["P1", "P2", "P3", "P4", "P5", "P6"]
    label: str = Field(min_length=1)
    commercial_segment: CommercialSegment

    @property
    def rank(self) -> int:
        return int(self.id[1:])


class CommercialRule(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    commercial_segment: CommercialSegment
    when: PriorityCondition = Field(default_factory=PriorityCondition)


class TechnicalHeatRule(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    heat: TechnicalHeat
    when: PriorityCondition = Field(default_factory=PriorityCondition)


class CommercialHeatRule(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    heat: CommercialHeat
    when: PriorityCondition = Field(default_factory=PriorityCondition)


class PriorityRules(_Strict):
    """The CSP priority model. ``priority_score = (rank_base - n) * score_step + score``."""

    rank_base: int = Field(7, ge=7)
    score_step: int = Field(1000, gt=SCORE_MAX)
    categories: list[CategoryDef] = Field(min_length=6, max_length=6)
    commercial_segments: list[CommercialRule] = Field(min_length=1)
    technical_heat: list[TechnicalHeatRule] = Field(min_length=1)
    commercial_heat: list[CommercialHeatRule] = Field(min_length=1)


class Rules(_Strict):
    """A validated rules file. Obtain one with :func:`load_rules`."""

    version: str = Field(min_length=1)
    providers: list[str] = Field(min_length=1)
    hard_fail: HardFail
    clamp: Clamp
    score_rules: list[ScoreRule] = Field(min_length=1)
    segments: list[SegmentRule] = Field(min_length=1)
    priority: PriorityRules

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # `version: 2026.11` in YAML is a float; the version is an identifier, not a number.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    def category_for(self, commercial: CommercialSegment) -> CategoryDef:
        for category in self.priority.categories:
            if category.commercial_segment is commercial:
                return category
        raise KeyError(commercial)  # unreachable: load_rules checks every segment is mapped


# --------------------------------------------------------------------------- validation

_FACT_FIELDS = frozenset(Facts.model_fields)
_SAMPLE_FACT_VALUES = {name: "x" for name in _FACT_FIELDS}


def _template_fields(template: str) -> set[str]:
    fields: set[str] = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            fields.add(field)
    return fields


def _check_template(where: str, template: str, allowed: set[str] | frozenset[str]) -> None:
    try:
        fields = _template_fields(template)
    except ValueError as exc:  # unbalanced braces
        raise RulesError(f"{where}: reason template {template!r} is malformed: {exc}") from None
    unknown = sorted(f for f in fields if f not in allowed)
    if unknown:
        raise RulesError(
            f"{where}: reason template uses unknown placeholder(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _check_providers(where: str, names: list[str] | None, known: set[str]) -> None:
    for name in names or []:
        if name not in known:
            raise RulesError(f"{where}: unknown provider {name!r}; known providers: {', '.join(sorted(known))}")


def _check_ids_unique(section: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for rule_id in ids:
        if rule_id in seen:
            raise RulesError(f"{section}: rule id {rule_id!r} is used more than once")
        seen.add(rule_id)


def _check_catch_all(section: str, rules: list[Any]) -> None:
    last = rules[-1]
    if not last.when.is_catch_all():
        raise RulesError(
            f"{section}: the last rule ({last.id!r}) must have an empty 'when' so that every lead "
            "gets exactly one value"
        )


def _check_semantics(rules: Rules) -> None:
    """Checks that need the whole file: cross references, catch-alls, templates."""
    known = set(rules.providers)
    _check_ids_unique("score_rules", [r.id for r in rules.score_rules])
    for rule in rules.score_rules:
        where = f"score_rules: rule {rule.id!r}"
        _check_providers(f"{where} field when.provider", rule.when.provider, known)
        _check_template(where, rule.reason, _FACT_FIELDS)
        _check_template(where, rule.reason_tr, _FACT_FIELDS)

    _check_ids_unique("segments", [r.id for r in rules.segments])
    for seg_rule in rules.segments:
        where = f"segments: rule {seg_rule.id!r}"
        _check_providers(f"{where} field when.provider", seg_rule.when.provider, known)
        _check_template(where, seg_rule.reason, _FACT_FIELDS | {"score"})
        _check_template(where, seg_rule.reason_tr, _FACT_FIELDS | {"score"})
    _check_catch_all("segments", rules.segments)

    for template in (rules.hard_fail.reason, rules.hard_fail.reason_tr):
        _check_template(f"hard_fail: rule {rules.hard_fail.id!r}", template, {"status", "status_text"})
    for template in (rules.clamp.reason, rules.clamp.reason_tr):
        _check_template(f"clamp: rule {rules.clamp.id!r}", template, {"raw", "limit", "bound"})

    prio = rules.priority
    ids = [c.id for c in prio.categories]
    if sorted(ids) != [f"P{n}" for n in range(1, 7)]:
        raise RulesError(f"priority.categories: need each of P1..P6 exactly once, got {', '.join(ids)}")
    mapped = [c.commercial_segment for c in prio.categories]
    for commercial in CommercialSegment:
        if mapped.count(commercial) != 1:
            raise RulesError(
                f"priority.categories: commercial segment {commercial.value} must map to exactly one "
                f"category, it maps to {mapped.count(commercial)}"
            )
    for section, section_rules in (
        ("priority.commercial_segments", prio.commercial_segments),
        ("priority.technical_heat", prio.technical_heat),
        ("priority.commercial_heat", prio.commercial_heat),
    ):
        _check_ids_unique(section, [r.id for r in section_rules])
        for prio_rule in section_rules:
            _check_providers(f"{section}: rule {prio_rule.id!r} field when.provider", prio_rule.when.provider, known)
        _check_catch_all(section, section_rules)
    for prio_rule in prio.commercial_segments:
        if prio_rule.when.commercial_segment is not None:
            raise RulesError(
                f"priority.commercial_segments: rule {prio_rule.id!r} field when.commercial_segment "
                "cannot be tested while it is being decided"
            )


def _describe_location(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``score_rules[3] (rule 'dmarc_reject') field when.provder`` from a pydantic error loc."""
    node = raw
    path: list[str] = []
    rule_name: str | None = None
    rule_depth = -1
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            path.append(f"[{part}]")
        else:
            path.append(("." if path else "") + part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(part, int) and isinstance(node, dict) and "id" in node:
            rule_name, rule_depth = str(node["id"]), depth
    if rule_name is None:
        return "".join(path) or "(top level)"
    container = "".join(path[: rule_depth + 1])
    field = "".join(path[rule_depth + 1 :]).lstrip(".")
    text = f"{container} (rule {rule_name!r})"
    return f"{text} field {field}" if field else text


def _format_validation_error(exc: ValidationError, raw: Any, source: str) -> str:
    lines = [f"invalid scoring rules ({source}):"]
    for error in exc.errors():
        # pydantic adds the enum/union branch name to some locs; keep only real keys.
        loc = tuple(p for p in error["loc"] if isinstance(p, int) or not p.startswith(("function-", "literal[")))
        lines.append(f"  - {_describe_location(raw, loc)}: {error['msg']}")
    return "\n".join(lines)


def parse_rules(text: str, *, source: str = "<string>") -> Rules:
    """Validate rules given as YAML text. Raises :class:`RulesError` naming the bad rule."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"invalid scoring rules ({source}): not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RulesError(f"invalid scoring rules ({source}): expected a mapping at the top level")
    try:
        rules = Rules.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(_format_validation_error(exc, raw, source)) from None
    try:
        _check_semantics(rules)
    except RulesError as exc:
        raise RulesError(f"invalid scoring rules ({source}): {exc}") from None
    return rules


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The bundled ``rules.yaml``, parsed once per process."""
    text = resources.files("shared.core.scoring").joinpath("rules.yaml").read_text(encoding="utf-8")
    return parse_rules(text, source="shared/core/scoring/rules.yaml")


def load_rules(text_or_path: str | os.PathLike[str] | None = None) -> Rules:
    """Load and validate a rules file.

    ``None`` gives the bundled rules. A :class:`os.PathLike`, or a one-line string ending in
    ``.yaml``/``.yml``, is read as a file; any other string is the YAML text itself (so a
    test or a caller holding rules in a database never needs a temporary file).
    """
    if text_or_path is None:
        return default_rules()
    if isinstance(text_or_path, os.PathLike) or (
        "\n" not in text_or_path and text_or_path.strip().lower().endswith((".yaml", ".yml"))
    ):
        path = Path(text_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"cannot read scoring rules file {path}: {exc}") from None
        return parse_rules(text, source=str(path))
    return parse_rules(text_or_path)
