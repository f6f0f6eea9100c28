"""The sales team's web app in a real browser (Chromium): sign-in, leads, lead detail, scan, dashboard,
referrals, Dynamics 365 push, operations (poison messages, API keys) and scopes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from shared.store.keys import REVOCATION_CHECK_SECONDS

# Full-page screenshots of each screen; HUNTER_SCREENSHOTS=docs/screenshots refreshes the committed ones.
SCREENSHOTS = Path(os.environ.get("HUNTER_SCREENSHOTS") or Path(__file__).with_name("artifacts") / "screens")


def sign_in(page, web, key: str = "admin", route: str = "") -> None:
    page.goto(f"{web['app']}{route}")
    page.fill("input[name=api_key]", web["keys"][key])
    page.click("form.signin button[type=submit]")
    expect(page.locator("#topbar")).to_be_visible()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_static_files_are_safe_and_need_no_key(web):
    index = httpx.get(web["app"])
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert index.headers["x-content-type-options"] == "nosniff"
    assert index.headers["referrer-policy"] == "no-referrer"
    assert index.headers["cache-control"] == "no-cache"
    script = httpx.get(f"{web['base']}/ui/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(web["app"], headers={"If-None-Match": index.headers["etag"]}).status_code == 304
    for bad in ("../pyproject.toml", "js/../../api/ui.py", "%2e%2e/api/ui.py", ".hidden", "nope.html"):
        assert httpx.get(f"{web['base']}/ui/{bad}").status_code == 404, bad
    root = httpx.get(web["origin"] + "/", follow_redirects=False)
    assert root.status_code == 302 and root.headers["location"].endswith("/api/ui/")
    assert httpx.get(f"{web['base']}/ui", follow_redirects=False).headers["location"] == "/api/ui/"


def test_sign_in_rejects_a_bad_key_and_sign_out_forgets_the_key(page, web):
    page.expect_http_error(401)
    page.goto(web["app"])
    expect(page).to_have_title(re.compile("Giriş"))
    page.fill("input[name=api_key]", "hunter_nope_nope")
    page.click("form.signin button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("geçersiz")
    assert "hunter_nope" not in page.url
    shot(page, "signin-tr")
    page.fill("input[name=api_key]", web["keys"]["read"])
    page.click("form.signin button[type=submit]")
    expect(page.locator("table.leads-table")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('hunter.apiKey')") == web["keys"]["read"]
    assert page.context.cookies() == []
    page.get_by_role("button", name="Çıkış yap").click()
    expect(page.locator("input[name=api_key]")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('hunter.apiKey')") is None


def test_leads_filter_sort_and_url(page, web):
    sign_in(page, web)
    rows = page.locator("table.leads-table tbody tr")
    expect(rows).to_have_count(8)
    expect(page.locator(".summary")).to_contain_text("8 kayıttan 1–8")
    expect(page.locator("tbody")).to_contain_text("Şişli İnşaat")
    shot(page, "leads-tr")
    page.select_option("#f-segment", "Existing")
    page.get_by_role("button", name="Filtrele", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/leads\?segment=Existing"))
    expect(rows).to_have_count(3)
    page.get_by_role("columnheader", name="Puan", exact=True).get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"segment=Existing&sort=-score"))
    expect(rows.first.locator("th")).to_have_text("m365.com.tr")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Puan")
    # a bookmarked view opens as it was
    page.goto(f"{web['app']}#/leads?q=%C3%B6zt%C3%BCrk")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Öztürk Gıda")
    expect(page.locator("#f-q")).to_have_value("öztürk")
    page.goto(f"{web['app']}#/leads?priority=P1&min_score=99")
    expect(page.locator(".empty")).to_contain_text("eşleşen potansiyel müşteri yok")


def test_export_downloads_the_current_view_with_the_key_in_a_header(page, web):
    sign_in(page, web, route="#/leads?segment=Existing")
    expect(page.locator("table.leads-table tbody tr")).to_have_count(3)
    with page.expect_download() as info:
        page.get_by_role("button", name="CSV indir").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "m365.com.tr" in text and "google.com.tr" not in text
    assert ";" in text.splitlines()[0]  # Turkish Excel wants semicolons
    with page.expect_download() as info:
        page.get_by_role("button", name="Excel indir").click()
    assert Path(info.value.path()).read_bytes()[:2] == b"PK"


def test_lead_detail_summary_language_and_copy(page, web):
    sign_in(page, web, route="#/leads/m365.com.tr")
    expect(page.locator("h1")).to_have_text("m365.com.tr")
    expect(page).to_have_title(re.compile("m365.com.tr"))
    expect(page.locator(".bar-row").first).to_be_visible()
    expect(page.locator(".facts").first).to_contain_text("Teknik ısı")
    expect(page.locator(".pill.heat-hot")).to_have_text("Sıcak")
    expect(page.locator(".facts")).to_contain_text(["M365"])
    expect(page.locator(".summary-body[lang=tr] .one-liner")).to_be_visible()
    shot(page, "lead-tr")
    page.get_by_role("button", name="English", exact=True).last.click()
    expect(page.locator(".summary-body[lang=en] .one-liner")).to_be_visible()
    script = page.locator(".script li").all_inner_texts()
    page.get_by_role("button", name="Arama senaryosunu kopyala").click()
    expect(page.locator("#toast")).to_contain_text("kopyalandı")
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(script)
    page.expect_http_error(404)  # the unknown lead below
    page.goto(f"{web['app']}#/leads/unknown-domain.com.tr")
    expect(page.locator(".empty")).to_contain_text("henüz taranmamış")


def test_english_toggle_formats_for_the_language(page, web):
    sign_in(page, web)
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("h1")).to_have_text("Leads")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".summary")).to_contain_text("Showing 1–8 of 8")
    shot(page, "leads-en")
    page.goto(f"{web['app']}#/leads/m365.com.tr")
    expect(page.locator(".summary-body[lang=en] .one-liner")).to_be_visible()
    shot(page, "lead-en")
    page.goto(f"{web['app']}#/dashboard")
    expect(page.locator(".stat-value").first).to_be_visible()
    shot(page, "dashboard-en")


def test_scan_one_domain_and_upload_a_file(page, web, tmp_path):
    sign_in(page, web, key="scan", route="#/scan")
    page.fill("#scan-domain", "m365.com.tr")
    page.get_by_role("button", name="Şimdi tara").click()
    expect(page.locator(".result")).to_contain_text("m365.com.tr")
    listing = tmp_path / "liste.csv"
    listing.write_text("domain,company\nm365.com.tr,Ağ A.Ş.\ngoogle.com.tr,Gökyüzü\nbu değil bir alan adı,X\n", "utf-8")
    page.set_input_files("#scan-file", str(listing))
    preview = page.locator(".preview")
    expect(preview).to_contain_text("domain (kendiliğinden bulundu)")
    expect(preview).to_contain_text("company")
    expect(preview.locator(".invalid-table")).to_contain_text("bu değil bir alan adı")
    expect(preview.locator(".invalid-table")).to_contain_text("boşluk içeriyor")  # the server's reason, in Turkish
    shot(page, "scan-preview-tr")
    page.get_by_role("button", name="2 alan adını taramaya başla").click()
    expect(page).to_have_url(re.compile(r"#/scan/jobs/[\w-]+"))
    expect(page.locator(".pill.job-done")).to_be_visible(timeout=30_000)
    expect(page.locator(".progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("table")).to_contain_text("bu değil bir alan adı")
    shot(page, "scan-job-tr")
    page.reload()  # the job id is in the URL: the view survives a reload
    expect(page.locator(".pill.job-done")).to_be_visible()
    page.goto(f"{web['app']}#/scan")  # and the Scan screen lists it among the recent jobs
    recent = page.locator("table.jobs-table tbody tr").first
    expect(recent).to_contain_text("liste.csv")
    expect(recent).to_contain_text("%100")


def test_dashboard_charts(page, web):
    sign_in(page, web, route="#/dashboard")
    expect(page.locator(".stat-value").first).to_have_text(re.compile(r"\d"))
    expect(page.locator(".chart")).to_have_count(5)  # priority, segment, provider, commercial, technologies
    expect(page.locator(".chart .bar-row").first).to_be_visible()
    expect(page.locator("#dash-tech")).to_have_text("Teknolojiler")
    expect(page.get_by_text("Entegrasyonlar")).to_be_visible()
    expect(page.locator("#dash-rescan")).to_have_text("Otomatik yeniden tarama")
    expect(page.get_by_text("Sonraki çalışma")).to_be_visible()
    shot(page, "dashboard-tr")
    page.locator(".chart a", has_text="P3").click()
    expect(page).to_have_url(re.compile(r"#/leads\?priority=P3"))
    expect(page.locator("table.leads-table tbody tr")).to_have_count(2)
    page.goto(f"{web['app']}#/dashboard")
    page.locator(".chart a", has_text="Google Workspace").click()
    expect(page).to_have_url(re.compile(r"#/leads\?tech=Google(%20|\+)Workspace"))
    expect(page.locator("table.leads-table tbody tr")).to_have_count(1)


def test_the_filtered_list_can_be_rescanned(page, web):
    sign_in(page, web, route="#/leads?priority=P3")
    expect(page.locator("table.leads-table tbody tr")).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Listeyi yeniden tara").click()
    expect(page).to_have_url(re.compile(r"#/scan/jobs/[0-9a-f]{32}"), timeout=10_000)


def test_admins_subscribe_a_webhook_and_see_its_secret_once(page, web):
    sign_in(page, web, route="#/notifications")
    expect(page.locator("h1")).to_have_text("Bildirimler")
    page.locator("#notify-kind").select_option("webhook")
    page.locator("#notify-target").fill("https://hooks.example.com/hunter")
    page.get_by_label("Sıcak müşteri (P1/P2)").check()
    page.get_by_role("button", name="Abone et").click()
    expect(page.locator("#new-secret")).to_have_value(re.compile(r"^whsec_"))
    row = page.locator("table.subscriptions-table tbody tr", has_text="hooks.example.com")
    expect(row).to_contain_text("Sıcak müşteri")
    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.subscriptions-table tbody tr", has_text="hooks.example.com").get_by_role(
        "button", name="Sil"
    ).click()
    expect(page.locator("table.subscriptions-table")).to_have_count(0)


def test_operations_for_admins(page, web):
    sign_in(page, web, route="#/ops")
    expect(page.locator("h1")).to_have_text("Operasyon")
    expect(page.locator("table.queues-table tbody tr").first).to_be_visible()
    page.locator("table.queues-table tbody tr").first.get_by_role("button").click()
    expect(page.locator("#ops-poison")).to_be_visible()


@pytest.mark.parametrize("route", ["#/leads/m365.com.tr", "#/leads"])
def test_read_only_key_sees_no_scan_push_or_operations(page, web, route):
    sign_in(page, web, key="read", route=route)
    expect(page.locator("#main h1")).to_be_visible()
    nav = page.get_by_role("navigation", name="Ana menü")
    expect(nav.get_by_role("link")).to_have_text(["Potansiyel müşteriler", "Gösterge paneli", "Yönlendirmeler"])
    expect(page.get_by_role("button", name="Yeniden tara")).to_have_count(0)
    expect(page.get_by_role("button", name="Dynamics 365'e gönder")).to_have_count(0)


def test_a_screen_beyond_the_key_explains_the_missing_scope(page, web):
    sign_in(page, web, key="read", route="#/scan")
    expect(page.get_by_role("alert")).to_contain_text("tarama (scan) yetkisi")


def test_keyboard_reaches_the_sign_in_form(page, web):
    page.goto(web["app"])
    expect(page.locator("input[name=api_key]")).to_be_focused()
    page.keyboard.type(web["keys"]["read"])
    page.keyboard.press("Enter")
    expect(page.locator("table.leads-table")).to_be_visible()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused  # a visible, named control takes the focus


def test_tablet_layout_has_no_horizontal_page_scroll(page, web):
    page.set_viewport_size({"width": 820, "height": 1100})
    sign_in(page, web, route="#/leads/m365.com.tr")
    expect(page.locator(".summary-body .one-liner")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_breakdown_reasons_follow_the_language(page, web):
    sign_in(page, web, route="#/leads/m365.com.tr")
    reasons = page.locator(".bar-reason")
    expect(reasons.first).to_have_text("E-posta Microsoft 365'te barındırılıyor")
    page.get_by_role("button", name="Switch to English").click()  # the top bar's language switch
    expect(page.locator(".bar-reason").first).to_have_text("Mail is hosted on Microsoft 365")


def test_push_a_lead_to_the_dataverse_stand_in(page, web):
    sign_in(page, web, key="scan", route="#/leads/gw.com.tr")
    d365 = page.locator("section", has=page.get_by_role("heading", name="Dynamics 365"))
    expect(d365).to_contain_text("Gönderilmedi")
    page.get_by_role("button", name="Dynamics 365'e gönder").click()
    expect(page.locator("#toast")).to_contain_text("gönderim sırasına alındı")
    for _ in range(40):  # the queue worker beside `hunter serve` pushes it within a few seconds
        if web["ms"].dataverse.row_by_key("gw.com.tr"):
            break
        page.wait_for_timeout(250)
    row = web["ms"].dataverse.row_by_key("gw.com.tr")
    assert row is not None and row["companyname"] == "Çağrı Lojistik"
    page.reload()
    d365 = page.locator("section", has=page.get_by_role("heading", name="Dynamics 365"))
    expect(d365).to_contain_text("Gönderildi")
    link = d365.get_by_role("link", name="Dynamics 365'te aç")
    expect(link).to_have_attribute("href", re.compile(re.escape(row["leadid"])))
    shot(page, "lead-d365-tr")


def test_referrals_sync_now_list_filter_and_link(page, web):
    sign_in(page, web, route="#/referrals")
    expect(page.locator("h1")).to_have_text("Yönlendirmeler")
    expect(page.locator(".empty")).to_contain_text("Henüz yönlendirme yok")
    page.get_by_role("button", name="Şimdi eşitle").click()
    expect(page.locator("#toast")).to_contain_text("3 okundu, 3 yeni")
    rows = page.locator("table.referrals-table tbody tr")
    expect(rows).to_have_count(3)
    cosell = rows.filter(has_text="M365 Bilişim A.Ş.")
    expect(cosell).to_contain_text("Ortak satış (Microsoft ile)")
    expect(rows.filter(has_text="Ayşe Usta Pastanesi")).to_contain_text("Alan adı eksik")
    expect(rows.filter(has_text="Ayşe Usta Pastanesi")).to_contain_text("gmail.com")
    shot(page, "referrals-tr")

    page.select_option("#r-link_status", "domain_missing")
    page.get_by_role("button", name="Filtrele", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/referrals\?link_status=domain_missing"))
    expect(rows).to_have_count(1)
    page.goto(f"{web['app']}#/referrals")
    rows.filter(has_text="M365 Bilişim A.Ş.").get_by_role("link", name="m365.com.tr").click()
    expect(page.locator("h1")).to_have_text("m365.com.tr")
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Partner Center yönlendirmeleri"))
    ).to_contain_text("Shared")


def test_read_only_key_reads_referrals_but_cannot_sync(page, web):
    sign_in(page, web, key="read", route="#/referrals")
    expect(page.locator("h1")).to_have_text("Yönlendirmeler")
    expect(page.locator("table.referrals-table, .empty").first).to_be_visible()
    expect(page.get_by_role("button", name="Şimdi eşitle")).to_have_count(0)


def test_admin_creates_copies_and_revokes_an_api_key(page, web):
    sign_in(page, web, route="#/ops")
    keys = page.locator("table.keys-table tbody tr")
    expect(keys.filter(has_text="okuyucu")).to_contain_text("etkin")
    expect(keys.filter(has_text="yönetici").get_by_role("button")).to_have_count(0)  # not the key in use
    page.fill("#key-name", "Power Automate akışı")
    page.get_by_label("tarama + okuma").check()
    page.get_by_role("button", name="Anahtar oluştur").click()
    created = page.locator("#new-key")
    expect(created).to_be_visible()
    key = created.input_value()
    assert key.startswith("hunter_")
    expect(page.locator(".new-key")).to_contain_text("yalnızca şimdi gösterilir")
    page.get_by_role("button", name="Kopyala", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()") == key
    me = httpx.get(f"{web['base']}/v1/me", headers={"X-API-Key": key})
    assert me.json() == {"name": "Power Automate akışı", "scopes": ["read", "scan"]}
    shot(page, "ops-keys-tr")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Power Automate akışı anahtarını iptal et").click()
    expect(page.locator("#toast")).to_contain_text("iptal edildi")
    expect(keys.filter(has_text="Power Automate akışı")).to_contain_text("iptal:")
    # The server's other process may have trusted the key a moment ago: it re-reads it within 2 s.
    deadline = time.monotonic() + REVOCATION_CHECK_SECONDS + 1
    while (status := httpx.get(f"{web['base']}/v1/me", headers={"X-API-Key": key}).status_code) == 200:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.1)
    assert status == 401
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)  # shown once: gone after a reload


def test_changed_since_filter_is_kept_in_the_url(page, web):
    sign_in(page, web, key="read", route="#/leads")
    page.fill("#f-changed_since", "2099-01-01")
    page.get_by_role("button", name="Filtrele", exact=True).click()
    expect(page).to_have_url(re.compile(r"changed_since=2099-01-01"))
    expect(page.locator(".empty")).to_be_visible()
    page.reload()
    expect(page.locator("#f-changed_since")).to_have_value("2099-01-01")


AXE = Path(__file__).resolve().parents[2] / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ["#/leads", "#/leads/m365.com.tr", "#/scan", "#/dashboard", "#/referrals", "#/notifications", "#/ops"]


@pytest.mark.skipif(not AXE.exists(), reason="scripts/setup installs axe-core into tools/axe")
def test_every_screen_passes_axe_wcag_aa_checks(browser, web):
    """axe-core (WCAG 2.1 A and AA rules: contrast, labels, names, landmarks) on every screen.

    axe is injected by the test, so this context bypasses the page's CSP; the app never loads it."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="tr-TR", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, web)
        found = {}
        for route in SCREENS:
            page.goto(f"{web['app']}{route}")
            expect(page.locator("#main h1")).to_be_visible()
            expect(page.locator("#main .loading")).to_have_count(0)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                """async () => {
                    const r = await axe.run(document, {
                        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
                    });
                    return {
                        passes: r.passes.length,
                        violations: r.violations.map((v) => ({
                            id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
                        })),
                    };
                }"""
            )
            assert result["passes"] >= 10, (route, result)  # axe really ran its rules here
            if result["violations"]:
                found[route] = result["violations"]
        assert not found, found
        # And it does find problems: an unlabelled field and low-contrast text on the last screen.
        page.evaluate(
            """() => document.getElementById("main").insertAdjacentHTML(
                "beforeend", '<input id="bad"><p style="color:#ccc;background:#fff">grey</p>')"""
        )
        ids = page.evaluate("async () => (await axe.run(document)).violations.map((v) => v.id)")
        assert {"label", "color-contrast"} <= set(ids)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["tr", "en"])
def test_every_screen_in_both_languages_has_no_untranslated_label(page, web, lang):
    """Full-page screenshots of every screen in each language (looked at by a person; the fixture fails
    the test on a label without a text, a console error or a third-party request)."""
    sign_in(page, web)
    if lang == "en":
        page.get_by_role("button", name="Switch to English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    for route in SCREENS:
        page.goto(f"{web['app']}{route}")
        expect(page.locator("#main h1")).to_be_visible()
        expect(page.locator("#main .loading")).to_have_count(0)
        name = route.strip("#/").replace("/", "-").replace(".", "-") or "leads"
        shot(page, f"screen-{name}-{lang}")


def test_lead_technologies_by_category_and_the_tech_filter(page, web):
    sign_in(page, web, route="#/leads/m365.com.tr")
    tech = page.locator("section", has=page.get_by_role("heading", name="Teknolojiler", exact=True))
    expect(tech.locator(".facts dt").first).to_have_text("Ofis ve e-posta paketi")
    expect(tech.locator(".tech-list li").first).to_contain_text("Microsoft 365")
    expect(tech).to_contain_text("MS=ms12345678")
    page.goto(f"{web['app']}#/leads")
    rows = page.locator("table.leads-table tbody tr")
    expect(rows).to_have_count(8)
    page.select_option("#f-tech", "Google Workspace")
    page.get_by_role("button", name="Filtrele", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/leads\?tech=Google(%20|\+)Workspace"))
    expect(rows).to_have_count(1)
    expect(rows.first.locator("th")).to_have_text("google.com.tr")
    page.goto(f"{web['app']}#/leads/nomx.com")
    expect(page.locator("section", has=page.get_by_role("heading", name="Teknolojiler", exact=True))).to_contain_text(
        "tanınan bir SaaS"
    )


def test_lead_pdf_button_and_role_addresses_with_copy(page, web):
    """The lead screen's sales tools: "PDF" downloads the report in the screen's language (fetched with the
    key in a header), and the likely role addresses list the domain's deliverability with copy buttons."""
    sign_in(page, web, key="read", route="#/leads/m365.com.tr")
    expect(page.locator("h1")).to_have_text("m365.com.tr")
    emails = page.locator("section[data-section=emails]")
    expect(emails.locator("h2")).to_have_text("Olası e-posta adresleri")
    expect(emails.locator(".emails-table tbody tr")).to_have_count(12)
    expect(emails.locator(".emails-table tbody tr").first).to_contain_text("info@m365.com.tr")
    expect(emails.locator(".emails-table tbody tr").nth(1)).to_contain_text("iletisim@m365.com.tr")
    expect(emails).to_contain_text("E-posta alabilir")
    emails.locator("button[data-copy='satis@m365.com.tr']").click()
    expect(page.locator("#toast")).to_contain_text("satis@m365.com.tr kopyalandı")
    assert page.evaluate("navigator.clipboard.readText()") == "satis@m365.com.tr"
    with page.expect_download() as info:
        page.get_by_role("button", name="PDF", exact=True).click()
    assert info.value.suggested_filename == "hunter-m365.com.tr.pdf"
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(b"%PDF-")
    expect(page.locator("#toast")).to_contain_text("PDF raporu indirildi")
    shot(page, "lead-tools-tr")


def test_call_list_pdf_of_the_filtered_leads(page, web, tmp_path):
    """The Leads screen's "Call list (PDF)": the current filters and sort, POSTed, one section per lead."""
    import subprocess

    sign_in(page, web, key="read", route="#/leads?segment=Existing&sort=-score")
    expect(page.locator("table.leads-table tbody tr")).to_have_count(3)
    with page.expect_download() as info:
        page.get_by_role("button", name="Arama listesi (PDF)").click()
    target = tmp_path / "call-list.pdf"
    info.value.save_as(str(target))
    assert info.value.suggested_filename == "hunter-leads.pdf"
    pages = subprocess.run(["pdfinfo", str(target)], capture_output=True, text=True, check=True, timeout=30).stdout
    assert re.search(r"^Pages:\s+3$", pages, re.M)
    text = subprocess.run(
        ["pdftotext", str(target), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "m365.com.tr" in text and "google.com.tr" not in text and "MÜŞTERİ ADAYI RAPORU" in text
