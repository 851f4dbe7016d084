"""The case chronicle (Fallchronik, §11): the case's facts, then every event in order. Pure: data in, bytes out.

Every page carries `Seite x von y`, the generation time and the chain head (the hash of the case's last event);
the header says whether the recomputed hash chain is intact or where it breaks (§10).
"""

from __future__ import annotations

import io
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from core.i18n import t
from core.money import format_eur
from core.timeutil import to_berlin
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    FONT,
    FONT_BOLD,
    FRAME_PADDING,
    GRID,
    MARGIN,
    SHADE,
    STYLES,
    numbered_canvas,
    para_text,
)

#: Longer details are cut, and so is a cell past MAX_CELL_LINES: a row never splits, so it must fit on a page.
MAX_DETAILS = 2_000
SIZE, LEADING, PADDING, RULE = 8, 10, 3, 0.4  # the event table: font size, line height, cell padding, rule width
FRAME_HEIGHT = A4[1] - 2 * MARGIN - 2 * FRAME_PADDING
MAX_CELL_LINES = int((FRAME_HEIGHT - 2 * (LEADING + 2 * PADDING)) // LEADING)
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


class _Widths(dict):
    """Character widths of one font at 1 pt, from reportlab's metrics (its substitution fonts included), cached."""

    def __init__(self, font: str) -> None:
        super().__init__()
        self.font = font

    def __missing__(self, char: str) -> float:
        width = self[char] = stringWidth(char, self.font, 1)
        return width


_WIDTHS = {font: _Widths(font) for font in (FONT, FONT_BOLD)}


def _plain(value: str | None) -> list[str]:
    """`value` as lines, as `para_text` would show them: each stripped, empty or None as `–`."""
    text = (value or "").strip()
    if not text:
        return [EMPTY]
    return [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _wrap(lines: list[str], width: float, font: str) -> list[str]:
    """`lines` broken into lines no wider than `width` at SIZE pt: greedy by words, an overlong word by characters
    (as a Paragraph does); at most MAX_CELL_LINES lines, so a row always fits a page."""
    widths = _WIDTHS[font]
    limit, space = width / SIZE, widths[" "]
    out: list[str] = []
    for line in lines:
        words: list[str] = []
        used = 0.0
        for word in line.split():
            wide = sum(map(widths.__getitem__, word))
            if wide > limit:  # longer than the column: cut it into pieces that fit
                if words:
                    out.append(" ".join(words))
                words, used, piece = [], 0.0, ""
                for char in word:
                    if used + widths[char] > limit and piece:
                        out.append(piece)
                        piece, used = "", 0.0
                    piece += char
                    used += widths[char]
                words = [piece]
            elif words and used + space + wide > limit:
                out.append(" ".join(words))
                words, used = [word], wide
            else:
                used += (space if words else 0.0) + wide
                words.append(word)
        out.append(" ".join(words))
    if len(out) > MAX_CELL_LINES:
        out = [*out[:MAX_CELL_LINES - 1], out[MAX_CELL_LINES - 1] + " …"]
    return out


def _cells(event: ChronicleEvent) -> tuple[list[str], ...]:
    return (
        [str(event.seq)],
        [format_time(event.at)],
        [*_plain(event.actor), *_plain(f"({(event.role or '').strip() or EMPTY})")],
        _plain(event.action),
        _plain(_cut(event.details)),
    )


_Row = tuple[tuple[list[str], ...], float]  # the lines of each cell, the row's height
_TEXT_WIDTHS = tuple(width - 2 * PADDING for _, width in COLUMNS)
_COLUMN_X = tuple(sum(width for _, width in COLUMNS[:i]) + PADDING for i in range(len(COLUMNS)))


def _row(cells: Sequence[list[str]], font: str) -> _Row:
    """The cells wrapped to their columns, and the row's height."""
    wrapped = tuple(_wrap(lines, width, font) for lines, width in zip(cells, _TEXT_WIDTHS, strict=True))
    return wrapped, max(map(len, wrapped)) * LEADING + 2 * PADDING


class _EventRows(Flowable):
    """The events as a table drawn straight on the canvas: header row on every page, a row never split.

    The rows are wrapped once; a page takes the rows that fit (a bisection over their running heights), so
    the work grows linearly with the events, unlike one reportlab Table that measures its rows again at
    every page break.
    """

    def __init__(self, head: _Row, rows: list[_Row], tops: list[float], start: int, end: int) -> None:
        super().__init__()
        self.head, self.rows, self.tops, self.start, self.end = head, rows, tops, start, end
        self.width = CONTENT_WIDTH
        self.height = head[1] + tops[end] - tops[start]

    @classmethod
    def of(cls, events: Sequence[ChronicleEvent]) -> _EventRows:
        head = _row([[t(key)] for key, _ in COLUMNS], FONT_BOLD)
        rows = [_row(_cells(e), FONT) for e in events]
        return cls(head, rows, list(accumulate((h for _, h in rows), initial=0.0)), 0, len(rows))

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        end = bisect_right(self.tops, available_height - self.head[1] + self.tops[self.start], self.start,
                           self.end + 1) - 1
        if end <= self.start:
            return []
        return [_EventRows(self.head, self.rows, self.tops, self.start, end),
                _EventRows(self.head, self.rows, self.tops, end, self.end)]

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(SHADE)
        canvas.rect(0, self.height - self.head[1], self.width, self.head[1], stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(RULE)
        text = canvas.beginText()
        text.setFont(FONT_BOLD, SIZE, LEADING)
        top = self.height
        rules = []
        for index, (cells, height) in enumerate((self.head, *self.rows[self.start:self.end])):
            if index == 1:
                text.setFont(FONT, SIZE, LEADING)
            for x, lines in zip(_COLUMN_X, cells, strict=True):
                text.setTextOrigin(x, top - PADDING - SIZE)
                for line in lines:
                    text.textLine(line)
            top -= height
            rules.append((0, top, self.width, top))
        canvas.drawText(text)
        canvas.lines(rules)
        canvas.restoreState()


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
    events: Flowable = (_EventRows.of(data.events) if data.events
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
