"""The company's technologies in the sales summary: which vendor leads to which conversation, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.models import MxHost, ScanRecord, ScanStatus, Technology
from shared.core.sales import SUPPORTED_LANGS, build_sales_summary, load_texts
from shared.core.sales.data import load_tech_hooks
from shared.core.scoring import score_record
from shared.core.technologies import technology_data

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def lead(*names: str, status: ScanStatus = ScanStatus.OK) -> ScanRecord:
    data = {v.name: v for v in technology_data().vendors}
    return ScanRecord(
        input="firma.com.tr",
        domain="firma.com.tr",
        status=status,
        provider="M365" if status is ScanStatus.OK else None,
        mx=[MxHost(preference=0, host="firma-com-tr.mail.protection.outlook.com")] if status is ScanStatus.OK else [],
        technologies=[Technology(name=n, category=data[n].category, evidence=["x"]) for n in names],
    )


# vendor -> the hook it triggers, and words each language's talking point must carry
RULES = [
    ("Zoom", "teams", {"en": "Microsoft Teams", "tr": "Microsoft Teams"}),
    ("Webex", "teams", {"en": "Teams conversation", "tr": "Teams sohbeti"}),
    ("Slack", "teams", {"en": "Microsoft Teams", "tr": "Microsoft Teams"}),
    ("Salesforce", "dynamics_sales", {"en": "Sales and Customer Insights", "tr": "Sales ve Customer Insights"}),
    ("HubSpot", "dynamics_sales", {"en": "Dynamics 365 Sales", "tr": "Dynamics 365 Sales"}),
    ("Mailchimp", "dynamics_journeys", {"en": "Customer Insights – Journeys", "tr": "Customer Insights – Journeys"}),
    ("SendGrid", "dynamics_journeys", {"en": "Customer Insights – Journeys", "tr": "Customer Insights – Journeys"}),
    ("dmarcian", "mail_security", {"en": "already invest in mail security", "tr": "zaten yatırım yapıyorlar"}),
    ("Agari", "mail_security", {"en": "Defender for Office 365", "tr": "Defender for Office 365"}),
    ("KnowBe4", "mail_security", {"en": "Business Premium", "tr": "Business Premium"}),
    ("DocuSign", "content", {"en": "Microsoft 365 E3/E5", "tr": "Microsoft 365 E3/E5"}),
    ("Adobe", "content", {"en": "Microsoft 365 E3/E5", "tr": "Microsoft 365 E3/E5"}),
]  # fmt: skip


@pytest.mark.parametrize("lang", SUPPORTED_LANGS)
@pytest.mark.parametrize(("vendor", "hook", "words"), RULES, ids=[r[0] for r in RULES])
def test_each_vendor_leads_to_its_conversation(vendor, hook, words, lang):
    record = lead(vendor)
    summary = build_sales_summary(record, score_record(record), lang=lang, generated_at=NOW)
    texts = load_texts(lang).technologies
    assert summary.technology_hooks == [texts.hooks[hook].format(tech_names=vendor)]
    assert words[lang] in summary.technology_hooks[0] and vendor in summary.technology_hooks[0]
    assert vendor in summary.technologies_line
    script = texts.script[hook].format(tech_names=vendor)
    assert script in summary.call_script
    assert texts.questions[hook].format(tech_names=vendor) in summary.discovery_questions


def test_several_hooks_in_the_files_order_vendors_merged_and_bounded():
    record = lead("Microsoft 365", "Zoom", "Slack", "Salesforce", "Mailchimp", "dmarcian", "DocuSign")
    summary = build_sales_summary(record, score_record(record), lang="en", generated_at=NOW)
    assert len(summary.technology_hooks) == load_tech_hooks().max_hooks == 3
    assert "Zoom, Slack" in summary.technology_hooks[0] and "Salesforce" in summary.technology_hooks[1]
    assert summary.technologies_line == (
        "Technologies seen in its DNS: Microsoft 365, Zoom, Slack, Salesforce, Mailchimp, dmarcian, DocuSign."
    )
    assert sum("Zoom, Slack" in line for line in summary.call_script) == 1  # only the first hook is said


def test_no_technologies_no_hooks_and_no_mail_no_pitch():
    plain = lead()
    summary = build_sales_summary(plain, score_record(plain), lang="tr", generated_at=NOW)
    assert summary.technologies_line is None and summary.technology_hooks == []
    no_mail = lead("Zoom", status=ScanStatus.NO_MX)
    summary = build_sales_summary(no_mail, score_record(no_mail), lang="tr", generated_at=NOW)
    assert summary.technology_hooks == [] and "Zoom" in summary.technologies_line
    assert not any("Zoom" in line for line in summary.call_script)


def test_every_hook_names_known_vendors_and_categories():
    hooks = load_tech_hooks()
    assert {h.id for h in hooks.hooks} == {"teams", "dynamics_sales", "dynamics_journeys", "mail_security", "content"}
    for lang in SUPPORTED_LANGS:
        texts = load_texts(lang).technologies
        assert set(texts.hooks) == set(texts.script) == set(texts.questions) == {h.id for h in hooks.hooks}
