"""The claim letter (Forderungsschreiben) to the insurer (§4, §11): letterhead, references, the template's text,
the claimed amount with its lines, who approved it, page x of y.

Pure: data in, bytes out. Every text from users or the template goes through `para_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.i18n import t
from core.money import format_eur
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    GRID,
    SHADE,
    STYLES,
    build_pdf,
    format_date,
    para_text,
)

LABEL_WIDTH = 5 * cm
RIGHT = ParagraphStyle("claim_right", parent=STYLES["body"], alignment=TA_RIGHT)
RIGHT_BOLD = ParagraphStyle("claim_right_bold", parent=STYLES["label"], alignment=TA_RIGHT)


@dataclass(frozen=True)
class ClaimLetterData:
    """Everything printed on the letter; strings as entered (escaped here), empty ones shown as `–`."""

    sender: str
    insurer_name: str
    insurer_address: str
    letter_date: date
    case_number: str
    claim_number: str
    policy_number: str
    client_name: str
    plate: str
    incident_date: date | None
    damage_type: str
    partner: str
    subject: str
    paragraphs: tuple[str, ...]
    amount_claimed_cents: int
    invoice_gross_cents: int | None = None
    deductible_cents: int | None = None
    signer_name: str = ""
    signer_role: str = ""
    signed: bool = False  # approved by a lawyer


def _head(data: ClaimLetterData) -> list[Flowable]:
    return [
        Paragraph(para_text(data.sender), STYLES["small"]),
        Spacer(1, 0.4 * cm),
        Paragraph(f"<b>{para_text(data.insurer_name)}</b><br/>{para_text(data.insurer_address)}", STYLES["body"]),
        Spacer(1, 0.6 * cm),
        Paragraph(para_text(t("pdf.claim.date", date=format_date(data.letter_date))), RIGHT),
        Paragraph(para_text(t("pdf.claim.title")), STYLES["title"]),
        Paragraph(f"<b>{para_text(data.subject)}</b>", STYLES["body"]),
    ]


def _grid(rows: list[list[Paragraph]], widths: list[float], *, total_row: bool = False) -> Table:
    table = Table(rows, colWidths=widths)
    style = [("GRID", (0, 0), (-1, -1), 0.5, GRID), ("BACKGROUND", (0, 0), (0, -1), SHADE),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if total_row:
        style.append(("BACKGROUND", (0, -1), (-1, -1), SHADE))
    table.setStyle(TableStyle(style))
    return table


def _references(data: ClaimLetterData) -> Table:
    rows = [
        ("pdf.claim.case_number", data.case_number),
        ("pdf.claim.claim_number", data.claim_number),
        ("pdf.claim.policy_number", data.policy_number),
        ("pdf.claim.client", data.client_name),
        ("pdf.claim.plate", data.plate),
        ("pdf.claim.incident_date", format_date(data.incident_date)),
        ("pdf.claim.damage_type", data.damage_type),
        ("pdf.claim.partner", data.partner),
    ]
    cells = [[Paragraph(para_text(t(key)), STYLES["label"]), Paragraph(para_text(value), STYLES["body"])]
             for key, value in rows]
    return _grid(cells, [LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH])


def _amounts(data: ClaimLetterData) -> Table:
    rows: list[tuple[str, str]] = []
    if data.invoice_gross_cents is not None:
        rows.append((t("pdf.claim.invoice_gross"), format_eur(data.invoice_gross_cents)))
    if data.deductible_cents:
        rows.append((t("pdf.claim.deductible"), format_eur(-data.deductible_cents)))
    cells = [[Paragraph(para_text(k), STYLES["body"]), Paragraph(para_text(v), RIGHT)] for k, v in rows]
    cells.append([Paragraph(para_text(t("pdf.claim.claimed")), STYLES["label"]),
                  Paragraph(para_text(format_eur(data.amount_claimed_cents)), RIGHT_BOLD)])
    return _grid(cells, [CONTENT_WIDTH - LABEL_WIDTH, LABEL_WIDTH], total_row=True)


def _signature(data: ClaimLetterData) -> list[Flowable]:
    note = t("pdf.claim.signed") if data.signed else t("pdf.claim.approved")
    return [KeepTogether([
        Spacer(1, 0.6 * cm),
        Paragraph(f"<b>{para_text(data.signer_name)}</b><br/>{para_text(data.signer_role)}", STYLES["body"]),
        Paragraph(para_text(note), STYLES["small"]),
    ])]


def claim_letter_pdf(data: ClaimLetterData) -> bytes:
    """The letter as A4 PDF: sender, insurer, date, subject, references, text, amounts, approval, page x of y."""
    story: list[Flowable] = [
        *_head(data),
        Spacer(1, 0.2 * cm),
        _references(data),
        Spacer(1, 0.4 * cm),
        *[Paragraph(para_text(p), STYLES["body"]) for p in data.paragraphs if p.strip()],
        Paragraph(para_text(t("pdf.claim.amounts")), STYLES["heading"]),
        _amounts(data),
        *_signature(data),
    ]
    footer = t("pdf.claim.footer", sender=data.sender.strip() or EMPTY, case_number=data.case_number or EMPTY)
    return build_pdf(story, title=f"{t('pdf.claim.title')} {data.case_number}", footer=footer,
                     page_label=t("pdf.claim.page"))
