"""Lead scoring, the CSP priority model and change detection — all pure functions.

``score_record`` turns a :class:`shared.core.models.ScanRecord` into a :class:`ScoreResult`
under a versioned rules file (``rules.yaml``); ``prioritise`` is the P1..P6 model on its
own; ``diff_records`` compares two scans of one domain.
"""

from shared.core.scoring.changes import ChangeEvent, ChangeKind, diff_records
from shared.core.scoring.engine import BreakdownItem, ScoreResult, score_record
from shared.core.scoring.facts import DmarcState, Facts, LeadFacts, SpfState, TenantBand, extract_facts
from shared.core.scoring.priority import Priority, prioritise
from shared.core.scoring.rules import (
    CommercialHeat,
    CommercialSegment,
    Rules,
    RulesError,
    Segment,
    TechnicalHeat,
    load_rules,
    parse_rules,
)

__all__ = [
    "BreakdownItem",
    "ChangeEvent",
    "ChangeKind",
    "CommercialHeat",
    "CommercialSegment",
    "DmarcState",
    "Facts",
    "LeadFacts",
    "Priority",
    "Rules",
    "RulesError",
    "ScoreResult",
    "Segment",
    "SpfState",
    "TechnicalHeat",
    "TenantBand",
    "diff_records",
    "extract_facts",
    "load_rules",
    "parse_rules",
    "prioritise",
    "score_record",
]
