"""Score one scan record under a rules file and explain every point.

The scorer is an interpreter: it reduces the record to facts, fires every score rule
whose condition holds, clamps, picks the first matching segment and prioritises. All the
numbers come from the rules file, so the breakdown is the complete answer to "why this
score?" and a rules change never needs a code change.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.core.models import ScanRecord
from shared.core.scoring.facts import Facts, LeadFacts, extract_facts
from shared.core.scoring.priority import prioritise
from shared.core.scoring.rules import (
    SCORE_MAX,
    SCORE_MIN,
    CommercialHeat,
    CommercialSegment,
    Rules,
    ScoreRule,
    Segment,
    TechnicalHeat,
    load_rules,
)


class BreakdownItem(BaseModel):
    """One rule that fired: its id, the points it contributed and why, in English and Turkish.

    ``reason_tr`` is optional only so that breakdowns stored before it existed still load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    points: int
    reason: str
    reason_tr: str | None = None


class ScoreResult(BaseModel):
    """A lead's score, segment and priority, with the rules version that produced them."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=SCORE_MIN, le=SCORE_MAX)
    segment: Segment
    segment_reason: str
    segment_reason_tr: str | None = None
    breakdown: list[BreakdownItem] = Field(min_length=1)
    rules_version: str
    hard_fail: bool = False
    commercial_segment: CommercialSegment
    technical_heat: TechnicalHeat
    commercial_heat: CommercialHeat
    priority_category: str = Field(pattern=r"^P[1-6]$")
    priority_label: str
    priority_score: int

    @model_validator(mode="after")
    def _breakdown_adds_up(self) -> ScoreResult:
        total = sum(item.points for item in self.breakdown)
        if total != self.score:
            raise ValueError(f"breakdown sums to {total} but score is {self.score}")
        return self


def _round_half_up(value: float) -> int:
    """Round .5 away from zero; Python's round() would turn 7.5 into 8 but 2.5 into 2."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _points(rule: ScoreRule, facts: Facts) -> int:
    if rule.scale_by is None:
        return rule.points
    percentage: int = getattr(facts, rule.scale_by)
    return _round_half_up(rule.points * percentage / 100)


def _hard_fail(facts: Facts, rules: Rules) -> ScoreResult:
    hard = rules.hard_fail
    reason = hard.reason.format(status=facts.status.value, status_text=hard.status_text[facts.status])
    reason_tr = hard.reason_tr.format(status=facts.status.value, status_text=hard.status_text_tr[facts.status])
    return _result(
        score=0,
        segment=hard.segment,
        segment_reason=reason,
        segment_reason_tr=reason_tr,
        breakdown=[BreakdownItem(rule=hard.id, points=0, reason=reason, reason_tr=reason_tr)],
        provider=None,
        rules=rules,
        hard_fail=True,
    )


def _result(
    *,
    score: int,
    segment: Segment,
    segment_reason: str,
    segment_reason_tr: str,
    breakdown: list[BreakdownItem],
    provider: str | None,
    rules: Rules,
    hard_fail: bool = False,
) -> ScoreResult:
    priority = prioritise(segment, provider, score, rules=rules)
    return ScoreResult(
        score=score,
        segment=segment,
        segment_reason=segment_reason,
        segment_reason_tr=segment_reason_tr,
        breakdown=breakdown,
        rules_version=rules.version,
        hard_fail=hard_fail,
        **priority.model_dump(),
    )


def score_record(record: ScanRecord, *, extra: LeadFacts | None = None, rules: Rules | None = None) -> ScoreResult:
    """Score ``record`` (plus optional non-DNS evidence) under ``rules`` (default: bundled)."""
    rules = rules or load_rules()
    facts = extract_facts(record, extra)
    if not facts.can_receive_mail:
        return _hard_fail(facts, rules)

    values = facts.template_values()
    breakdown = [
        BreakdownItem(
            rule=rule.id,
            points=_points(rule, facts),
            reason=rule.reason.format(**values),
            reason_tr=rule.reason_tr.format(**values),
        )
        for rule in rules.score_rules
        if rule.when.matches(facts)
    ]
    raw = sum(item.points for item in breakdown)
    score = min(SCORE_MAX, max(SCORE_MIN, raw))
    if score != raw:
        low = raw < SCORE_MIN
        breakdown.append(
            BreakdownItem(
                rule=rules.clamp.id,
                points=score - raw,
                reason=rules.clamp.reason.format(raw=raw, limit=score, bound="minimum" if low else "maximum"),
                reason_tr=rules.clamp.reason_tr.format(raw=raw, limit=score, bound="alt sınır" if low else "üst sınır"),
            )
        )
    if not breakdown:  # only possible with a rules file that has no provider rule for this provider
        breakdown.append(
            BreakdownItem(
                rule="no_rule_fired",
                points=0,
                reason="No scoring rule applied",
                reason_tr="Hiçbir puan kuralı uygulanmadı",
            )
        )

    segment_rule = next(r for r in rules.segments if r.when.matches_scored(facts, score))
    return _result(
        score=score,
        segment=segment_rule.segment,
        segment_reason=segment_rule.reason.format(**values, score=score),
        segment_reason_tr=segment_rule.reason_tr.format(**values, score=score),
        breakdown=breakdown,
        provider=facts.provider,
        rules=rules,
    )
