"""Technographics: every vendor from its documented record, never from its name in an unrelated string."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shared.core.models import DkimSelector, DmarcInfo, MxHost, ScanRecord, ScanStatus, SpfInfo
from shared.core.providers import classify
from shared.core.technologies import (
    MAX_EVIDENCE,
    TechnologyData,
    detect,
    joined,
    report_host,
    technology_data,
    technology_names,
    txt_prefixes,
)
from shared.scan.collector import MAX_KEPT_TXT, MAX_KEPT_TXT_CHARS, kept_txt


def record(
    *,
    txt: Sequence[str] = (),
    spf: Sequence[str] = (),
    rua: Sequence[str] = (),
    ruf: Sequence[str] = (),
    dkim: Sequence[tuple[str, str]] = (),
    mx: Sequence[str] = (),
    ns: Sequence[str] = (),
    status: ScanStatus = ScanStatus.OK,
) -> ScanRecord:
    return ScanRecord(
        input="contoso.com",
        domain="contoso.com",
        status=status,
        mx=[MxHost(preference=10, host=h) for h in mx],
        spf=(
            SpfInfo(
                record="v=spf1 " + " ".join(f"include:{s}" for s in spf) + " -all",
                valid=True,
                includes=list(spf),
                all_includes=list(spf),
            )
            if spf
            else None
        ),
        dmarc=(
            DmarcInfo(record="v=DMARC1; p=none", valid=True, policy="none", rua=list(rua), ruf=list(ruf))
            if rua or ruf
            else None
        ),
        dkim=[DkimSelector(selector=s, cname=c) for s, c in dkim],
        txt_verifications=list(txt),
        ns=list(ns),
    )


def names(rec: ScanRecord) -> list[str]:
    return [t.name for t in detect(rec)]


# (vendor, category, a record that proves it, the evidence it must show, a near miss that must not match)
CASES = [
    (
        "Atlassian",
        "collaboration",
        {"txt": ["atlassian-domain-verification=Q1w2E3r4"]},
        "atlassian-domain-verification=Q1w2E3r4",
        {"txt": ["we use atlassian-domain-verification tools"]},
    ),
    (
        "DocuSign",
        "e-signature",
        {"txt": ["docusign=1b0a6754-49b1-4db5-8540-d2c12664b289"]},
        "docusign=1b0a6754-49b1-4db5-8540-d2c12664b289",
        {"txt": ["notdocusign=123"]},
    ),
    (
        "Adobe",
        "productivity",
        {"txt": ["adobe-idp-site-verification=3f1a2b"]},
        "adobe-idp-site-verification=3f1a2b",
        {"txt": ["adobe-idp-site-verification"]},
    ),
    (
        "Meta",
        "social",
        {"txt": ["facebook-domain-verification=abc123xyz"]},
        "facebook-domain-verification=abc123xyz",
        {"txt": ["facebook.com/contoso"]},
    ),
    (
        "Apple",
        "identity",
        {"txt": ["apple-domain-verification=AbCdEf123"]},
        "apple-domain-verification=AbCdEf123",
        {"txt": ["apple-domain-verification AbCdEf123"]},
    ),
    ("Zoom", "collaboration", {"txt": ["ZOOM_verify_a1B2c3D4e5"]}, "ZOOM_verify_a1B2c3D4e5", {"txt": ["we love zoom"]}),
    (
        "Stripe",
        "payments",
        {"txt": ["stripe-verification=5c2d1e"]},
        "stripe-verification=5c2d1e",
        {"spf": ["stripe.com"]},
    ),
    (
        "Dropbox",
        "file-sharing",
        {"txt": ["dropbox-domain-verification=xyz"]},
        "dropbox-domain-verification=xyz",
        {"txt": ["x-dropbox-domain-verification=xyz"]},
    ),
    ("Miro", "collaboration", {"txt": ["miro-verification=0c1d2e"]}, "miro-verification=0c1d2e", {"txt": ["miro"]}),
    (
        "Webex",
        "collaboration",
        {"txt": ["cisco-ci-domain-verification=9f8e7d"]},
        "cisco-ci-domain-verification=9f8e7d",
        {"txt": ["cisco-ci-domain-verification"]},
    ),
    (
        "KnowBe4",
        "security-awareness",
        {"txt": ["knowbe4-site-verification=aa11bb22"]},
        "knowbe4-site-verification=aa11bb22",
        {"txt": ["knowbe4 training done"]},
    ),
    (
        "OneTrust",
        "privacy",
        {"txt": ["onetrust-domain-verification=f00d"]},
        "onetrust-domain-verification=f00d",
        {"txt": ["onetrust"]},
    ),
    (
        "Slack",
        "collaboration",
        {"txt": ["slack-domain-verification=Zz9"]},
        "slack-domain-verification=Zz9",
        {"txt": ["slack-channel=#it"]},
    ),
    (
        "Salesforce",
        "crm",
        {"spf": ["_spf.salesforce.com"]},
        "include:_spf.salesforce.com",
        {"spf": ["_spf.salesforce.com.evil.example"]},
    ),
    (
        "HubSpot",
        "crm",
        {"spf": ["1234567.spf01.hubspotemail.net"]},
        "include:1234567.spf01.hubspotemail.net",
        {"spf": ["hubspotemail.net.example.com"]},
    ),
    (
        "Mailchimp",
        "marketing-email",
        {"spf": ["servers.mcsv.net"]},
        "include:servers.mcsv.net",
        {"spf": ["notservers.mcsv.net"]},
    ),
    (
        "SendGrid",
        "transactional-email",
        {"spf": ["sendgrid.net"]},
        "include:sendgrid.net",
        {"spf": ["notsendgrid.net.example.com"]},
    ),
    (
        "Zendesk",
        "support",
        {"spf": ["mail.zendesk.com"]},
        "include:mail.zendesk.com",
        {"spf": ["mail.zendesk.com.example.net"]},
    ),
    (
        "Freshdesk",
        "support",
        {"spf": ["email.freshdesk.com"]},
        "include:email.freshdesk.com",
        {"spf": ["freshdesk.com"]},
    ),
    (
        "Mailgun",
        "transactional-email",
        {"spf": ["mailgun.org"]},
        "include:mailgun.org",
        {"spf": ["mailgun.org.example.com"]},
    ),
    (
        "SparkPost",
        "transactional-email",
        {"spf": ["_spf.sparkpostmail.com"]},
        "include:_spf.sparkpostmail.com",
        {"spf": ["sparkpostmail.co"]},
    ),
    ("Postmark", "transactional-email", {"spf": ["spf.mtasv.net"]}, "include:spf.mtasv.net", {"spf": ["mtasv.net"]}),
    ("Brevo", "marketing-email", {"spf": ["spf.brevo.com"]}, "include:spf.brevo.com", {"spf": ["brevo.com"]}),
    (
        "Amazon SES",
        "transactional-email",
        {"spf": ["amazonses.com"]},
        "include:amazonses.com",
        {"spf": ["amazonses.com.example.org"]},
    ),
    (
        "dmarcian",
        "dmarc-monitoring",
        {"rua": ["mailto:a1b2c3@ag.dmarcian.com"]},
        "rua=mailto:a1b2c3@ag.dmarcian.com",
        {"rua": ["mailto:dmarcian@contoso.com"]},
    ),
    (
        "Valimail",
        "dmarc-monitoring",
        {"rua": ["mailto:dmarc_agg@vali.email"]},
        "rua=mailto:dmarc_agg@vali.email",
        {"rua": ["mailto:vali.email@contoso.com"]},
    ),
    (
        "Agari",
        "dmarc-monitoring",
        {"rua": ["mailto:x@rua.agari.com"], "ruf": ["mailto:x@ruf.agari.com"]},
        "rua=mailto:x@rua.agari.com",
        {"rua": ["mailto:agari@rua.contoso.com"]},
    ),
    (
        "EasyDMARC",
        "dmarc-monitoring",
        {"rua": ["mailto:abc@rua.easydmarc.eu"]},
        "rua=mailto:abc@rua.easydmarc.eu",
        {"rua": ["mailto:abc@rua.easydmarc.eu.example.com"]},
    ),
    (
        "OnDMARC",
        "dmarc-monitoring",
        {"rua": ["mailto:xyz@inbox.ondmarc.com"]},
        "rua=mailto:xyz@inbox.ondmarc.com",
        {"rua": ["mailto:inbox.ondmarc.com@contoso.com"]},
    ),
    (
        "Proofpoint",
        "email-security",
        {"rua": ["mailto:dmarc_rua@emaildefense.proofpoint.com"]},
        "rua=mailto:dmarc_rua@emaildefense.proofpoint.com",
        {"rua": ["mailto:proofpoint@contoso.com"]},
    ),
    (
        "DMARC Analyzer",
        "dmarc-monitoring",
        {"rua": ["mailto:k9@rua.dmarcanalyzer.com"]},
        "rua=mailto:k9@rua.dmarcanalyzer.com",
        {"rua": ["mailto:k9@dmarcanalyzer.com.example.com"]},
    ),
    (
        "URIports",
        "dmarc-monitoring",
        {"rua": ["mailto:contoso@dmarc.uriports.com"]},
        "rua=mailto:contoso@dmarc.uriports.com",
        {"rua": ["mailto:uriports@contoso.com"]},
    ),
    (
        "Cloudflare",
        "cdn-security",
        {"rua": ["mailto:1f2e@dmarc-reports.cloudflare.net"]},
        "rua=mailto:1f2e@dmarc-reports.cloudflare.net",
        {"rua": ["mailto:1f2e@reports.cloudflare.net.example.com"]},
    ),
    (
        "PowerDMARC",
        "dmarc-monitoring",
        {"rua": ["mailto:r@rua.powerdmarc.com"]},
        "rua=mailto:r@rua.powerdmarc.com",
        {"rua": ["mailto:r@powerdmarc.co"]},
    ),
    ("Microsoft 365", "productivity", {"txt": ["MS=ms12345678"]}, "MS=ms12345678", {"txt": ["MS-Office=yes"]}),
    (
        "Google Workspace",
        "productivity",
        {"spf": ["_spf.google.com"]},
        "include:_spf.google.com",
        {"spf": ["google.com"]},
    ),
    (
        "GlobalSign",
        "certificates",
        {"txt": ["globalsign-domain-verification=Ab12"]},
        "globalsign-domain-verification=Ab12",
        {"txt": ["globalsign"]},
    ),
    (
        "Have I Been Pwned",
        "email-security",
        {"txt": ["have-i-been-pwned-verification=d41d8"]},
        "have-i-been-pwned-verification=d41d8",
        {"txt": ["have-i-been-pwned"]},
    ),
]


@pytest.mark.parametrize(("name", "category", "positive", "evidence", "near_miss"), CASES, ids=[c[0] for c in CASES])
def test_each_vendor_from_its_record_and_not_from_a_near_miss(name, category, positive, evidence, near_miss):
    found = detect(record(**positive))
    assert [t.name for t in found] == [name]
    assert found[0].category == category
    assert evidence in found[0].evidence
    assert names(record(**near_miss)) == []


def test_the_cases_cover_every_vendor_the_issue_lists():
    listed = {
        "Atlassian", "DocuSign", "Adobe", "Meta", "Apple", "Zoom", "Stripe", "Dropbox", "Miro", "Webex", "KnowBe4",
        "OneTrust", "Salesforce", "HubSpot", "Mailchimp", "SendGrid", "Zendesk", "Freshdesk", "Mailgun", "SparkPost",
        "Postmark", "Brevo", "Amazon SES", "dmarcian", "Valimail", "Agari", "EasyDMARC", "OnDMARC", "Proofpoint",
        "DMARC Analyzer", "URIports", "Cloudflare", "PowerDMARC", "Slack", "Google Workspace", "Microsoft 365",
    }  # fmt: skip
    assert listed <= {c[0] for c in CASES}
    assert listed <= set(technology_names())


@pytest.mark.parametrize(
    ("rec", "name", "evidence"),
    [
        (record(dkim=[("k1", "dkim.mcsv.net")]), "Mailchimp", "DKIM k1._domainkey CNAME dkim.mcsv.net"),
        (
            record(dkim=[("s1", "s1.domainkey.u123.wl.sendgrid.net")]),
            "SendGrid",
            "DKIM s1._domainkey CNAME s1.domainkey.u123.wl.sendgrid.net",
        ),
        (
            record(mx=["contoso-com.mail.protection.outlook.com"]),
            "Microsoft 365",
            "MX contoso-com.mail.protection.outlook.com",
        ),
        (
            record(dkim=[("selector1", "selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft")]),
            "Microsoft 365",
            "DKIM selector1._domainkey CNAME selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft",
        ),
        (record(ns=["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]), "Cloudflare", "NS ada.ns.cloudflare.com"),
        (record(txt=["webexdomainverification.P7KF=4b2c9d"]), "Webex", "webexdomainverification.P7KF=4b2c9d"),
        (
            record(txt=["brevo-code:e760f020e6d438149540cfc757e99b5a"]),
            "Brevo",
            "brevo-code:e760f020e6d438149540cfc757e99b5a",
        ),
        (record(spf=["spf.sendinblue.com"]), "Brevo", "include:spf.sendinblue.com"),
        (record(rua=["mailto:x@rua.agari.com!10m"]), "Agari", "rua=mailto:x@rua.agari.com!10m"),
        (record(txt=["zoom_verify_lowercase"]), "Zoom", "zoom_verify_lowercase"),
    ],
)
def test_other_documented_forms(rec, name, evidence):
    found = {t.name: t for t in detect(rec)}
    assert evidence in found[name].evidence


def test_one_entry_per_vendor_with_its_evidence_merged_and_bounded():
    rec = record(
        txt=["MS=ms111", "MS=ms222", "MS=ms333", "MS=ms444"],
        spf=["spf.protection.outlook.com"],
        mx=["contoso-com.mail.protection.outlook.com"],
    )
    found = detect(rec)
    assert [t.name for t in found] == ["Microsoft 365"]
    assert len(found[0].evidence) == MAX_EVIDENCE
    assert found[0].evidence[0] == "MS=ms111"


def test_categories_in_the_files_order_and_a_hostile_txt_is_cut():
    rec = record(
        txt=["ZOOM_verify_" + "x" * 5000, "knowbe4-site-verification=k"],
        spf=["_spf.salesforce.com", "servers.mcsv.net"],
        rua=["mailto:a@rua.agari.com"],
    )
    found = detect(rec)
    assert [t.name for t in found] == ["Zoom", "Salesforce", "Mailchimp", "Agari", "KnowBe4"]
    assert len(found[0].evidence[0]) <= 200
    assert joined(found) == "Zoom; Salesforce; Mailchimp; Agari; KnowBe4"


def test_classify_sets_technologies_even_without_mail_and_keeps_provider_and_gateway():
    rec = record(
        txt=["ZOOM_verify_abc"], mx=["contoso-com.mail.protection.outlook.com"], rua=["mailto:d@rua.agari.com"]
    )
    classified = classify(rec)
    assert classified.provider == "M365"
    assert [t.name for t in classified.technologies] == ["Microsoft 365", "Zoom", "Agari"]
    no_mail = classify(record(txt=["stripe-verification=1"], status=ScanStatus.NO_MX))
    assert [t.name for t in no_mail.technologies] == ["Stripe"]
    gateway = classify(record(mx=["mx0a-001.pphosted.com"], spf=["spf.protection.outlook.com"]))
    assert gateway.gateway == "Proofpoint" and gateway.provider == "M365"
    assert "Proofpoint" not in [t.name for t in gateway.technologies]  # the gateway field says it, from the MX


def test_a_record_stored_before_technologies_existed_still_reads():
    old = record().model_dump(mode="json")
    old.pop("technologies")
    assert ScanRecord.model_validate(old).technologies == []


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("mailto:a@rua.agari.com", "rua.agari.com"),
        ("MAILTO:A@RUA.Agari.COM.", "rua.agari.com"),
        ("mailto:a@b@ag.dmarcian.com!10m", "ag.dmarcian.com"),
        ("https://rua.agari.com/report", None),
        ("mailto:nobody", None),
    ],
)
def test_report_host(uri, host):
    assert report_host(uri) == host


def test_the_collector_keeps_every_prefix_the_data_needs_bounded():
    texts = ["v=spf1 -all", "ZOOM_verify_abc", "we love zoom", "Docusign=1", "x" * 70000]
    texts += [f"stripe-verification={i}" for i in range(100)]
    texts.append("miro-verification=" + "m" * 1000)
    kept = kept_txt(texts)
    assert kept[:2] == ["ZOOM_verify_abc", "Docusign=1"]
    assert len(kept) == MAX_KEPT_TXT and all(len(t) <= MAX_KEPT_TXT_CHARS for t in kept)
    assert set(txt_prefixes()) >= {"atlassian-domain-verification=", "zoom_verify_", "cisco-ci-domain-verification="}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "X", "category": "nope", "txt": ["x="]}, "unknown category"),
        ({"name": "X", "category": "crm"}, "no record to match"),
        ({"name": "X", "category": "crm", "txt": ["zoom"]}, "needs its"),
        ({"name": "X", "category": "crm", "txtt": ["x="]}, "unknown key"),
    ],
)
def test_the_data_file_is_checked(raw, message):
    with pytest.raises(ValueError, match=message):
        TechnologyData({"version": "1", "categories": ["crm"], "technologies": [raw]})


def test_the_bundled_file_loads():
    data = technology_data()
    assert len(data.vendors) >= 36 and "dmarc-monitoring" in data.categories


@pytest.mark.parametrize(
    "host",
    [
        "sendgrid.net",
        "u123.wl.sendgrid.net",
        "notsendgrid.net",
        "sendgrid.net.example.com",
        "_SPF.Salesforce.COM.",
        "x._spf.salesforce.com",
        "servers.mcsv.net",
        "a.servers.mcsv.net",
        "ada.ns.cloudflare.com",
        "ns.cloudflare.com.evil",
        "rua.agari.com",
        "",
    ],
)
def test_the_host_index_matches_like_host_matches(host):
    from shared.core.providers import host_matches

    data = technology_data()
    for kind in ("spf", "dmarc", "dkim_cname", "mx", "ns"):
        expected = {i for i, v in enumerate(data.vendors) if any(host_matches(host, p) for p in getattr(v, kind))}
        assert set(data.host_vendors(kind, host)) == expected, (kind, host)
