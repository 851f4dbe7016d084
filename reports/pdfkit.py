"""Small shared parts of the reportlab PDFs: escaping, German dates, styles, a page-x-of-y footer, build.

Text set by users goes into Paragraphs only through `para_text`, so `<`, `>` and `&` are shown literally
and cannot inject markup. Only reportlab's built-in Helvetica is used (WinAnsi covers ä ö ü ß € –).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

EMPTY = "–"
MARGIN = 2 * cm
FRAME_PADDING = 6  # reportlab's default padding inside the page frame, in points
CONTENT_WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
FONT, FONT_BOLD = "Helvetica", "Helvetica-Bold"
GRID = colors.HexColor("#b0b0b0")
SHADE = colors.HexColor("#eeeeee")


def para_text(value: str | None) -> str:
    """`value` safe for a Paragraph: escaped, line breaks as `<br/>`; empty or None as `–`."""
    text = (value or "").strip()
    if not text:
        return EMPTY
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(escape(line.strip()) for line in lines)


def format_date(value: date | None) -> str:
    """`dd.mm.yyyy`; `–` for None."""
    return value.strftime("%d.%m.%Y") if value else EMPTY


def _style(name: str, **kwargs: object) -> ParagraphStyle:
    base = {"fontName": FONT, "fontSize": 9.5, "leading": 12.5}
    return ParagraphStyle(name, **{**base, **kwargs})


STYLES: dict[str, ParagraphStyle] = {
    "title": _style("title", fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=8),
    "heading": _style("heading", fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=10, spaceAfter=4),
    "body": _style("body", spaceAfter=5),
    "label": _style("label", fontName=FONT_BOLD),
    "cell": _style("cell", fontSize=8, leading=10),
    "cell_head": _style("cell_head", fontName=FONT_BOLD, fontSize=8, leading=10),
    "cell_head_right": _style("cell_head_right", fontName=FONT_BOLD, fontSize=8, leading=10, alignment=TA_RIGHT),
    "small": _style("small", fontSize=8, leading=10),
}


def numbered_canvas(left: str, page_label: str | None = None) -> type[Canvas]:
    """A canvas class whose pages get a footer: `left` text, and `page_label` (`{page}`, `{pages}`) right.

    Pages are held back until `save()`, when the total is known (the usual reportlab recipe).
    """

    class _NumberedCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._footer(number, len(self._pages))
                super().showPage()
            super().save()

        def _footer(self, page: int, pages: int) -> None:
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.HexColor("#555555"))
            y = MARGIN / 2
            self.drawString(MARGIN, y, left)
            if page_label:
                self.drawRightString(A4[0] - MARGIN, y, page_label.format(page=page, pages=pages))
            self.restoreState()

    return _NumberedCanvas


def build_pdf(story: Sequence[Flowable], *, title: str, footer: str, page_label: str | None = None) -> bytes:
    """Lay `story` out on A4 portrait and return the PDF bytes (invariant: same data, same bytes)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
        title=title, author="Schadenportal", creator="Schadenportal", invariant=1,
    )
    doc.build(list(story), canvasmaker=numbered_canvas(footer, page_label))
    return buffer.getvalue()
