"""The prefilled assignment declaration (Abtretungserklärung) attached to each order mail (§11).

Pure: data in, bytes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class DeclarationData:
    """Everything printed on the declaration; strings as entered (escaped here), empty ones shown as `–`."""

    case_number: str
    client_name: str
    client_address: str
    plate: str
    vin: str
    insurer: str
    policy_number: str
    claim_number: str
    incident_date: date | None
    damage_type: str
    partner_name: str
    partner_address: str
    created_on: date


def _facts(data: DeclarationData) -> Table:
    rows = [
        ("pdf.decl.case_number", data.case_number),
        ("pdf.decl.client", data.client_name),
        ("pdf.decl.address", data.client_address),
        ("pdf.decl.plate", data.plate),
        ("pdf.decl.vin", data.vin),
        ("pdf.decl.insurer", data.insurer),
        ("pdf.decl.policy_number", data.policy_number),
        ("pdf.decl.claim_number", data.claim_number),
        ("pdf.decl.incident_date", format_date(data.incident_date)),
        ("pdf.decl.damage_type", data.damage_type),
    ]
    cells = [[Paragraph(para_text(t(key)), STYLES["label"]), Paragraph(para_text(value), STYLES["body"])]
             for key, value in rows]
    table = Table(cells, colWidths=[LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BACKGROUND", (0, 0), (0, -1), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _partner(data: DeclarationData) -> list[Flowable]:
    return [
        Paragraph(para_text(t("pdf.decl.partner")), STYLES["heading"]),
        Paragraph(f"<b>{para_text(data.partner_name)}</b><br/>{para_text(data.partner_address)}", STYLES["body"]),
    ]


def _declaration(data: DeclarationData) -> list[Flowable]:
    values = {"insurer": data.insurer.strip() or EMPTY, "partner": data.partner_name.strip() or EMPTY}
    return [
        Paragraph(para_text(t("pdf.decl.declaration")), STYLES["heading"]),
        Paragraph(para_text(t("pdf.decl.text_assign", **values)), STYLES["body"]),
        Paragraph(para_text(t("pdf.decl.text_pay")), STYLES["body"]),
        Paragraph(para_text(t("pdf.decl.text_liable")), STYLES["body"]),
    ]


def _signatures() -> Table:
    gap = 1.5 * cm
    half = (CONTENT_WIDTH - gap) / 2
    table = Table(
        [["", "", ""], [Paragraph(para_text(t("pdf.decl.place_date")), STYLES["small"]), "",
                        Paragraph(para_text(t("pdf.decl.signature")), STYLES["small"])]],
        colWidths=[half, gap, half], rowHeights=[1.8 * cm, None],
    )
    table.setStyle(TableStyle([
        ("LINEABOVE", (0, 1), (0, 1), 0.8, "black"),
        ("LINEABOVE", (2, 1), (2, 1), 0.8, "black"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


def assignment_declaration_pdf(data: DeclarationData) -> bytes:
    """The declaration as a one-page A4 PDF: facts, partner, declaration text, signature fields, footer."""
    story: list[Flowable] = [
        Paragraph(para_text(t("pdf.decl.title")), STYLES["title"]),
        Paragraph(para_text(t("pdf.decl.facts")), STYLES["heading"]),
        _facts(data),
        *_partner(data),
        *_declaration(data),
        Spacer(1, 0.8 * cm),
        KeepTogether([_signatures()]),
    ]
    footer = t("pdf.decl.footer", case_number=data.case_number or EMPTY, date=format_date(data.created_on))
    return build_pdf(story, title=f"{t('pdf.decl.title')} {data.case_number}", footer=footer)
