"""The CSP priority model: from (segment, provider, score) to one P1..P6 category.

The previous system computed a commercial segment, a category and a separate 1-7
priority that could disagree with each other. Here the category is derived from the
commercial segment alone, and ``priority_score`` is derived from the category and the
score, so there is exactly one ordering and it cannot contradict the label.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.core.scoring.rules import (
    SCORE_MAX,
    SCORE_MIN,
    CommercialHeat,
    CommercialSegment,
    Rules,
    Segment,
    TechnicalHeat,
    load_rules,
)


class Priority(BaseModel):
    """Where a lead sits in the CSP pipeline and how hard to push it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commercial_segment: CommercialSegment
    technical_heat: TechnicalHeat
    commercial_heat: CommercialHeat
    priority_category: str = Field(pattern=r"^P[1-6]$")
    priority_label: str
    priority_score: int = Field(description="sort DESC: category first (P1 highest), then score")


def prioritise(segment: Segment | str, provider: str | None, score: int, *, rules: Rules | None = None) -> Priority:
    """Classify a scored lead. Pure; every input combination yields exactly one category.

    Exposed on its own (not only through ``score_record``) so the whole table can be
    tested, and so a caller holding an old score can re-prioritise it under new rules.
    """
    rules = rules or load_rules()
    segment = Segment(segment)
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise ValueError(f"score must be within {SCORE_MIN}..{SCORE_MAX}, got {score}")
    prio = rules.priority
    # Each list ends with a catch-all (checked at load), so next() always finds a rule.
    commercial = next(
        r.commercial_segment for r in prio.commercial_segments if r.when.matches(segment, provider, score)
    )
    technical = next(r.heat for r in prio.technical_heat if r.when.matches(segment, provider, score, commercial))
    commercial_heat = next(r.heat for r in prio.commercial_heat if r.when.matches(segment, provider, score, commercial))
    category = rules.category_for(commercial)
    return Priority(
        commercial_segment=commercial,
        technical_heat=technical,
        commercial_heat=commercial_heat,
        priority_category=category.id,
        priority_label=category.label,
        priority_score=(prio.rank_base - category.rank) * prio.score_step + score,
    )
