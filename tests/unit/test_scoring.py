"""Scoring: the rules file, each default rule, hard fails, segments and invariants."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core.models import (
    DkimSelector,
    DmarcInfo,
    M365Info,
    MxHost,
    ScanRecord,
    ScanStatus,
    SpfInfo,
    TenantSize,
)
from shared.core.providers import PROVIDERS as ALL_PROVIDERS
from shared.core.scoring import (
    LeadFacts,
    RulesError,
    ScoreResult,
    Segment,
    load_rules,
    parse_rules,
    prioritise,
    score_record,
)

PROVIDERS = list(ALL_PROVIDERS)
SPF_OK = SpfInfo(record="v=spf1 include:_spf.example.net -all", valid=True, all="-all", lookups=3)
DKIM_OK = [DkimSelector(selector="selector1", has_key=True)]


def dmarc(policy: str | None = "reject", pct: int = 100, valid: bool = True) -> DmarcInfo:
    return DmarcInfo(record=f"v=DMARC1; p={policy}; pct={pct}", valid=valid, policy=policy, pct=pct)


def record(provider: str | None = "Google", status: ScanStatus = ScanStatus.OK, **fields: Any) -> ScanRecord:
    """A scan record with a clean, fully authenticated setup unless fields say otherwise."""
    values: dict[str, Any] = {
        "input": "example.com",
        "domain": "example.com",
        "status": status,
        "provider": provider,
        "mx": [MxHost(preference=10, host="mx.example.net")],
        "spf": SPF_OK,
        "dkim": DKIM_OK,
        "dmarc": dmarc(),
    }
    values.update(fields)
    return ScanRecord(**values)


def points(result: ScoreResult) -> dict[str, int]:
    return {item.rule: item.points for item in result.breakdown}


def bundled_rules_dict() -> dict[str, Any]:
    text = resources.files("shared.core.scoring").joinpath("rules.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def rule_named(data: dict[str, Any], section: str, rule_id: str) -> dict[str, Any]:
    return next(rule for rule in data[section] if rule["id"] == rule_id)


# --------------------------------------------------------------------------- rules file


def test_bundled_rules_load_and_are_versioned() -> None:
    rules = load_rules()
    assert rules.version == "2026.11.1"
    assert rules is load_rules()  # parsed once
    assert score_record(record()).rules_version == rules.version


def test_load_rules_from_path_and_text(tmp_path: Path) -> None:
    data = bundled_rules_dict()
    data["version"] = "test-1"
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_rules(path).version == "test-1"
    assert load_rules(str(path)).version == "test-1"
    assert load_rules(text).version == "test-1"


def test_numeric_version_is_kept_as_text() -> None:
    data = bundled_rules_dict()
    data["version"] = 2026.11
    assert parse_rules(yaml.safe_dump(data)).version == "2026.11"


def test_missing_rules_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read scoring rules file"):
        load_rules(tmp_path / "nope.yaml")


def _mutate_score_rule(rule_id: str, **changes: Any) -> dict[str, Any]:
    data = bundled_rules_dict()
    rule = rule_named(data, "score_rules", rule_id)
    for key, value in changes.items():
        if value is None:
            rule.pop(key, None)
        else:
            rule[key] = value
    return data


def _when(rule_id: str, section: str = "score_rules", **when: Any) -> dict[str, Any]:
    data = bundled_rules_dict()
    rule_named(data, section, rule_id)["when"] = when
    return data


BROKEN = [
    pytest.param(_when("dmarc_reject", provder=["M365"]), ["dmarc_reject", "provder"], id="misspelt-condition"),
    pytest.param(_when("provider_google", provider=["Gogle"]), ["provider_google", "Gogle"], id="unknown-provider"),
    pytest.param(_mutate_score_rule("spf_valid", points="ten"), ["spf_valid", "points"], id="points-not-int"),
    pytest.param(_mutate_score_rule("dkim_found", points=None), ["dkim_found", "points"], id="points-missing"),
    pytest.param(_when("spf_missing", spf=["broken"]), ["spf_missing", "spf"], id="unknown-spf-state"),
    pytest.param(_when("dmarc_missing", dmarc=["off"]), ["dmarc_missing", "dmarc"], id="unknown-dmarc-state"),
    pytest.param(
        _mutate_score_rule("dmarc_quarantine", scale_by="score"),
        ["dmarc_quarantine", "scale_by"],
        id="bad-scale",
    ),
    pytest.param(
        _mutate_score_rule("dkim_missing", reason="Missing on {selector}"),
        ["dkim_missing", "selector"],
        id="unknown-placeholder",
    ),
    pytest.param(
        _mutate_score_rule("dkim_missing", reason="Missing {oops"),
        ["dkim_missing", "malformed"],
        id="bad-braces",
    ),
    pytest.param(_when("spf_valid", score_min=10), ["spf_valid", "score_min"], id="score-in-score-rule"),
    pytest.param(_when("provider_m365", provider=[]), ["provider_m365", "provider"], id="empty-list"),
    pytest.param(_mutate_score_rule("spf_broken", id="spf_valid"), ["spf_valid", "more than once"], id="duplicate-id"),
    pytest.param(_mutate_score_rule("spf_broken", id="SPF Broken"), ["SPF Broken", "id"], id="bad-id"),
]


@pytest.mark.parametrize(("data", "expected"), BROKEN)
def test_broken_rules_name_the_offending_rule_and_field(data: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(RulesError) as excinfo:
        parse_rules(yaml.safe_dump(data, sort_keys=False))
    message = str(excinfo.value)
    for fragment in expected:
        assert fragment in message, message


def test_segments_must_end_with_a_catch_all() -> None:
    data = bundled_rules_dict()
    data["segments"] = data["segments"][:-1]
    with pytest.raises(RulesError, match=r"segments: the last rule \('mid_score_cold'\) must have an empty 'when'"):
        parse_rules(yaml.safe_dump(data))


def test_segment_score_range_must_be_ordered() -> None:
    data = _when("local_cold", "segments", provider=["Local"], score_min=59, score_max=5)
    with pytest.raises(RulesError, match=r"segments\[3\] \(rule 'local_cold'\) field when: .*score_min 59"):
        parse_rules(yaml.safe_dump(data))


def test_unknown_segment_name_is_rejected() -> None:
    data = bundled_rules_dict()
    rule_named(data, "segments", "local_cold")["segment"] = "Warm"
    with pytest.raises(RulesError, match=r"rule 'local_cold'\) field segment"):
        parse_rules(yaml.safe_dump(data))


def test_priority_categories_must_cover_every_commercial_segment() -> None:
    data = bundled_rules_dict()
    data["priority"]["categories"][5]["commercial_segment"] = "GREENFIELD"
    with pytest.raises(RulesError, match="commercial segment GREENFIELD must map to exactly one category"):
        parse_rules(yaml.safe_dump(data))


def test_priority_lists_need_catch_alls() -> None:
    data = bundled_rules_dict()
    data["priority"]["technical_heat"] = data["priority"]["technical_heat"][:-1]
    with pytest.raises(RulesError, match=r"priority.technical_heat: the last rule \('cloud_competitor_warm'\)"):
        parse_rules(yaml.safe_dump(data))


def test_hard_fail_needs_a_text_for_every_status() -> None:
    data = bundled_rules_dict()
    del data["hard_fail"]["status_text"]["servfail"]
    with pytest.raises(RulesError, match=r"hard_fail.status_text.*servfail"):
        parse_rules(yaml.safe_dump(data))


def test_missing_version_and_invalid_yaml_are_reported() -> None:
    data = bundled_rules_dict()
    del data["version"]
    with pytest.raises(RulesError, match="version: Field required"):
        parse_rules(yaml.safe_dump(data))
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("version: [unclosed")
    with pytest.raises(RulesError, match="mapping at the top level"):
        parse_rules("- just\n- a list\n")


def test_rules_drive_the_score_not_code() -> None:
    data = _mutate_score_rule("provider_google", points=35)
    data["version"] = "experiment-7"
    rules = parse_rules(yaml.safe_dump(data))
    result = score_record(record("Google"), rules=rules)
    assert points(result)["provider_google"] == 35
    assert result.rules_version == "experiment-7"
    assert result.score == 35 + 10 + 10 + 20


# --------------------------------------------------------------------------- each default rule


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("M365", 50),
        ("Google", 50),
        ("Yandex", 30),
        ("Zoho", 30),
        ("Amazon", 20),
        ("SendGrid", 20),
        ("Mailgun", 20),
        ("Hosting", 20),
        ("Local", 10),
        ("Unknown", 0),
    ],
)
def test_provider_points(provider: str, expected: int) -> None:
    result = score_record(record(provider))
    provider_items = [item for item in result.breakdown if item.rule.startswith("provider_")]
    assert len(provider_items) == 1
    assert provider_items[0].points == expected
    assert result.score == expected + 40  # SPF 10 + DKIM 10 + DMARC reject 20


@pytest.mark.parametrize(
    ("spf", "rule", "expected"),
    [
        (SPF_OK, "spf_valid", 10),
        (None, "spf_missing", -10),
        (
            SpfInfo(record="v=spf1 foo", valid=False, error="permerror: unknown mechanism foo"),
            "spf_broken",
            -5,
        ),
        (
            SpfInfo(
                record="v=spf1 ...",
                valid=False,
                error="permerror: 12 DNS-querying terms",
                lookups=12,
                over_lookup_limit=True,
            ),
            "spf_broken",
            -5,
        ),
        # over the limit is broken even if a collector forgot to say so
        (SpfInfo(record="v=spf1 ...", valid=True, lookups=11, over_lookup_limit=True), "spf_broken", -5),
    ],
)
def test_spf_rules(spf: SpfInfo | None, rule: str, expected: int) -> None:
    result = points(score_record(record(spf=spf)))
    spf_items = {k: v for k, v in result.items() if k.startswith("spf_")}
    assert spf_items == {rule: expected}


def test_spf_temperror_is_neither_rewarded_nor_punished() -> None:
    spf = SpfInfo(record="v=spf1 include:x", valid=False, error="temperror: could not fetch SPF of x (timeout)")
    result = points(score_record(record(spf=spf)))
    assert not [k for k in result if k.startswith("spf_")]


def test_spf_broken_reason_quotes_the_error() -> None:
    spf = SpfInfo(record="v=spf1 ...", valid=True, lookups=13, over_lookup_limit=True)
    item = next(i for i in score_record(record(spf=spf)).breakdown if i.rule == "spf_broken")
    assert "13 DNS lookups" in item.reason


@pytest.mark.parametrize(
    ("dkim", "rule", "expected"),
    [
        (DKIM_OK, "dkim_found", 10),
        (
            [DkimSelector(selector="selector1", cname="selector1-x._domainkey.x.onmicrosoft.com")],
            "dkim_found",
            10,
        ),
        ([], "dkim_missing", -10),
        ([DkimSelector(selector="google", has_key=False)], "dkim_missing", -10),
    ],
)
def test_dkim_rules(dkim: list[DkimSelector], rule: str, expected: int) -> None:
    result = points(score_record(record(dkim=dkim)))
    assert {k: v for k, v in result.items() if k.startswith("dkim_")} == {rule: expected}


@pytest.mark.parametrize(
    ("info", "rule", "expected"),
    [
        (dmarc("reject"), "dmarc_reject", 20),
        (dmarc("quarantine"), "dmarc_quarantine", 15),
        (dmarc("reject", pct=50), "dmarc_reject", 10),
        (dmarc("reject", pct=25), "dmarc_reject", 5),
        (dmarc("quarantine", pct=50), "dmarc_quarantine", 8),  # 7.5 rounds half up
        (dmarc("quarantine", pct=10), "dmarc_quarantine", 2),  # 1.5 rounds half up
        (dmarc("reject", pct=0), "dmarc_reject", 0),
        (dmarc("none"), "dmarc_monitor_only", -5),
        (dmarc("none", pct=50), "dmarc_monitor_only", -5),
        (None, "dmarc_missing", -10),
        (dmarc("reject", valid=False), "dmarc_invalid", -10),
        (dmarc(None, valid=True), "dmarc_invalid", -10),
    ],
)
def test_dmarc_rules(info: DmarcInfo | None, rule: str, expected: int) -> None:
    result = points(score_record(record(dmarc=info)))
    assert {k: v for k, v in result.items() if k.startswith("dmarc_")} == {rule: expected}


def test_dmarc_reason_names_the_coverage() -> None:
    item = next(i for i in score_record(record(dmarc=dmarc("reject", pct=50))).breakdown if i.rule == "dmarc_reject")
    assert "50%" in item.reason


def test_hosting_without_spf_or_dkim_is_punished_once_more() -> None:
    bare = points(score_record(record("Hosting", spf=None, dkim=[], dmarc=None)))
    assert bare["hosting_unauthenticated"] == -10
    with_spf = points(score_record(record("Hosting", dkim=[], dmarc=None)))
    assert "hosting_unauthenticated" not in with_spf
    local_bare = points(score_record(record("Local", spf=None, dkim=[], dmarc=None)))
    assert "hosting_unauthenticated" not in local_bare


@pytest.mark.parametrize("referral", ["co-sell", "Co-Sell", "co_sell", " CO SELL "])
def test_cosell_referral_adds_a_boost(referral: str) -> None:
    base = score_record(record("Zoho"))
    boosted = score_record(record("Zoho"), extra=LeadFacts(referral_type=referral))
    assert points(boosted)["referral_cosell"] == 15
    assert boosted.score == base.score + 15


def test_other_referrals_earn_nothing() -> None:
    result = score_record(record("Zoho"), extra=LeadFacts(referral_type="marketplace"))
    assert "referral_cosell" not in points(result)


def test_worst_and_best_cases_clamp_with_an_explicit_line() -> None:
    worst = score_record(record("Hosting", spf=None, dkim=[], dmarc=None))
    assert worst.score == 0
    assert worst.breakdown[-1].rule == "clamp"
    assert worst.breakdown[-1].points == 20  # 20 - 10 - 10 - 10 - 10 = -20
    assert "-20" in worst.breakdown[-1].reason
    best = score_record(record("M365"), extra=LeadFacts(referral_type="co-sell"))
    assert best.score == 100
    assert best.breakdown[-1].rule == "clamp"
    assert best.breakdown[-1].points == -5  # 50 + 10 + 10 + 20 + 15 = 105
    for result in (worst, best):
        assert sum(item.points for item in result.breakdown) == result.score


def test_no_clamp_line_when_within_bounds() -> None:
    assert "clamp" not in points(score_record(record("Google")))


def test_breakdown_follows_rules_file_order() -> None:
    result = score_record(record("M365", spf=None, dkim=[], dmarc=dmarc("none")))
    assert [i.rule for i in result.breakdown] == [
        "provider_m365",
        "spf_missing",
        "dkim_missing",
        "dmarc_monitor_only",
    ]


def test_score_result_rejects_a_breakdown_that_does_not_add_up() -> None:
    good = score_record(record("Google")).model_dump()
    good["score"] += 1
    with pytest.raises(ValueError, match="breakdown sums to"):
        ScoreResult.model_validate(good)


# --------------------------------------------------------------------------- hard fail


@pytest.mark.parametrize("status", [s for s in ScanStatus if s is not ScanStatus.OK])
def test_cannot_receive_mail_is_a_hard_fail(status: ScanStatus) -> None:
    result = score_record(record("M365", status=status), extra=LeadFacts(referral_type="co-sell", known_tenant=True))
    assert result.hard_fail
    assert result.score == 0
    assert result.segment is Segment.SKIP
    assert len(result.breakdown) == 1
    item = result.breakdown[0]
    assert (item.rule, item.points) == ("cannot_receive_mail", 0)
    assert f"'{status.value}'" in item.reason
    assert result.priority_category == "P6"


def test_ok_status_without_a_provider_is_a_hard_fail() -> None:
    result = score_record(record(None))
    assert result.hard_fail and result.score == 0 and result.segment is Segment.SKIP
    assert "no mail provider could be identified" in result.breakdown[0].reason


# --------------------------------------------------------------------------- segments


SEGMENT_CASES = [
    # (id, record, context, expected score, expected segment)
    ("m365-low", record("M365", spf=None, dkim=[], dmarc=None), None, 20, Segment.EXISTING),
    ("m365-full", record("M365"), None, 90, Segment.EXISTING),
    (
        "known-tenant-google",
        record("Google", dmarc=None),
        LeadFacts(known_tenant=True),
        60,
        Segment.EXISTING,
    ),
    (
        "known-tenant-zero",
        record("Unknown", spf=None, dkim=[], dmarc=None),
        LeadFacts(known_tenant=True),
        0,
        Segment.EXISTING,
    ),
    # the previous system gave Amazon at 60 no segment at all
    ("amazon-60", record("Amazon"), None, 60, Segment.MIGRATION),
    ("google-60", record("Google", dmarc=None), None, 60, Segment.MIGRATION),
    ("google-45", record("Google", dkim=[], dmarc=dmarc("none")), None, 45, Segment.COLD),
    ("hosting-40", record("Hosting", dkim=[], dmarc=dmarc("reject")), None, 40, Segment.COLD),
    ("hosting-35", record("Hosting", dkim=[], dmarc=dmarc("quarantine")), None, 35, Segment.SKIP),
    ("zoho-20", record("Zoho", dkim=[], dmarc=None), None, 20, Segment.SKIP),
    ("local-50", record("Local"), None, 50, Segment.COLD),
    ("local-5", record("Local", dkim=[], dmarc=dmarc("none")), None, 5, Segment.COLD),
    (
        "local-4",
        record(
            "Local",
            spf=SpfInfo(record="v=spf1 x", valid=False, error="permerror: x"),
            dkim=[],
            dmarc=dmarc("quarantine", pct=60),
        ),
        None,
        4,
        Segment.SKIP,
    ),
    ("local-0", record("Local", spf=None, dkim=[], dmarc=None), None, 0, Segment.SKIP),
    ("local-cosell-65", record("Local"), LeadFacts(referral_type="co-sell"), 65, Segment.MIGRATION),
    ("unknown-40", record("Unknown"), None, 40, Segment.COLD),
]


@pytest.mark.parametrize(
    ("rec", "context", "score", "segment"), [c[1:] for c in SEGMENT_CASES], ids=[c[0] for c in SEGMENT_CASES]
)
def test_segments(rec: ScanRecord, context: LeadFacts | None, score: int, segment: Segment) -> None:
    result = score_record(rec, extra=context)
    assert result.score == score
    assert result.segment is segment
    assert result.segment_reason


def test_priority_fields_come_from_prioritise() -> None:
    result = score_record(record("Amazon"))
    expected = prioritise(result.segment, "Amazon", result.score)
    assert result.priority_category == expected.priority_category == "P1"
    assert result.commercial_segment == "GREENFIELD"
    assert result.priority_score == 6000 + 60
    assert result.priority_label == "High Potential Greenfield"


# --------------------------------------------------------------------------- properties

spf_strategy = st.one_of(
    st.none(),
    st.just(SPF_OK),
    st.builds(
        SpfInfo,
        record=st.just("v=spf1 include:x ~all"),
        valid=st.booleans(),
        error=st.sampled_from([None, "permerror: syntax", "temperror: could not fetch SPF of x (timeout)"]),
        all=st.sampled_from([None, "-all", "~all", "?all", "+all"]),
        lookups=st.integers(0, 20),
        over_lookup_limit=st.booleans(),
    ),
)
dmarc_strategy = st.one_of(
    st.none(),
    st.builds(
        DmarcInfo,
        record=st.just("v=DMARC1"),
        valid=st.booleans(),
        policy=st.sampled_from([None, "none", "quarantine", "reject", "bogus"]),
        pct=st.integers(0, 100),
        rua=st.sampled_from([[], ["mailto:d@example.com"]]),
    ),
)
dkim_strategy = st.lists(
    st.builds(
        DkimSelector,
        selector=st.sampled_from(["selector1", "google", "default"]),
        has_key=st.booleans(),
        cname=st.sampled_from([None, "x.example.net"]),
    ),
    max_size=3,
)
record_strategy = st.builds(
    ScanRecord,
    input=st.just("example.com"),
    domain=st.just("example.com"),
    status=st.sampled_from(list(ScanStatus)),
    provider=st.sampled_from([*PROVIDERS, None]),
    mx=st.lists(
        st.builds(MxHost, preference=st.integers(0, 50), host=st.sampled_from(["mx1.example.net", "mx2.example.net"])),
        max_size=2,
    ),
    spf=spf_strategy,
    dmarc=dmarc_strategy,
    dkim=dkim_strategy,
    local_provider=st.sampled_from([None, "Natro", "Turhost"]),
    gateway=st.sampled_from([None, "Mimecast", "Proofpoint"]),
    m365=st.builds(M365Info, tenant_domain=st.sampled_from([None, "example.onmicrosoft.com"])),
    tenant_size=st.one_of(
        st.none(),
        st.builds(
            TenantSize,
            band=st.sampled_from(["small", "medium", "large"]),
            confidence=st.just("low"),
            evidence=st.just([]),
        ),
    ),
)
context_strategy = st.one_of(
    st.none(),
    st.builds(LeadFacts, referral_type=st.sampled_from([None, "co-sell", "partner"]), known_tenant=st.booleans()),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(rec=record_strategy, context=context_strategy)
def test_scoring_invariants(rec: ScanRecord, context: LeadFacts | None) -> None:
    result = score_record(rec, extra=context)
    assert 0 <= result.score <= 100
    assert sum(item.points for item in result.breakdown) == result.score
    assert len({item.rule for item in result.breakdown}) == len(result.breakdown)
    for item in result.breakdown:
        assert item.reason and "{" not in item.reason and "None" not in item.reason, item.reason
    assert isinstance(result.segment, Segment)
    expected = prioritise(result.segment, None if result.hard_fail else rec.provider, result.score)
    assert result.priority_category == expected.priority_category
    assert result.priority_score == (7 - int(result.priority_category[1])) * 1000 + result.score

    receives = rec.status is ScanStatus.OK and rec.provider is not None
    assert result.hard_fail is (not receives)
    if not receives:
        assert result.segment is Segment.SKIP and result.score == 0
    elif rec.provider == "M365" or (context is not None and context.known_tenant):
        assert result.segment is Segment.EXISTING
    elif result.score >= 60:
        assert result.segment is Segment.MIGRATION
    elif 40 <= result.score <= 59 or (rec.provider == "Local" and result.score >= 5):
        assert result.segment is Segment.COLD
    else:
        assert result.segment is Segment.SKIP


def test_rules_file_scores_exactly_the_classifier_providers():
    """The classifier (providers.yaml) and the rules file name the same providers, so none goes unscored."""
    assert set(load_rules().providers) == set(ALL_PROVIDERS)


# --------------------------------------------------------------------------- Turkish reasons


def _placeholders(template: str) -> set[str]:
    import string

    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_reason_has_a_turkish_twin_with_the_same_placeholders() -> None:
    rules = load_rules()
    pairs = [(r.id, r.reason, r.reason_tr) for r in [*rules.score_rules, *rules.segments]]
    pairs += [(rules.clamp.id, rules.clamp.reason, rules.clamp.reason_tr)]
    pairs += [(rules.hard_fail.id, rules.hard_fail.reason, rules.hard_fail.reason_tr)]
    for rule_id, english, turkish in pairs:
        assert _placeholders(english) == _placeholders(turkish), rule_id
        assert english != turkish, f"{rule_id}: the Turkish reason is the English one"
    assert set(rules.hard_fail.status_text_tr) == set(rules.hard_fail.status_text)


def test_a_rules_file_without_turkish_reasons_is_refused() -> None:
    data = bundled_rules_dict()
    del rule_named(data, "score_rules", "dmarc_missing")["reason_tr"]
    with pytest.raises(RulesError, match="dmarc_missing"):
        parse_rules(yaml.safe_dump(data, allow_unicode=True))


def test_breakdown_and_segment_reasons_come_in_turkish_too() -> None:
    result = score_record(record("Yandex", dmarc=dmarc("quarantine", pct=50)))
    by_rule = {item.rule: item for item in result.breakdown}
    assert by_rule["provider_yandex_zoho"].reason_tr == (
        "E-posta bir bulut e-posta platformu olan Yandex üzerinde barındırılıyor"
    )
    assert by_rule["dmarc_quarantine"].reason_tr == "DMARC p=quarantine, e-postaların %50 kadarına uygulanıyor"
    assert result.segment_reason_tr and "Yandex" in result.segment_reason_tr

    failed = score_record(record(None, status=ScanStatus.NXDOMAIN, mx=[]))
    assert failed.breakdown[0].reason_tr == "E-posta alamıyor: alan adı yok (tarama durumu 'nxdomain')"


def test_clamp_line_names_its_bound_in_turkish() -> None:
    worst = score_record(record("Unknown", spf=None, dkim=[], dmarc=None))
    assert worst.breakdown[-1].reason_tr is not None
    assert "alt sınır" in worst.breakdown[-1].reason_tr
