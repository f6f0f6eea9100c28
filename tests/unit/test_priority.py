"""The CSP priority model, as a table: every provider x segment x score band."""

from __future__ import annotations

import pytest

from shared.core.scoring import CommercialHeat, CommercialSegment, Segment, TechnicalHeat, prioritise

COMPETITORS = ["Google", "Zoho", "Yandex"]
GREENFIELD = ["Local", "Hosting", "Amazon", "SendGrid", "Mailgun", "Unknown"]
GROUPS: dict[str, list[str | None]] = {
    "m365": ["M365"],
    "competitor": list(COMPETITORS),
    "greenfield": list(GREENFIELD),
    "none": [None],  # a hard-failed lead has no provider
}
BANDS = {"0-19": (0, 19), "20-49": (20, 49), "50-59": (50, 59), "60-69": (60, 69), "70-100": (70, 100)}

# segment -> provider group -> category per band, in BANDS order. Written out by hand from the
# business definition so the test does not just re-read rules.yaml.
TABLE: dict[str, dict[str, list[str]]] = {
    "Existing": {
        "m365": ["P3", "P3", "P3", "P3", "P4"],
        "competitor": ["P3", "P3", "P3", "P3", "P4"],  # known tenant, mail elsewhere
        "greenfield": ["P3", "P3", "P3", "P3", "P4"],
        "none": ["P3", "P3", "P3", "P3", "P4"],
    },
    "Migration": {
        "m365": ["P3", "P3", "P3", "P3", "P4"],  # mail on M365 is an existing customer, whatever the label
        "competitor": ["P2", "P2", "P2", "P2", "P2"],
        "greenfield": ["P1", "P1", "P1", "P1", "P1"],
        "none": ["P6", "P6", "P6", "P6", "P6"],
    },
    "Cold": {
        "m365": ["P3", "P3", "P3", "P3", "P4"],
        "competitor": ["P6", "P5", "P5", "P5", "P5"],
        "greenfield": ["P6", "P5", "P5", "P5", "P5"],
        "none": ["P6", "P5", "P5", "P5", "P5"],
    },
    "Skip": {group: ["P6"] * 5 for group in GROUPS},
}

LABELS = {
    "P1": "High Potential Greenfield",
    "P2": "Competitive Takeover",
    "P3": "Existing Microsoft but Weak Partner",
    "P4": "Renewal Pressure",
    "P5": "Low Intent / Long Nurturing",
    "P6": "No-Go / Archive",
}
COMMERCIAL = {
    "P1": CommercialSegment.GREENFIELD,
    "P2": CommercialSegment.COMPETITIVE,
    "P3": CommercialSegment.WEAK_PARTNER,
    "P4": CommercialSegment.RENEWAL,
    "P5": CommercialSegment.LOW_INTENT,
    "P6": CommercialSegment.NO_GO,
}


def _cases() -> list[tuple[str, str | None, int, str]]:
    cases = []
    for segment, groups in TABLE.items():
        for group, categories in groups.items():
            for provider in GROUPS[group]:
                for (low, high), category in zip(BANDS.values(), categories, strict=True):
                    for score in sorted({low, (low + high) // 2, high}):
                        cases.append((segment, provider, score, category))
    return cases


CASES = _cases()


def test_table_covers_every_provider_segment_and_band() -> None:
    providers = {p for _, p, _, _ in CASES}
    assert providers == {*COMPETITORS, *GREENFIELD, "M365", None}
    assert {s for s, _, _, _ in CASES} == {s.value for s in Segment}
    scores = {score for _, _, score, _ in CASES}
    assert all(any(score in range(lo, hi + 1) for score in scores) for lo, hi in BANDS.values())
    assert len(CASES) == 4 * 11 * 5 * 3


@pytest.mark.parametrize(("segment", "provider", "score", "category"), CASES)
def test_priority_table(segment: str, provider: str | None, score: int, category: str) -> None:
    result = prioritise(segment, provider, score)
    assert result.priority_category == category
    assert result.priority_label == LABELS[category]
    assert result.commercial_segment is COMMERCIAL[category]
    assert result.priority_score == (7 - int(category[1])) * 1000 + score

    if segment == "Existing" or provider == "M365":
        assert result.technical_heat is TechnicalHeat.HOT
    elif provider in COMPETITORS:
        assert result.technical_heat is TechnicalHeat.WARM
    else:
        assert result.technical_heat is TechnicalHeat.COLD

    if category in ("P1", "P2") or (category == "P3" and score >= 50):
        assert result.commercial_heat is CommercialHeat.HIGH
    elif category in ("P3", "P4"):
        assert result.commercial_heat is CommercialHeat.MEDIUM
    else:
        assert result.commercial_heat is CommercialHeat.LOW


def _band_of(score: int) -> int:
    return next(i for i, (lo, hi) in enumerate(BANDS.values()) if lo <= score <= hi)


def test_every_integer_score_agrees_with_its_band() -> None:
    """Band edges are where rules go wrong: check all 101 scores, not only the samples."""
    for segment, groups in TABLE.items():
        for group, categories in groups.items():
            for provider in GROUPS[group]:
                for score in range(101):
                    got = prioritise(segment, provider, score).priority_category
                    assert got == categories[_band_of(score)], (segment, provider, score)


def test_sorting_by_priority_score_orders_by_category_then_score() -> None:
    results = [prioritise(segment, provider, score) for segment, provider, score, _ in CASES]
    ordered = sorted(results, key=lambda r: r.priority_score, reverse=True)
    keys = [(int(r.priority_category[1]), -(r.priority_score % 1000)) for r in ordered]
    assert keys == sorted(keys)
    # a weak P1 still outranks the best P2
    assert prioritise("Migration", "Hosting", 60).priority_score > prioritise("Migration", "Google", 100).priority_score


def test_weak_partner_heat_switches_at_50() -> None:
    assert prioritise("Existing", "M365", 49).commercial_heat is CommercialHeat.MEDIUM
    assert prioritise("Existing", "M365", 50).commercial_heat is CommercialHeat.HIGH
    assert prioritise("Existing", "M365", 69).priority_category == "P3"
    assert prioritise("Existing", "M365", 70).priority_category == "P4"


def test_cold_no_go_below_20() -> None:
    assert prioritise("Cold", "Local", 19).priority_category == "P6"
    assert prioritise("Cold", "Local", 20).priority_category == "P5"


def test_accepts_enum_or_string_segment() -> None:
    assert prioritise(Segment.MIGRATION, "Zoho", 61) == prioritise("Migration", "Zoho", 61)


@pytest.mark.parametrize("score", [-1, 101])
def test_score_out_of_range_is_refused(score: int) -> None:
    with pytest.raises(ValueError, match="score must be within 0..100"):
        prioritise("Cold", "Local", score)


def test_unknown_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="Warm"):
        prioritise("Warm", "Local", 50)
