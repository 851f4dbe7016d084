"""The monthly settlement statement (Abrechnung) per partner (§11). Pure: data in, bytes out."""

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
from core.money import format_eur
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    FONT,
    FONT_BOLD,
    GRID,
    SHADE,
    STYLES,
    build_pdf,
    format_date,
    para_text,
)

COLUMNS = (  # (catalog key, width); money columns are right-aligned
    ("pdf.settle.col_case", 2.5 * cm),
    ("pdf.settle.col_paid_on", 1.9 * cm),
    ("pdf.settle.col_invoice", 2.4 * cm),
    ("pdf.settle.col_deductible", 2.6 * cm),
    ("pdf.settle.col_paid", 2.5 * cm),
    ("pdf.settle.col_commission", 2.2 * cm),
    ("pdf.settle.col_payout", CONTENT_WIDTH - 14.1 * cm),
)
FIRST_MONEY_COLUMN = 2


@dataclass(frozen=True)
class SettlementLineData:
    """One case paid in the month."""

    case_number: str
    paid_on: date
    invoice_gross_cents: int | None
    deductible_cents: int
    paid_cents: int
    commission_cents: int
    payout_cents: int


@dataclass(frozen=True)
class SettlementStatementData:
    """One partner's statement for one month (`month` as `YYYY-MM`); totals are given, not recomputed."""

    statement_number: str
    month: str
    partner_name: str
    partner_address: str
    iban: str
    commission_bp: int
    lines: tuple[SettlementLineData, ...]
    paid_in_cents: int
    commission_cents: int
    payout_cents: int
    created_on: date


def month_label(month: str) -> str:
    """`Oktober 2026` for `2026-10`."""
    year, number = month.split("-")
    return f"{t(f'pdf.month.{int(number)}')} {int(year)}"


def percent_label(basis_points: int) -> str:
    """`10,00 %` for 1000 basis points."""
    whole, rest = divmod(basis_points, 100)
    return f"{whole},{rest:02d} %"


def iban_label(iban: str) -> str:
    """The IBAN in groups of four (`DE89 3704 0044 …`); `–` if empty."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) or EMPTY


def _header(data: SettlementStatementData) -> list[Flowable]:
    facts = [
        ("pdf.settle.number", data.statement_number),
        ("pdf.settle.period", month_label(data.month)),
        ("pdf.settle.date", format_date(data.created_on)),
    ]
    right = Table([[Paragraph(para_text(t(key)), STYLES["label"]), Paragraph(para_text(value), STYLES["body"])]
                   for key, value in facts], colWidths=[3.6 * cm, 3.9 * cm])
    left = Paragraph(f"<b>{para_text(data.partner_name)}</b><br/>{para_text(data.partner_address)}", STYLES["body"])
    block = Table([[left, right]], colWidths=[CONTENT_WIDTH - 7.5 * cm, 7.5 * cm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return [Paragraph(para_text(t("pdf.settle.title", month=month_label(data.month))), STYLES["title"]), block]


def _lines_table(lines: tuple[SettlementLineData, ...]) -> Table:
    head = [Paragraph(para_text(t(key)), STYLES["cell_head_right" if i >= FIRST_MONEY_COLUMN else "cell_head"])
            for i, (key, _) in enumerate(COLUMNS)]
    rows = [[
        Paragraph(para_text(line.case_number), STYLES["cell"]),
        format_date(line.paid_on),
        format_eur(line.invoice_gross_cents),
        format_eur(line.deductible_cents),
        format_eur(line.paid_cents),
        format_eur(line.commission_cents),
        format_eur(line.payout_cents),
    ] for line in lines]
    table = Table([head, *rows], colWidths=[width for _, width in COLUMNS], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 1), (-1, -1), FONT, 8),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
        ("ALIGN", (FIRST_MONEY_COLUMN, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _totals(data: SettlementStatementData) -> list[Flowable]:
    rows = [
        (t("pdf.settle.total_paid_in"), format_eur(data.paid_in_cents)),
        (t("pdf.settle.total_commission", percent=percent_label(data.commission_bp)),
         format_eur(-data.commission_cents)),
        (t("pdf.settle.total_payout"), format_eur(data.payout_cents)),
    ]
    table = Table(rows, colWidths=[CONTENT_WIDTH - 3.5 * cm, 3.5 * cm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, "black"),
        ("LEFTPADDING", (0, 0), (0, -1), 0),
        ("RIGHTPADDING", (1, 0), (1, -1), 0),
    ]))
    iban = Paragraph(para_text(t("pdf.settle.iban", iban=iban_label(data.iban))), STYLES["body"])
    return [KeepTogether([Paragraph(para_text(t("pdf.settle.totals")), STYLES["heading"]), table,
                          Spacer(1, 0.3 * cm), iban])]


def settlement_pdf(data: SettlementStatementData) -> bytes:
    """The statement as A4 PDF: header, one row per case (header row on every page), totals, IBAN, page x of y."""
    cases: Flowable = (_lines_table(data.lines) if data.lines
                       else Paragraph(para_text(t("pdf.settle.none")), STYLES["body"]))
    story: list[Flowable] = [
        *_header(data),
        Paragraph(para_text(t("pdf.settle.cases")), STYLES["heading"]),
        cases,
        *_totals(data),
    ]
    footer = t("pdf.settle.footer", number=data.statement_number or EMPTY, date=format_date(data.created_on))
    title = t("pdf.settle.title", month=month_label(data.month))
    return build_pdf(story, title=f"{title} {data.statement_number}", footer=footer,
                     page_label=t("pdf.settle.page_of"))
