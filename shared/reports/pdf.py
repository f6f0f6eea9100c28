"""The lead report as a PDF: one A4 page per lead (at most three with a long change history).

Pure rendering with fpdf2 from :class:`~shared.reports.model.LeadReport` objects; the only files
read are the bundled DejaVu Sans fonts (``fonts/``, with their licence), embedded as subsets so the
Turkish letters (ş ı ğ İ ç ö ü) render and survive copying and ``pdftotext``.

Everything shown came from outside (company names, DNS records, SPF texts) and is untrusted: every
string goes through :func:`clean` (control and format characters dropped, characters the font
lacks replaced, length capped) and is then wrapped or cut with "…" to the space it has, so no
input can crash the renderer or push a section past its pages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.reports.model import EVIDENCE_KEYS, Bar, LeadReport

FONT = "DejaVu"
FONT_DIR = Path(__file__).with_name("fonts")
REGULAR = FONT_DIR / "DejaVuSans.ttf"  # the distribution's fonts, unchanged
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
REPORT_REGULAR = FONT_DIR / "DejaVuSans-Report.ttf"  # what a report embeds: cut by devtools/report_fonts.py
REPORT_BOLD = FONT_DIR / "DejaVuSans-Bold-Report.ttf"
MAX_SECTION_PAGES = 3  # one lead never takes more, however long its history
MAX_TEXT = 400  # characters kept of any one outside string before it is wrapped or cut
REPLACEMENT = "\ufffd"
# What a report draws from each font: Latin (Turkish included), Greek, Cyrillic, punctuation, currency,
# arrows, maths, boxes and shapes, and U+FFFD; everything else is replaced by U+FFFD. The -Report cuts
# hold just these ~1,700 glyphs (of DejaVu's ~5,900) and no shaping or hinting tables, so fpdf2 reads
# and subsets a third of the glyphs per document: a report is about three times faster.
REPORT_CHARACTERS = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),  # Latin-1, Latin Extended-A and -B: ç ğ ı İ ö ş ü
    *range(0x2B0, 0x300),  # spacing modifier letters
    *range(0x370, 0x400),  # Greek
    *range(0x400, 0x530),  # Cyrillic
    *range(0x1E00, 0x1F00),  # Latin Extended Additional
    *range(0x2000, 0x2070),  # general punctuation: – — ‘ ’ “ ” • …
    *range(0x2070, 0x20D0),  # super/subscripts, currency: € ₺
    *range(0x2100, 0x2200),  # letterlike, number forms, arrows
    *range(0x2200, 0x2300),  # mathematical operators
    *range(0x2500, 0x2600),  # box drawing, blocks, geometric shapes
    *range(0x2600, 0x2700),  # miscellaneous symbols
    *range(0x2700, 0x27C0),  # dingbats: ✓ ✗
    0xFFFD,
)
MARGIN = 12.0
PAGE_W = 210.0
CONTENT_W = PAGE_W - 2 * MARGIN
LEFT_W = 88.0  # score and breakdown
GUTTER = 6.0
RIGHT_W = CONTENT_W - LEFT_W - GUTTER  # evidence

INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
ACCENT = (31, 58, 95)
POSITIVE = (46, 125, 50)
NEGATIVE = (198, 40, 40)
PRIORITY_COLOURS = {
    "P1": (183, 28, 28),
    "P2": (230, 81, 0),
    "P3": (214, 137, 16),
    "P4": (21, 101, 192),
    "P5": (96, 125, 139),
    "P6": (120, 120, 120),
}

LABELS: dict[str, dict[str, str]] = {
    "tr": {
        "title": "HUNTER · MÜŞTERİ ADAYI RAPORU",
        "scanned": "Son tarama",
        "status": "Tarama durumu",
        "score": "Skor",
        "priority": "Öncelik",
        "segment": "Segment",
        "commercial": "Ticari segment",
        "heat": "Teknik / ticari ısı",
        "breakdown": "Skorun dökümü",
        "no_breakdown": "Bu adayın puanlanan kuralı yok.",
        "evidence": "Kanıtlar",
        "provider": "Sağlayıcı",
        "gateway": "Ağ geçidi",
        "host": "Barındırma",
        "mx": "MX",
        "spf": "SPF",
        "dkim": "DKIM",
        "dmarc": "DMARC",
        "tenant": "M365 kiracısı",
        "technologies": "Teknolojiler",
        "none": "—",
        "summary": "Satış özeti",
        "call_script": "Görüşme akışı",
        "questions": "Keşif soruları",
        "offer": "Teklif",
        "urgency": "Aciliyet",
        "next_action": "Sonraki adım",
        "findings": "Güvenlik bulguları",
        "tech_hooks": "Teknoloji fırsatları",
        "changes": "Son değişiklikler",
        "no_changes": "Henüz değişiklik kaydı yok.",
        "more_changes": "… ve {count} değişiklik daha (tamamı Hunter'da)",
        "page": "Sayfa",
        "generated": "Oluşturuldu",
        "rules": "kurallar",
        "empty": "Filtreye uyan aday yok.",
    },
    "en": {
        "title": "HUNTER · LEAD REPORT",
        "scanned": "Last scan",
        "status": "Scan status",
        "score": "Score",
        "priority": "Priority",
        "segment": "Segment",
        "commercial": "Commercial segment",
        "heat": "Technical / commercial heat",
        "breakdown": "Score breakdown",
        "no_breakdown": "No rule scored this lead.",
        "evidence": "Evidence",
        "provider": "Mail provider",
        "gateway": "Gateway",
        "host": "Hosting",
        "mx": "MX",
        "spf": "SPF",
        "dkim": "DKIM",
        "dmarc": "DMARC",
        "tenant": "M365 tenant",
        "technologies": "Technologies",
        "none": "—",
        "summary": "Sales summary",
        "call_script": "Call script",
        "questions": "Discovery questions",
        "offer": "Offer",
        "urgency": "Urgency",
        "next_action": "Next action",
        "findings": "Security findings",
        "tech_hooks": "Technology openings",
        "changes": "Recent changes",
        "no_changes": "No changes recorded yet.",
        "more_changes": "… and {count} more changes (all of them in Hunter)",
        "page": "Page",
        "generated": "Generated",
        "rules": "rules",
        "empty": "No lead matches the filter.",
    },
}
# The words of the score's enums (the web app's texts.js says the same).
VALUES: dict[str, dict[str, str]] = {
    "tr": {
        "Existing": "Mevcut Microsoft",
        "Migration": "Geçiş adayı",
        "Cold": "Soğuk",
        "Skip": "Atla",
        "Hot": "Sıcak",
        "Warm": "Ilık",
        "HIGH": "Yüksek",
        "MEDIUM": "Orta",
        "LOW": "Düşük",
        "GREENFIELD": "Sıfırdan (greenfield)",
        "COMPETITIVE": "Rakipten alma",
        "WEAK_PARTNER": "Zayıf iş ortağı",
        "RENEWAL": "Yenileme",
        "LOW_INTENT": "Düşük ilgi",
        "NO_GO": "Uygun değil",
        "low": "Düşük",
        "medium": "Orta",
        "high": "Yüksek",
    },
    "en": {
        "Existing": "Existing Microsoft",
        "WEAK_PARTNER": "Weak partner",
        "LOW_INTENT": "Low intent",
        "NO_GO": "No-go",
        "GREENFIELD": "Greenfield",
        "COMPETITIVE": "Competitive",
        "RENEWAL": "Renewal",
        "HIGH": "High",
        "MEDIUM": "Medium",
        "LOW": "Low",
    },
}
# Technology categories (technologies.yaml's ids; the web app's texts.js says the same).
TECH_CATEGORIES: dict[str, dict[str, str]] = {
    "tr": {
        "productivity": "Ofis ve e-posta paketi",
        "collaboration": "İş birliği ve toplantı",
        "file-sharing": "Dosya paylaşımı",
        "crm": "CRM",
        "support": "Müşteri desteği",
        "marketing-email": "Pazarlama e-postası",
        "transactional-email": "İşlemsel e-posta",
        "e-signature": "E-imza ve belge",
        "payments": "Ödeme",
        "dmarc-monitoring": "DMARC izleme",
        "email-security": "E-posta güvenliği",
        "security-awareness": "Güvenlik farkındalığı",
        "identity": "Kimlik",
        "privacy": "Gizlilik ve uyum",
        "cdn-security": "CDN ve web güvenliği",
        "certificates": "Sertifikalar",
        "social": "Sosyal medya",
    },
    "en": {
        "productivity": "Productivity suite",
        "collaboration": "Collaboration and meetings",
        "file-sharing": "File sharing",
        "crm": "CRM",
        "support": "Customer support",
        "marketing-email": "Marketing email",
        "transactional-email": "Transactional email",
        "e-signature": "E-signature and documents",
        "payments": "Payments",
        "dmarc-monitoring": "DMARC monitoring",
        "email-security": "Email security",
        "security-awareness": "Security awareness",
        "identity": "Identity",
        "privacy": "Privacy and compliance",
        "cdn-security": "CDN and web security",
        "certificates": "Certificates",
        "social": "Social media",
    },
}
DATE_FORMATS = {"tr": "%d.%m.%Y %H:%M", "en": "%Y-%m-%d %H:%M"}

_glyphs: frozenset[int] | None = None


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as text safe to draw: NFC, whitespace runs as one space, control/format/private
    characters dropped, characters neither font has replaced by U+FFFD, at most ``limit`` characters."""
    text = unicodedata.normalize("NFC", str(value))
    out: list[str] = []
    space = False
    for char in text:
        if char.isspace():
            space = bool(out)
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue  # NUL, bidi overrides, zero-width joiners, lone surrogates, unassigned
        if space:
            out.append(" ")
            space = False
        out.append(char if _glyphs is None or ord(char) in _glyphs else REPLACEMENT)
        if len(out) >= limit:
            out[-1] = "…"
            break
    return "".join(out)


class _Document(FPDF):
    def __init__(self, lang: str, footer: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.labels = LABELS[lang]
        self.report_lang = lang
        self.footer_text = footer
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=14)
        self.add_font(FONT, "", str(REPORT_REGULAR))
        self.add_font(FONT, "B", str(REPORT_BOLD))
        _learn_glyphs(self)
        self.set_creator("Hunter")
        self.set_lang("tr-TR" if lang == "tr" else "en-GB")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        text = f"{self.footer_text} · {self.labels['page']} {self.page_no()}/{{nb}}"
        self.cell(0, 4, text, align="C")

    # -- small drawing helpers ----------------------------------------------------------------

    def font(self, size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*colour)

    def width(self, text: str) -> float:
        """``text``'s width (mm) in the current font: fpdf2's get_string_width without its per-call
        text processing (no shaping, no character spacing here), from the font's own advance widths."""
        widths = self.current_font.cw
        return sum(widths[ord(char)] for char in text) * self.font_size / 1000

    def fit(self, text: str, width: float) -> str:
        """``text`` cut (with "…") to ``width`` in the current font."""
        if self.width(text) <= width:
            return text
        widths, scale = self.current_font.cw, self.font_size / 1000
        room = width - widths[ord("…")] * scale
        used = 0.0
        for index, char in enumerate(text):
            used += widths[ord(char)] * scale
            if used > room:
                return text[:index].rstrip() + "…"
        return text

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` (one line of words, as :func:`clean` leaves it) broken into lines of at most ``width``;
        a word longer than a line is broken between characters."""
        widths, scale = self.current_font.cw, self.font_size / 1000
        space = widths[32] * scale
        lines: list[str] = []
        line: list[str] = []
        used = 0.0
        for word in text.split(" "):
            size = sum(widths[ord(char)] for char in word) * scale
            if line and used + space + size <= width:
                line.append(word)
                used += space + size
                continue
            if line:
                lines.append(" ".join(line))
            while size > width and len(word) > 1:
                cut, cut_size = 0, 0.0
                for char in word:
                    char_size = widths[ord(char)] * scale
                    if cut and cut_size + char_size > width:
                        break
                    cut += 1
                    cut_size += char_size
                lines.append(word[:cut])
                word, size = word[cut:], size - cut_size
            line, used = [word], size
        if line:
            lines.append(" ".join(line))
        return lines

    def lines(self, text: str, width: float, max_lines: int) -> list[str]:
        """``text`` wrapped to ``width``, at most ``max_lines`` lines (the last one cut with "…")."""
        if not text:
            return [""]
        wrapped = self.wrap(text, width)
        if len(wrapped) <= max_lines:
            return wrapped
        kept = wrapped[:max_lines]
        kept[-1] = self.fit(kept[-1] + " " + wrapped[max_lines] + "…", width)
        return kept

    def heading(self, text: str) -> None:
        self.ln(1.5)
        self.font(9.5, bold=True, colour=ACCENT)
        self.cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.3)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.2)

    def paragraph(self, text: str, size: float = 8, bold: bool = False, indent: float = 0, max_lines: int = 6) -> None:
        self.font(size, bold)
        width = CONTENT_W - indent
        for line in self.lines(text, width, max_lines):
            self.set_x(MARGIN + indent)
            self.cell(width, size * 0.45, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _learn_glyphs(pdf: FPDF) -> None:
    """The characters both embedded fonts can draw (read once per process)."""
    global _glyphs
    if _glyphs is None:
        regular, bold = pdf.fonts[FONT.lower()], pdf.fonts[FONT.lower() + "B"]
        _glyphs = frozenset(regular.cmap) & frozenset(bold.cmap)


def _word(lang: str, value: str | None) -> str:
    if value is None:
        return LABELS[lang]["none"]
    return VALUES[lang].get(value, value)


def _date(moment: datetime | None, lang: str) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(DATE_FORMATS[lang]) + " UTC"


# -- the parts of one lead's section ------------------------------------------------------------


def _header(pdf: _Document, report: LeadReport) -> None:
    labels = pdf.labels
    pdf.font(7.5, bold=True, colour=MUTED)
    pdf.cell(0, 4, labels["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    name = clean(report.company_name or report.domain_unicode or report.domain, 160)
    pdf.font(15, bold=True)
    for line in pdf.lines(name, CONTENT_W, 2):
        pdf.cell(CONTENT_W, 6.6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    domain = clean(report.domain, 260)
    if report.domain_unicode and report.domain_unicode != report.domain:
        domain = f"{clean(report.domain_unicode, 260)} ({domain})"
    pdf.font(9)
    pdf.cell(0, 5, pdf.fit(domain, CONTENT_W), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(7.5, colour=MUTED)
    meta = f"{labels['scanned']}: {_date(report.scanned_at, pdf.report_lang)}"
    if report.status != "ok":
        meta += f" · {labels['status']}: {clean(report.status, 40)}"
    if report.rules_version:
        meta += f" · {labels['rules']} {clean(report.rules_version, 40)}"
    pdf.cell(0, 4, pdf.fit(meta, CONTENT_W), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _score_box(pdf: _Document, report: LeadReport, x: float, y: float) -> float:
    """The score tile and the priority facts beside it; returns the y below them."""
    labels, lang = pdf.labels, pdf.report_lang
    colour = PRIORITY_COLOURS.get(report.priority_category or "", MUTED)
    pdf.set_fill_color(*colour)
    pdf.rect(x, y, 24, 20, style="F")
    pdf.set_xy(x, y + 2.5)
    pdf.font(20, bold=True, colour=(255, 255, 255))
    pdf.cell(24, 9, "—" if report.score is None else str(report.score), align="C")
    pdf.set_xy(x, y + 12)
    pdf.font(7, colour=(255, 255, 255))
    pdf.cell(24, 4, f"{labels['score']} / 100", align="C")
    facts = [
        (labels["priority"], " · ".join(clean(v, 60) for v in (report.priority_category, report.priority_label) if v)),
        (labels["segment"], _word(lang, report.segment)),
        (labels["commercial"], _word(lang, report.commercial_segment)),
        (
            labels["heat"],
            f"{_word(lang, report.technical_heat)} / {_word(lang, report.commercial_heat)}"
            if report.technical_heat or report.commercial_heat
            else labels["none"],
        ),
    ]
    fx, width = x + 27, LEFT_W - 27
    row = y
    for label, value in facts:
        pdf.set_xy(fx, row)
        pdf.font(6.5, colour=MUTED)
        pdf.cell(width, 2.8, pdf.fit(label, width))
        pdf.set_xy(fx, row + 2.6)
        pdf.font(8, bold=label == labels["priority"])
        pdf.cell(width, 3.6, pdf.fit(value or labels["none"], width))
        row += 6.6
    return max(y + 20, row) + 1


def _bars(pdf: _Document, bars: Sequence[Bar], x: float, y: float) -> float:
    """The breakdown as a drawn bar chart (green gains, red losses around one axis); returns the y below."""
    pdf.set_xy(x, y)
    pdf.font(8.5, bold=True, colour=ACCENT)
    pdf.cell(LEFT_W, 5, pdf.labels["breakdown"])
    y += 5.5
    if not bars:
        pdf.set_xy(x, y)
        pdf.font(7.5, colour=MUTED)
        pdf.cell(LEFT_W, 4, pdf.labels["no_breakdown"])
        return y + 5
    # Each rule: its reason on one line, its bar below (gains right of the axis, losses left), points at the right.
    value_w = 9.0
    area_x, area_w = x, LEFT_W - value_w - 1
    most_gain = max((b.points for b in bars if b.points > 0), default=0)
    most_loss = max((-b.points for b in bars if b.points < 0), default=0)
    total = most_gain + most_loss or 1
    axis = area_x + area_w * most_loss / total
    scale = area_w / total
    label_h, bar_h, gap = 3.2, 2.4, 1.2
    row_h = label_h + bar_h + gap
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.line(axis, y + label_h - 0.3, axis, y + row_h * len(bars) - gap + 0.3)
    for bar in bars:
        pdf.set_xy(x, y)
        pdf.font(6.8)
        pdf.cell(area_w, label_h, pdf.fit(clean(bar.label, 200), area_w))
        length = abs(bar.points) * scale
        pdf.set_fill_color(*(POSITIVE if bar.points >= 0 else NEGATIVE))
        if length > 0:
            pdf.rect(axis if bar.points >= 0 else axis - length, y + label_h, max(length, 0.4), bar_h, style="F")
        pdf.set_xy(area_x + area_w + 1, y + label_h - 1)
        pdf.font(7.5, bold=True, colour=POSITIVE if bar.points >= 0 else NEGATIVE)
        pdf.cell(value_w, 4, f"{bar.points:+d}", align="R")
        y += row_h
    return y + 1


def _evidence(pdf: _Document, report: LeadReport, x: float, y: float) -> float:
    """The evidence table (label | value, up to three lines per value); returns the y below it."""
    labels = pdf.labels
    pdf.set_xy(x, y)
    pdf.font(8.5, bold=True, colour=ACCENT)
    pdf.cell(RIGHT_W, 5, labels["evidence"])
    y += 5.5
    label_w = 24.0
    value_w = RIGHT_W - label_w
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    categories = TECH_CATEGORIES[pdf.report_lang]
    for key in EVIDENCE_KEYS:
        value = report.evidence.get(key)
        if key == "technologies" and report.technologies:
            value = " · ".join(
                f"{categories.get(category, category)}: {', '.join(names)}" for category, names in report.technologies
            )
        pdf.font(7)
        lines = pdf.lines(clean(value, 600) if value else labels["none"], value_w - 1, 3)
        height = max(1, len(lines)) * 3.4 + 1.2
        pdf.line(x, y, x + RIGHT_W, y)
        pdf.set_xy(x, y + 0.6)
        pdf.font(7, bold=True, colour=MUTED)
        pdf.cell(label_w, 3.4, pdf.fit(labels[key], label_w - 1))
        pdf.font(7)
        for i, line in enumerate(lines):
            pdf.set_xy(x + label_w, y + 0.6 + i * 3.4)
            pdf.cell(value_w, 3.4, line)
        y += height
    pdf.line(x, y, x + RIGHT_W, y)
    return y + 1


def _summary(pdf: _Document, report: LeadReport) -> None:
    summary = report.summary
    if summary is None:
        return
    labels = pdf.labels
    pdf.heading(labels["summary"])
    pdf.paragraph(clean(summary.one_liner, 600), size=8.5, bold=True, max_lines=4)
    pdf.ln(1)
    pdf.paragraph(labels["call_script"], size=7.5, bold=True)
    for number, line in enumerate(summary.call_script, start=1):
        pdf.paragraph(f"{number}. {clean(line, 600)}", size=7.5, indent=2, max_lines=4)
    pdf.ln(0.8)
    pdf.paragraph(labels["questions"], size=7.5, bold=True)
    for question in summary.discovery_questions:
        pdf.paragraph(f"• {clean(question, 400)}", size=7.5, indent=2, max_lines=3)
    pdf.ln(0.8)
    rows: list[tuple[str, str]] = []
    if summary.offer_tier is not None:
        offer = summary.offer_tier
        text = " — ".join(clean(part, 300) for part in (offer.name, offer.price_text, offer.reason) if part)
        rows.append((labels["offer"], text))
    urgency = summary.urgency
    rows.append((labels["urgency"], f"{_word(pdf.report_lang, urgency.level)} — {clean(urgency.reason, 400)}"))
    if summary.security_findings:
        rows.append((labels["findings"], "; ".join(clean(f, 200) for f in summary.security_findings[:4])))
    hooks = getattr(summary, "technology_hooks", None) or []
    if hooks:
        rows.append((labels["tech_hooks"], " ".join(clean(hook, 300) for hook in hooks[:3])))
    rows.append((labels["next_action"], clean(summary.next_action, 400)))
    label_w = 30.0
    for label, text in rows:
        y = pdf.get_y()
        pdf.font(7.5, bold=True, colour=ACCENT)
        pdf.set_xy(MARGIN, y)
        pdf.cell(label_w, 3.5, pdf.fit(label, label_w - 1))
        pdf.font(7.5)
        for i, line in enumerate(pdf.lines(text, CONTENT_W - label_w, 3)):
            pdf.set_xy(MARGIN + label_w, y + i * 3.5)
            pdf.cell(CONTENT_W - label_w, 3.5, line)
        pdf.set_xy(MARGIN, pdf.get_y() + 3.5)


def _changes(pdf: _Document, report: LeadReport, first_page: int) -> None:
    labels = pdf.labels
    pdf.heading(labels["changes"])
    if not report.changes:
        pdf.paragraph(labels["no_changes"], size=7.5)
        return
    row_h = 3.6
    date_w = 30.0
    for index, change in enumerate(report.changes):
        last_page = pdf.page_no() - first_page + 1 >= MAX_SECTION_PAGES
        if last_page and pdf.will_page_break(row_h * 2):
            left = f"{len(report.changes) - index}{'' if report.changes_complete else '+'}"
            pdf.paragraph(labels["more_changes"].format(count=left), size=7.5)
            return
        if pdf.will_page_break(row_h):
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_xy(MARGIN, y)
        pdf.font(7, colour=MUTED)
        pdf.cell(date_w, row_h, _date(change.at, pdf.report_lang))
        pdf.font(7.5)
        pdf.cell(CONTENT_W - date_w, row_h, pdf.fit(clean(change.text, 300), CONTENT_W - date_w))
        pdf.set_xy(MARGIN, y + row_h)


def _section(pdf: _Document, report: LeadReport) -> None:
    pdf.add_page()
    first_page = pdf.page_no()
    pdf.start_section(clean(report.domain_unicode or report.domain, 120))
    _header(pdf, report)
    top = pdf.get_y()
    left = _score_box(pdf, report, MARGIN, top)
    left = _bars(pdf, report.breakdown, MARGIN, left + 1)
    right = _evidence(pdf, report, MARGIN + LEFT_W + GUTTER, top)
    pdf.set_xy(MARGIN, max(left, right))
    _summary(pdf, report)
    _changes(pdf, report, first_page)


def render_pdf(
    reports: Sequence[LeadReport], *, lang: str, version: str, generated_at: datetime | None = None
) -> bytes:
    """One PDF: a section (starting on a new page, bookmarked) per report, in order; an empty list
    gives one page saying no lead matched."""
    if lang not in LABELS:
        raise ValueError(f"unsupported language {lang!r}")
    now = generated_at or datetime.now(UTC)
    footer = f"Hunter {version} · {LABELS[lang]['generated']} {_date(now, lang)}"
    pdf = _Document(lang, footer)
    pdf.set_creation_date(now if now.tzinfo else now.replace(tzinfo=UTC))
    pdf.set_title(
        f"Hunter — {clean(reports[0].domain, 200)}" if len(reports) == 1 else f"Hunter — {len(reports)} leads"
    )
    for report in reports:
        _section(pdf, report)
    if not reports:
        pdf.add_page()
        pdf.paragraph(LABELS[lang]["empty"], size=10)
    return bytes(pdf.output())
