"""The data-subject export (Art. 15 DSGVO) as a PDF. Pure: the export's JSON-ready dict in, bytes out.

Every value comes from the database and may be user text: it goes into Paragraphs only through `para_text`.
Dates (ISO 8601 strings in the dict) are shown in Berlin time, cents as euros, event details as one line.
"""

from __future__ import annotations

from datetime import datetime

from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.i18n import CATALOGS, DEFAULT_LANGUAGE, t
from core.money import format_eur
from core.timeline import event_details, event_label
from core.timeutil import to_berlin
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    GRID,
    SHADE,
    STYLES,
    build_pdf,
    para_text,
)

#: Per list section: the columns shown (keys of the export's rows), in order.
SECTIONS: dict[str, tuple[str, ...]] = {
    "events": ("seq", "at", "actor_name", "action", "details"),
    "notes": ("created_at", "visibility", "author", "body"),
    "documents": ("kind", "title", "version", "original_name", "size", "uploaded_at"),
    "tasks": ("title", "created_at", "due_at", "done_at"),
    "insurer_queries": ("subject", "received_at", "due_at", "answered_at"),
    "survey": ("score", "comment", "answered_at"),
    "callbacks": ("at", "caller", "status_at_call"),
    "assignments": ("partner", "origin", "reason", "assigned_at", "accepted_at", "declined_at", "decline_reason"),
    "invoice": ("invoice_number", "invoice_date", "gross_cents", "deductible_cents", "submitted_at"),
    "mails": ("created_at", "recipient", "subject", "body", "status", "sent_at"),
    "recipients": ("recipient", "subject", "status", "sent_at"),
    "access_log": ("at", "username", "role", "action", "object_type", "ip"),
}
#: The mails received from the person or filed into their cases (one table after the cases).
INBOUND_COLUMNS = ("received_at", "sender", "subject", "body_excerpt", "attachments", "case", "mail_status")
#: Wider columns for long texts (share of the width relative to 1).
WIDE = {"details": 3.0, "body": 3.5, "body_excerpt": 3.0, "sender": 1.8, "reason": 2.0, "decline_reason": 2.0, "subject": 2.0, "original_name": 2.0,
        "title": 1.6, "comment": 3.0, "recipient": 1.8, "actor_name": 1.4, "username": 1.4}
PERSON_FIELDS = ("first_name", "last_name", "email", "phone", "street", "postal_code", "city", "legal_basis",
                 "legal_basis_at", "pseudonymised_at", "created_at")
CASE_FIELDS = ("status", "damage_type", "insurer", "broker", "partner", "clerk", "policy_number",
               "insurer_claim_number", "plate", "vin", "incident_date", "incident_description", "postal_code",
               "received_at", "claim_letter_sent_at", "paid_at", "closed_at", "cancelled_at", "appointment_at",
               "status_reason", "amount_claimed_cents", "amount_paid_cents", "deductible_cents", "legal_hold")


#: Fields holding an enum value, shown by its label (the value itself where the catalog has none).
ENUM_FIELDS = {"status": "CaseStatus", "status_at_call": "CaseStatus", "damage_type": "DamageType",
               "legal_basis": "LegalBasis", "visibility": "NoteVisibility", "kind": "DocumentKind", "role": "Role",
               "caller": "Caller"}


def field_label(key: str) -> str:
    """The German label of an export field (the key itself if the catalog has none)."""
    return CATALOGS[DEFAULT_LANGUAGE].get(f"subject.f_{key}", key)


def _date_text(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) == 10:  # a date
        return parsed.strftime("%d.%m.%Y")
    return to_berlin(parsed).strftime("%d.%m.%Y %H:%M") if parsed.tzinfo else parsed.strftime("%d.%m.%Y %H:%M")


def value_text(key: str, value: object) -> str:
    """One value as plain text (not yet escaped)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return t("subject.f_yes") if value else t("subject.f_no")
    if key.endswith("_cents") and isinstance(value, int):
        return format_eur(value)
    if key == "details" and isinstance(value, dict):
        return event_details(value) or EMPTY
    if key == "action":
        return event_label(str(value))
    if key in ENUM_FIELDS:
        return CATALOGS[DEFAULT_LANGUAGE].get(f"{ENUM_FIELDS[key]}.{value}", str(value))
    if isinstance(value, str) and (key.endswith(("_at", "_date")) or key == "at"):
        return _date_text(value)
    if isinstance(value, list | dict):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return str(value)


def _cell(text: str, head: bool = False) -> Paragraph:
    return Paragraph(para_text(text), STYLES["cell_head" if head else "cell"])


def _facts(row: dict, fields: tuple[str, ...]) -> Table:
    data = [[_cell(field_label(k), head=True), _cell(value_text(k, row.get(k)))] for k in fields]
    table = Table(data, colWidths=[5 * cm, CONTENT_WIDTH - 5 * cm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (0, -1), SHADE)]))
    return table


def _rows(key: str, rows: list[dict]) -> list[dict]:
    if key != "documents":
        return rows
    return [{"kind": doc.get("kind"), "title": doc.get("title"), **version}
            for doc in rows for version in (doc.get("versions") or [{}])]


def _list_table(key: str, rows: list[dict], columns: tuple[str, ...] | None = None) -> Table:
    columns = columns or SECTIONS[key]
    weights = [WIDE.get(c, 1.0) for c in columns]
    widths = [CONTENT_WIDTH * w / sum(weights) for w in weights]
    data = [[_cell(field_label(c), head=True) for c in columns]]
    data += [[_cell(value_text(c, row.get(c))) for c in columns] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), SHADE)]))
    return table


def _section(key: str, value: object) -> list[Flowable]:
    rows = [value] if isinstance(value, dict) else list(value or [])
    heading = Paragraph(para_text(t(f"subject.sec_{key}")), STYLES["heading"])
    if not rows:
        return [heading, Paragraph(para_text(t("subject.pdf_none")), STYLES["small"])]
    return [heading, _list_table(key, _rows(key, rows))]


def subject_export_pdf(data: dict) -> bytes:
    """The export as an A4 PDF: persons, then each case with its facts and every list; "Seite x von y"."""
    generated = value_text("at", data.get("generated_at", ""))
    story: list[Flowable] = [
        Paragraph(para_text(t("subject.pdf_title")), STYLES["title"]),
        Paragraph(para_text(t("subject.pdf_intro", at=generated, by=data.get("generated_by", ""))), STYLES["body"]),
    ]
    for person in data.get("persons", []):
        story += [KeepTogether([Paragraph(para_text(t("subject.pdf_person", id=person.get("id"))), STYLES["heading"]),
                                _facts(person, PERSON_FIELDS)])]
    for case in data.get("cases", []):
        story += [Spacer(1, 8), Paragraph(para_text(t("subject.pdf_case", number=case.get("number"))),
                                          STYLES["title"]), _facts(case, CASE_FIELDS)]
        for key in SECTIONS:
            story += _section(key, case.get(key))
    if data.get("other_mails"):
        story += [Paragraph(para_text(t("subject.pdf_other_mails")), STYLES["heading"]),
                  _list_table("mails", data["other_mails"])]
    if data.get("inbound_mails"):
        story += [Paragraph(para_text(t("subject.pdf_inbound_mails")), STYLES["heading"]),
                  _list_table("inbound_mails", data["inbound_mails"], INBOUND_COLUMNS)]
    story += [Paragraph(para_text(t("subject.pdf_links")), STYLES["heading"]),
              Paragraph(para_text(str(data.get("client_links", ""))), STYLES["body"])]
    return build_pdf(story, title=t("subject.pdf_title"), footer=t("subject.pdf_footer", at=generated),
                     page_label=t("subject.pdf_page"))
