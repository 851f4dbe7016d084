"""The case chronicle (Fallchronik, §11): the case's facts, then every event in order. Pure: data in, bytes out.

Every page carries `Seite x von y`, the generation time and the chain head (the hash of the case's last event);
the header says whether the recomputed hash chain is intact or where it breaks (§10).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from core.i18n import t
from core.money import format_eur
from core.timeutil import to_berlin
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    FONT,
    GRID,
    MARGIN,
    SHADE,
    STYLES,
    numbered_canvas,
    para_text,
)

#: Longer details are cut: a table row cannot split across pages, so one row must fit on a page.
MAX_DETAILS = 2_000
COLUMNS = (  # (catalog key, width)
    ("chron.col_seq", 1.0 * cm),
    ("chron.col_time", 3.0 * cm),
    ("chron.col_actor", 3.2 * cm),
    ("chron.col_action", 3.2 * cm),
    ("chron.col_details", CONTENT_WIDTH - 10.4 * cm),
)
FACT_LABEL_WIDTH = 4.8 * cm
CHAIN_BROKEN = "#b00020"


@dataclass(frozen=True)
class ChronicleEvent:
    """One event as the chronicle prints it: labels and details already in German."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    details: str


@dataclass(frozen=True)
class ChronicleData:
    """A case's facts (labels in German), its events in order and the result of checking its hash chain."""

    number: str
    status: str
    damage_type: str
    insurer: str
    insurer_claim_number: str
    policy_number: str
    client: str
    plate: str
    broker: str
    partner: str
    clerk: str
    received_at: datetime
    claim_letter_sent_at: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    amount_claimed_cents: int | None
    amount_paid_cents: int | None
    status_reason: str
    events: tuple[ChronicleEvent, ...]
    chain_ok: bool
    chain_broken_at: int | None  # the first event whose link or hash does not match
    chain_head: str
    generated_at: datetime


def format_time(value: datetime | None) -> str:
    """`23.11.2026 14:05:09` in Europe/Berlin; `–` for None."""
    return to_berlin(value).strftime("%d.%m.%Y %H:%M:%S") if value else EMPTY


def chain_status(data: ChronicleData) -> str:
    """`Ereigniskette geprüft: intakt`, or where the chain breaks."""
    if data.chain_ok:
        return t("chron.chain_ok")
    return t("chron.chain_broken", seq=data.chain_broken_at)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_DETAILS else text[:MAX_DETAILS - 1] + "…"


def _facts(data: ChronicleData) -> Table:
    cut = None
    if data.amount_claimed_cents is not None and data.amount_paid_cents is not None and data.paid_at is not None:
        cut = data.amount_claimed_cents - data.amount_paid_cents
    rows = [
        ("field.number", data.number),
        ("case.status", data.status),
        ("field.damage_type", data.damage_type),
        ("field.insurer", data.insurer),
        ("field.insurer_claim_number", data.insurer_claim_number),
        ("field.policy_number", data.policy_number),
        ("field.client", data.client),
        ("field.plate", data.plate),
        ("field.broker", data.broker),
        ("field.partner", data.partner),
        ("field.clerk", data.clerk),
        ("field.received_at", format_time(data.received_at)),
        ("field.claim_letter_sent_at", format_time(data.claim_letter_sent_at)),
        ("field.paid_at", format_time(data.paid_at)),
        ("field.closed_at", format_time(data.closed_at)),
        ("chron.cancelled_at", format_time(data.cancelled_at)),
        ("field.amount_claimed", format_eur(data.amount_claimed_cents)),
        ("field.amount_paid", format_eur(data.amount_paid_cents)),
        ("field.cut", format_eur(cut)),
        ("field.status_reason", data.status_reason),
    ]
    table = Table(
        [[Paragraph(para_text(t(key)), STYLES["label"]), Paragraph(para_text(value), STYLES["body"])]
         for key, value in rows],
        colWidths=[FACT_LABEL_WIDTH, CONTENT_WIDTH - FACT_LABEL_WIDTH],
    )
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


def _chain(data: ChronicleData) -> list[Flowable]:
    status = para_text(chain_status(data))
    if not data.chain_ok:
        status = f'<font color="{CHAIN_BROKEN}"><b>{status}</b></font>'
    return [
        Paragraph(status, STYLES["body"]),
        Paragraph(para_text(t("chron.chain_head", hash=data.chain_head or EMPTY)), STYLES["small"]),
        Paragraph(para_text(t("chron.generated", at=format_time(data.generated_at))), STYLES["small"]),
    ]


def _events_table(events: Sequence[ChronicleEvent]) -> Table:
    head = [Paragraph(para_text(t(key)), STYLES["cell_head"]) for key, _ in COLUMNS]
    rows = [[
        Paragraph(str(e.seq), STYLES["cell"]),
        Paragraph(para_text(format_time(e.at)), STYLES["cell"]),
        Paragraph(f"{para_text(e.actor)}<br/>({para_text(e.role)})", STYLES["cell"]),
        Paragraph(para_text(e.action), STYLES["cell"]),
        Paragraph(para_text(_cut(e.details)), STYLES["cell"]),
    ] for e in events]
    table = Table([head, *rows], colWidths=[width for _, width in COLUMNS], repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _canvas(data: ChronicleData) -> type:
    """The house footer (left text, `Seite x von y`) plus a second line with the chain head."""
    footer = t("chron.footer", number=data.number, at=format_time(data.generated_at))
    chain_line = t("chron.footer_chain", hash=data.chain_head or EMPTY)
    base = numbered_canvas(footer, t("chron.page_of"))

    class _ChronicleCanvas(base):
        def _footer(self, page: int, pages: int) -> None:
            super()._footer(page, pages)
            self.saveState()
            self.setFont(FONT, 7)
            self.setFillColor(colors.HexColor("#555555"))
            self.drawString(MARGIN, MARGIN / 2 - 10, chain_line)
            self.restoreState()

    return _ChronicleCanvas


def chronicle_pdf(data: ChronicleData) -> bytes:
    """The chronicle as A4 PDF: title, chain check, case facts, one row per event (header row on every page)."""
    events: Flowable = (_events_table(data.events) if data.events
                        else Paragraph(para_text(t("chron.no_events")), STYLES["body"]))
    story: list[Flowable] = [
        Paragraph(para_text(t("chron.title", number=data.number)), STYLES["title"]),
        *_chain(data),
        Paragraph(para_text(t("chron.facts")), STYLES["heading"]),
        _facts(data),
        Paragraph(para_text(t("chron.events", count=len(data.events))), STYLES["heading"]),
        events,
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
        title=t("chron.title", number=data.number), author="Schadenportal", creator="Schadenportal", invariant=1,
    )
    doc.build(story, canvasmaker=_canvas(data))
    return buffer.getvalue()
