"""Sales summaries: snapshots in both languages, data-driven offers, urgency, robustness.

Snapshots live in tests/unit/snapshots/. Regenerate them with ``UPDATE_SNAPSHOTS=1`` and
read the diff: they are the sales texts a rep will see.
"""

from __future__ import annotations

import difflib
import json
import os
from datetime import UTC, datetime, timedelta
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
    Technology,
    TenantSize,
    WhoisInfo,
)
from shared.core.providers import PROVIDERS as ALL_PROVIDERS
from shared.core.sales import SUPPORTED_LANGS, SalesSummary, build_sales_summary, load_offers, load_texts
from shared.core.sales import summary as summary_module
from shared.core.sales.data import iter_templates
from shared.core.scoring import score_record

SNAPSHOTS = Path(__file__).parent / "snapshots"
GENERATED_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PROVIDERS = list(ALL_PROVIDERS)


def size(band: str) -> TenantSize:
    return TenantSize(band=band, confidence="medium", evidence=["MX/SPF footprint"])


def lead(domain: str, provider: str | None, **fields: Any) -> ScanRecord:
    return ScanRecord(
        input=domain, domain=domain, status=fields.pop("status", ScanStatus.OK), provider=provider, **fields
    )


LEADS: dict[str, ScanRecord] = {
    "m365_weak_partner": lead(
        "acme-tekstil.com.tr",
        "M365",
        mx=[MxHost(preference=0, host="acmetekstil-com-tr.mail.protection.outlook.com")],
        spf=SpfInfo(
            record="v=spf1 include:spf.protection.outlook.com -all",
            valid=True,
            all="-all",
            includes=["spf.protection.outlook.com"],
            lookups=2,
        ),
        dkim=[DkimSelector(selector="selector1", has_key=False)],
        dmarc=DmarcInfo(
            record="v=DMARC1; p=none; rua=mailto:dmarc@acme-tekstil.com.tr",
            valid=True,
            policy="none",
            rua=["mailto:dmarc@acme-tekstil.com.tr"],
        ),
        m365=M365Info(evidence=["MX mail.protection.outlook.com"], tenant_domain="acmetekstil.onmicrosoft.com"),
        tenant_size=size("small"),
    ),
    "google_no_dmarc": lead(
        "ornek-lojistik.com",
        "Google",
        technologies=[
            Technology(name="Google Workspace", category="productivity", evidence=["include:_spf.google.com"]),
            Technology(name="Slack", category="collaboration", evidence=["slack-domain-verification=x1"]),
            Technology(name="HubSpot", category="crm", evidence=["include:1.spf01.hubspotemail.net"]),
            Technology(name="Mailchimp", category="marketing-email", evidence=["include:servers.mcsv.net"]),
        ],
        mx=[
            MxHost(preference=1, host="aspmx.l.google.com"),
            MxHost(preference=5, host="alt1.aspmx.l.google.com"),
        ],
        spf=SpfInfo(
            record="v=spf1 include:_spf.google.com ~all",
            valid=True,
            all="~all",
            includes=["_spf.google.com"],
            lookups=4,
        ),
        dkim=[DkimSelector(selector="google", has_key=True)],
        tenant_size=size("medium"),
    ),
    "local_natro": lead(
        "kardesler-insaat.com.tr",
        "Local",
        local_provider="Natro",
        mx=[MxHost(preference=10, host="mx.natrohost.com")],
        spf=SpfInfo(record="v=spf1 a mx include:spf.natrohost.com ~all", valid=True, all="~all", lookups=4),
        dkim=[DkimSelector(selector="default", has_key=True)],
        dmarc=DmarcInfo(record="v=DMARC1; p=none", valid=True, policy="none"),
        whois=WhoisInfo(registrar="Natro", expires=GENERATED_AT + timedelta(days=25)),
        tenant_size=size("small"),
    ),
    "hosting_godaddy": lead(
        "bluewave-dental.com",
        "Hosting",
        local_provider="GoDaddy",
        mx=[
            MxHost(preference=0, host="smtp.secureserver.net"),
            MxHost(preference=10, host="mailstore1.secureserver.net"),
        ],
        spf=SpfInfo(record="v=spf1 include:secureserver.net -all", valid=True, all="-all", lookups=3),
        dkim=[DkimSelector(selector="default", cname="default._domainkey.secureserver.net")],
        dmarc=DmarcInfo(record="v=DMARC1; p=reject", valid=True, policy="reject"),
        whois=WhoisInfo(registrar="GoDaddy.com, LLC", expires=GENERATED_AT + timedelta(days=400)),
        tenant_size=size("medium"),
    ),
    "m365_mimecast": lead(
        "demir-holding.com.tr",
        "M365",
        technologies=[
            Technology(name="Microsoft 365", category="productivity", evidence=["MS=ms5551234"]),
            Technology(name="Zoom", category="collaboration", evidence=["ZOOM_verify_abc"]),
            Technology(name="DocuSign", category="e-signature", evidence=["docusign=1b0a"]),
            Technology(name="KnowBe4", category="security-awareness", evidence=["knowbe4-site-verification=k"]),
        ],
        gateway="Mimecast",
        mx=[
            MxHost(preference=10, host="eu-smtp-inbound-1.mimecast.com"),
            MxHost(preference=10, host="eu-smtp-inbound-2.mimecast.com"),
        ],
        spf=SpfInfo(
            record="v=spf1 include:spf.protection.outlook.com include:_netblocks.mimecast.com -all",
            valid=True,
            all="-all",
            lookups=5,
        ),
        dkim=[
            DkimSelector(
                selector="selector1",
                cname="selector1-demirholding-com-tr._domainkey.demirholding.onmicrosoft.com",
            )
        ],
        dmarc=DmarcInfo(
            record="v=DMARC1; p=quarantine; pct=25; rua=mailto:dmarc@demir-holding.com.tr",
            valid=True,
            policy="quarantine",
            pct=25,
            rua=["mailto:dmarc@demir-holding.com.tr"],
        ),
        m365=M365Info(
            evidence=["SPF include spf.protection.outlook.com"], tenant_domain="demirholding.onmicrosoft.com"
        ),
        tenant_size=size("large"),
    ),
    "no_mail": lead(
        "eski-ticaret.com",
        None,
        status=ScanStatus.NO_MX,
        whois=WhoisInfo(registrar="Natro", expires=GENERATED_AT + timedelta(days=300)),
    ),
}


def summarise(rec: ScanRecord, lang: str = "tr", generated_at: datetime = GENERATED_AT) -> SalesSummary:
    return build_sales_summary(rec, score_record(rec), lang=lang, generated_at=generated_at)


# --------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("lang", SUPPORTED_LANGS)
@pytest.mark.parametrize("name", sorted(LEADS))
def test_snapshot(name: str, lang: str) -> None:
    actual = summarise(LEADS[name], lang).model_dump_json(indent=2) + "\n"
    path = SNAPSHOTS / f"sales_{name}_{lang}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"snapshot {path} is missing; generate it with UPDATE_SNAPSHOTS=1 and review it")
    expected = path.read_text(encoding="utf-8")
    if json.loads(expected) != json.loads(actual):
        diff = "\n".join(
            difflib.unified_diff(expected.splitlines(), actual.splitlines(), "snapshot", "actual", lineterm="")
        )
        pytest.fail(f"sales summary for {name} ({lang}) differs from {path.name}:\n{diff}")


def test_snapshot_leads_cover_the_representative_categories() -> None:
    categories = {name: score_record(rec).priority_category for name, rec in LEADS.items()}
    assert categories == {
        "m365_weak_partner": "P3",
        "google_no_dmarc": "P2",
        "local_natro": "P5",
        "hosting_godaddy": "P1",
        "m365_mimecast": "P4",
        "no_mail": "P6",
    }


# --------------------------------------------------------------------------- texts name the real situation


def test_texts_name_the_company_situation() -> None:
    natro = summarise(LEADS["local_natro"], "tr")
    assert "kardesler-insaat.com.tr" in natro.one_liner and "Natro" in natro.one_liner
    assert "mx.natrohost.com" in natro.one_liner

    mimecast = summarise(LEADS["m365_mimecast"], "en")
    script = " ".join(mimecast.call_script)
    assert "Mimecast" in mimecast.one_liner and "demirholding.onmicrosoft.com" in mimecast.one_liner
    assert "25%" in mimecast.one_liner and "p=quarantine" in mimecast.one_liner
    assert "Mimecast" in script

    google = summarise(LEADS["google_no_dmarc"], "tr")
    assert "Google Workspace" in google.one_liner and "DMARC kaydı yok" in google.one_liner
    assert any("Google Workspace" in q for q in google.discovery_questions)

    godaddy = summarise(LEADS["hosting_godaddy"], "en")
    assert "GoDaddy" in godaddy.one_liner and "smtp.secureserver.net" in godaddy.one_liner


def test_turkish_texts_use_turkish_characters() -> None:
    text = summarise(LEADS["m365_weak_partner"], "tr").model_dump_json()
    for char in "şğıİçöü":
        assert char in text or char in json.dumps(json.loads(text), ensure_ascii=False), char
    tr = json.dumps(summarise(LEADS["local_natro"], "tr").model_dump(mode="json"), ensure_ascii=False)
    assert "barındırılıyor" in tr and "süresi" in tr and "doluyor" in tr


def test_security_findings_in_plain_words() -> None:
    weak = summarise(LEADS["m365_weak_partner"], "en").security_findings
    assert weak == [
        "DMARC is in monitoring mode only (p=none): spoofed mail still reaches recipients.",
        "No DKIM key was found on the common selectors, so outgoing mail is probably not signed.",
    ]
    mimecast = summarise(LEADS["m365_mimecast"], "en").security_findings
    assert mimecast == ["The DMARC p=quarantine policy applies to only 25% of mail; the rest is unprotected."]
    over = lead(
        "x.com",
        "Google",
        spf=SpfInfo(
            record="v=spf1 ...",
            valid=False,
            lookups=14,
            over_lookup_limit=True,
            error="permerror: 14 DNS-querying terms, the limit is 10",
        ),
    )
    assert "needs 14 DNS lookups where the limit is 10" in summarise(over, "en").security_findings[1]
    plus_all = lead("x.com", "Google", spf=SpfInfo(record="v=spf1 +all", valid=True, all="+all"))
    assert summarise(plus_all, "en").security_findings[0].startswith("The SPF record ends in +all")


def test_no_mail_lead() -> None:
    summary = summarise(LEADS["no_mail"], "en")
    assert summary.offer_tier is None
    assert summary.opportunity_potential == 0
    assert summary.security_findings == []
    assert summary.urgency.level == "low"
    assert "it publishes no MX record" in summary.one_liner
    assert summary.next_action.startswith("Do not call; find the domain")


@pytest.mark.parametrize("status", [ScanStatus.TIMEOUT, ScanStatus.SERVFAIL, ScanStatus.ERROR])
def test_transient_failure_says_rescan(status: ScanStatus) -> None:
    summary = summarise(lead("x.com", None, status=status), "tr")
    assert "yarın yeniden tarayın" in summary.next_action


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize("lang", ["de", "", "turkish"])
def test_unknown_language_is_refused(lang: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported language .*supported languages: en, tr"):
        summarise(LEADS["google_no_dmarc"], lang)


def test_language_code_is_normalised() -> None:
    summary = summarise(LEADS["google_no_dmarc"], " EN ")
    assert summary.metadata.lang == "en"
    assert summary.one_liner.startswith("ornek-lojistik.com runs its mail on Google Workspace")


def test_default_language_is_turkish() -> None:
    rec = LEADS["google_no_dmarc"]
    summary = build_sales_summary(rec, score_record(rec), generated_at=GENERATED_AT)
    assert summary.metadata.lang == "tr"
    assert summary.metadata.rules_version == "2026.11.1"
    assert summary.metadata.generated_at == GENERATED_AT


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return ["item"]
    return "text"


def test_both_languages_have_the_same_texts() -> None:
    shapes = {}
    for lang in SUPPORTED_LANGS:
        raw = yaml.safe_load(resources.files("shared.core.sales").joinpath(f"texts_{lang}.yaml").read_text("utf-8"))
        shapes[lang] = _shape(raw)
        texts = load_texts(lang)
        assert all(text.strip() for _, text in iter_templates(texts))
    assert shapes["en"] == shapes["tr"]


# --------------------------------------------------------------------------- offers come from the data file


def test_offer_plans_and_prices_come_from_offers_yaml() -> None:
    raw = yaml.safe_load(resources.files("shared.core.sales").joinpath("offers.yaml").read_text("utf-8"))
    expected = {
        "m365_weak_partner": "business_premium",
        "google_no_dmarc": "business_standard",
        "local_natro": "business_basic",
        "hosting_godaddy": "business_standard",
        "m365_mimecast": "e5",
    }
    for name, plan_id in expected.items():
        offer = summarise(LEADS[name], "en").offer_tier
        assert offer is not None
        assert offer.plan_id == plan_id
        assert offer.name == raw["plans"][plan_id]["name"]
        assert offer.monthly_price == raw["plans"][plan_id]["monthly_price"]
        assert offer.currency == raw["currency"]


def test_large_tenant_without_gateway_gets_e3() -> None:
    rec = LEADS["google_no_dmarc"].model_copy(update={"tenant_size": size("large")})
    offer = summarise(rec, "en").offer_tier
    assert offer is not None and offer.name == "Microsoft 365 E3"
    assert "300 users" in offer.reason


def test_changing_the_offers_data_changes_the_offer(monkeypatch: pytest.MonkeyPatch) -> None:
    offers = load_offers()
    plans = dict(offers.plans)
    plans["business_standard"] = plans["business_standard"].model_copy(
        update={"name": "Microsoft 365 Business Standard (no Teams)", "monthly_price": 12.25}
    )
    monkeypatch.setattr(summary_module, "load_offers", lambda: offers.model_copy(update={"plans": plans}))
    summary = summarise(LEADS["google_no_dmarc"], "tr")
    assert summary.offer_tier is not None
    assert summary.offer_tier.name == "Microsoft 365 Business Standard (no Teams)"
    assert summary.offer_tier.price_text == "kullanıcı başına aylık 12,25 USD"
    assert "Microsoft 365 Business Standard (no Teams)" in summary.one_liner


# --------------------------------------------------------------------------- urgency


def clean_m365(**fields: Any) -> ScanRecord:
    values: dict[str, Any] = {
        "mx": [MxHost(preference=0, host="x-com.mail.protection.outlook.com")],
        "spf": SpfInfo(record="v=spf1 include:spf.protection.outlook.com -all", valid=True, all="-all"),
        "dkim": [DkimSelector(selector="selector1", has_key=True)],
        "dmarc": DmarcInfo(record="v=DMARC1; p=reject", valid=True, policy="reject", rua=["mailto:d@x.com"]),
    }
    values.update(fields)
    return lead("x.com", "M365", **values)


def test_a_well_configured_lead_is_not_urgent() -> None:
    summary = summarise(clean_m365(), "en")
    assert summary.urgency.level == "low"
    assert summary.urgency.triggers == []
    assert summary.urgency.reason == "No pressing risk is visible; a planned sales process is enough."
    assert summary.security_findings == []


@pytest.mark.parametrize(("days", "level"), [(0, "high"), (60, "high"), (61, "low"), (365, "low")])
def test_domain_expiry_within_60_days_is_urgent(days: int, level: str) -> None:
    rec = clean_m365(whois=WhoisInfo(expires=GENERATED_AT + timedelta(days=days, hours=3)))
    summary = summarise(rec, "en")
    assert summary.urgency.level == level
    if level == "high":
        assert summary.urgency.triggers == ["domain_expiring"]
        assert f"expires in {days} days" in summary.urgency.reason
        assert summary.next_action.startswith("Call this week. The x.com domain expires")


def test_expired_domain_is_urgent() -> None:
    rec = clean_m365(whois=WhoisInfo(expires=GENERATED_AT - timedelta(days=3)))
    summary = summarise(rec, "tr")
    assert summary.urgency.level == "high"
    assert "3 gün önce" in summary.urgency.reason
    assert any("dolmuş görünüyor" in q for q in summary.discovery_questions)


def test_naive_datetimes_are_treated_as_utc() -> None:
    rec = clean_m365(whois=WhoisInfo(expires=datetime(2026, 12, 1)))
    summary = summarise(rec, "en", generated_at=datetime(2026, 11, 25, 9, 0))
    assert "expires in 6 days" in summary.urgency.reason
    assert summary.metadata.generated_at.tzinfo is not None


@pytest.mark.parametrize("provider", ["Google", "Zoho", "Yandex"])
def test_no_dmarc_on_a_competitor_platform_is_urgent(provider: str) -> None:
    rec = clean_m365(dmarc=None).model_copy(update={"provider": provider})
    summary = summarise(rec, "en")
    assert summary.urgency.level == "high"
    assert summary.urgency.triggers[0] == "competitor_no_dmarc"
    assert "There is no DMARC protection on" in summary.urgency.reason


def test_no_dmarc_elsewhere_is_medium() -> None:
    summary = summarise(clean_m365(dmarc=None), "en")
    assert summary.urgency.level == "medium"
    assert summary.urgency.triggers == ["no_dmarc"]


def test_partial_dmarc_is_low_but_explained() -> None:
    summary = summarise(LEADS["m365_mimecast"], "en")
    assert summary.urgency.level == "low"
    assert summary.urgency.reason == "DMARC protection covers only 25% of mail."


# --------------------------------------------------------------------------- potential


def test_potential_orders_leads_sensibly() -> None:
    potentials = {name: summarise(rec, "en").opportunity_potential for name, rec in LEADS.items()}
    assert potentials["hosting_godaddy"] > potentials["google_no_dmarc"] > potentials["local_natro"]
    assert potentials["m365_mimecast"] > potentials["local_natro"]
    assert potentials["no_mail"] == 0
    assert all(0 <= p <= 100 for p in potentials.values())


# --------------------------------------------------------------------------- robustness over random leads

record_strategy = st.builds(
    ScanRecord,
    input=st.just("ornek.com.tr"),
    domain=st.just("ornek.com.tr"),
    domain_unicode=st.sampled_from([None, "örnek.com.tr"]),
    status=st.sampled_from(list(ScanStatus)),
    provider=st.sampled_from([*PROVIDERS, None]),
    mx=st.lists(
        st.builds(MxHost, preference=st.integers(0, 20), host=st.sampled_from(["mx.ornek.com.tr", "mx2.ornek.com.tr"])),
        max_size=2,
    ),
    spf=st.one_of(
        st.none(),
        st.builds(
            SpfInfo,
            record=st.just("v=spf1 ~all"),
            valid=st.booleans(),
            error=st.sampled_from([None, "permerror: bad", "temperror: timeout"]),
            all=st.sampled_from([None, "-all", "~all", "?all", "+all"]),
            redirect=st.sampled_from([None, "x.net"]),
            lookups=st.integers(0, 15),
            over_lookup_limit=st.booleans(),
        ),
    ),
    dmarc=st.one_of(
        st.none(),
        st.builds(
            DmarcInfo,
            record=st.just("v=DMARC1"),
            valid=st.booleans(),
            error=st.sampled_from([None, "p= is missing"]),
            policy=st.sampled_from([None, "none", "quarantine", "reject"]),
            pct=st.integers(0, 100),
            rua=st.sampled_from([[], ["mailto:d@ornek.com.tr"]]),
        ),
    ),
    dkim=st.lists(st.builds(DkimSelector, selector=st.just("default"), has_key=st.booleans()), max_size=1),
    local_provider=st.sampled_from([None, "Natro", "Turhost"]),
    gateway=st.sampled_from([None, "Mimecast", "Proofpoint"]),
    m365=st.builds(M365Info, tenant_domain=st.sampled_from([None, "ornek.onmicrosoft.com"])),
    tenant_size=st.one_of(st.none(), st.sampled_from(["small", "medium", "large"]).map(size)),
    whois=st.one_of(
        st.none(),
        st.builds(
            WhoisInfo,
            registrar=st.sampled_from([None, "Natro"]),
            expires=st.one_of(st.none(), st.integers(-30, 400).map(lambda d: GENERATED_AT + timedelta(days=d))),
        ),
    ),
)


def _all_text(summary: SalesSummary) -> list[str]:
    texts = [
        summary.one_liner,
        summary.next_action,
        summary.urgency.reason,
        *summary.call_script,
        *summary.discovery_questions,
        *summary.security_findings,
    ]
    if summary.offer_tier:
        texts.append(summary.offer_tier.reason)
    return texts


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rec=record_strategy, lang=st.sampled_from(SUPPORTED_LANGS))
def test_any_lead_gets_a_complete_summary_without_placeholders(rec: ScanRecord, lang: str) -> None:
    summary = summarise(rec, lang)
    assert 3 <= len(summary.discovery_questions) <= 6
    assert len(set(summary.discovery_questions)) == len(summary.discovery_questions)
    assert 0 <= summary.opportunity_potential <= 100
    for text in _all_text(summary):
        assert text.strip()
        assert "{" not in text and "}" not in text, text
        assert "None" not in text, text
    domain = rec.domain_unicode or rec.domain
    assert domain is not None and domain in summary.one_liner
    if rec.gateway and rec.status is ScanStatus.OK and rec.provider:
        assert rec.gateway in summary.one_liner
