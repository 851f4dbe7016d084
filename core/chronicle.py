"""The case chronicle (Fallchronik, §11): one case as PDF from its page or the CLI, a batch as ZIP for admins.

The chronicle prints the case's events, the same list the case page shows to the back office; legal notes are
not events (a `note_added` event records the visibility, never the text). Each export is in the access log.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.audit import log_access
from core.enums import (
    AssignmentOrigin,
    CaseStatus,
    DamageType,
    DocumentKind,
    NoteVisibility,
    PartnerKind,
)
from core.errors import ValidationError
from core.events import verify_chain
from core.i18n import CATALOGS, DEFAULT_LANGUAGE, label, t
from core.money import format_eur
from core.permissions import Action, Actor, can, require
from core.timeline import event_label, role_label
from core.timeutil import berlin_midnight_utc, now
from db.engine import read_only, unit_of_work
from db.models import Case, CaseEvent
from reports.chronicle import ChronicleData, ChronicleEvent, chronicle_pdf

#: The batch export is for admins only: it goes with reading the audit trail of every case.
BATCH_ACTION = Action.VIEW_AUDIT_LOG
MAX_BATCH = 500
LOG_OBJECT = "chronicle"
_NUMBER_SEPARATORS = re.compile(r"[\s,;]+")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
_STATUS_KEYS = ("from", "to")
_ENUM_VALUES = {"visibility": NoteVisibility, "damage_type": DamageType}


# --- details in German ------------------------------------------------------------------------


def describe_details(action: str, details: dict) -> str:
    """An event's details as German lines (`Begründung: …`); statuses and kinds as labels, cents as euros."""
    lines: list[str] = []
    if all(key in details for key in _STATUS_KEYS):
        lines.append(f"{t('chron.d_status')}: {_status(details['from'])} → {_status(details['to'])}")
    catalog = CATALOGS[DEFAULT_LANGUAGE]
    for key, value in details.items():
        if key in _STATUS_KEYS:
            continue
        lines.append(f"{catalog.get(f'chron.d_{key}', key)}: {_value(action, key, value)}")
    return "\n".join(lines)


def _status(value: object) -> str:
    return label(CaseStatus(value)) if value in CaseStatus._value2member_map_ else str(value)


def _value(action: str, key: str, value: object) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return t("chron.yes") if value else t("chron.no")
    if key.endswith("_cents") and isinstance(value, int):
        return format_eur(value)
    if key == "size" and isinstance(value, int):
        return f"{max(1, round(value / 1024))} KB"
    if key == "kind":
        for enum in (DocumentKind, PartnerKind):
            if value in enum._value2member_map_:
                return label(enum(value))
    if key in _ENUM_VALUES and value in _ENUM_VALUES[key]._value2member_map_:
        return label(_ENUM_VALUES[key](value))
    if key == "origin" and value in AssignmentOrigin._value2member_map_:
        return CATALOGS[DEFAULT_LANGUAGE][f"chron.origin_{value}"]
    if key == "caller":
        return CATALOGS[DEFAULT_LANGUAGE].get(f"Caller.{value}", str(value))
    if action == "order_mail_skipped" and key == "reason" and value == "no_email":
        return t("chron.no_email")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


# --- one case ---------------------------------------------------------------------------------


def _find_case(session: Session, number: str) -> Case | None:
    """The case by its number as given, else ignoring case (legacy numbers are kept as they were imported)."""
    number = number.strip()
    if not number:
        return None
    case = session.scalar(select(Case).where(Case.number == number))
    return case or session.scalar(
        select(Case).where(func.upper(Case.number) == number.upper()).order_by(Case.id).limit(1)
    )


def chronicle_data(session: Session, *, case: Case) -> ChronicleData:
    """What the chronicle prints for `case`, with the hash chain checked (no permission check: callers check)."""
    report = verify_chain(session, case=case)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    client = case.client
    return ChronicleData(
        number=case.number, status=label(case.status), damage_type=label(case.damage_type),
        insurer=case.insurer.name, insurer_claim_number=case.insurer_claim_number,
        policy_number=case.policy_number, client=f"{client.first_name} {client.last_name}".strip(),
        plate=case.plate, broker=case.broker.name if case.broker else "",
        partner=case.partner.name if case.partner else "", clerk=case.clerk.display_name if case.clerk else "",
        received_at=case.received_at, claim_letter_sent_at=case.claim_letter_sent_at, paid_at=case.paid_at,
        closed_at=case.closed_at, cancelled_at=case.cancelled_at, amount_claimed_cents=case.amount_claimed_cents,
        amount_paid_cents=case.amount_paid_cents, status_reason=case.status_reason,
        events=tuple(
            ChronicleEvent(seq=e.seq, at=e.at, actor=e.actor_name, role=role_label(e.actor_role),
                           action=event_label(e.action), details=describe_details(e.action, e.details or {}))
            for e in events
        ),
        chain_ok=report.ok, chain_broken_at=report.first_broken_seq, chain_head=case.last_event_hash,
        generated_at=now(),
    )


def case_chronicle(session: Session, *, actor: Actor, number: str) -> bytes | None:
    """The case's chronicle as PDF, logged; None and a logged refusal if the case is missing or not the
    actor's to export (returned, not raised, so the caller commits the refusal, as in open_case)."""
    case = _find_case(session, number)
    if case is None or not can(actor, Action.VIEW_CASE, case) or not can(actor, Action.EXPORT_CHRONICLE, case):
        log_access(session, actor=actor, action="refused", object_type=LOG_OBJECT, object_ref=number.strip()[:64])
        return None
    pdf = chronicle_pdf(chronicle_data(session, case=case))
    log_access(session, actor=actor, action="export", object_type=LOG_OBJECT, object_ref=case.number)
    return pdf


# --- a batch as ZIP (admins) ------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSelection:
    """The cases a filter matches: how many, and their numbers (at most MAX_BATCH), oldest first."""

    total: int
    numbers: list[str]


def parse_case_numbers(text: str) -> list[str]:
    """Case numbers pasted one per line or separated by commas, semicolons or spaces; duplicates dropped
    (the spelling is kept: the lookup ignores case, so legacy numbers in lower case are found too)."""
    return list(dict.fromkeys(part for part in _NUMBER_SEPARATORS.split(text) if part))


def select_cases(
    session: Session, *, actor: Actor, statuses: tuple[CaseStatus, ...] = (), received_from: date | None = None,
    received_to: date | None = None,
) -> CaseSelection:
    """The cases with one of `statuses` (none: all) received in [from, to] (Europe/Berlin days, inclusive)."""
    require(actor, BATCH_ACTION)
    if received_from and received_to and received_to < received_from:
        raise ValidationError(t("chron.range_invalid"), field="received_to")
    conditions = []
    if statuses:
        conditions.append(Case.status.in_(statuses))
    if received_from:
        conditions.append(Case.received_at >= berlin_midnight_utc(received_from))
    if received_to:
        conditions.append(Case.received_at < berlin_midnight_utc(received_to + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions))
    numbers = session.scalars(
        select(Case.number).where(*conditions).order_by(Case.received_at, Case.id).limit(MAX_BATCH)
    )
    return CaseSelection(total=total, numbers=list(numbers))


def zip_name(number: str) -> str:
    """The file name of a case's chronicle in the ZIP: `<number>.pdf`, characters unsafe in paths replaced."""
    return _UNSAFE_FILENAME.sub("_", number) + ".pdf"


def chronicles_zip(
    engine: Engine, *, actor: Actor, numbers: list[str], progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """A ZIP with one chronicle PDF per case (`<number>.pdf`), read from one snapshot; every case is logged.

    `progress(done, total)` is called after each PDF. An unknown number or too many cases: ValidationError,
    nothing built, nothing logged.
    """
    require(actor, BATCH_ACTION)
    require(actor, Action.EXPORT_CHRONICLE)
    wanted = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
    if not wanted:
        raise ValidationError(t("chron.empty"), field="numbers")
    if len(wanted) > MAX_BATCH:
        raise ValidationError(t("chron.too_many", max=MAX_BATCH), field="numbers")
    buffer = io.BytesIO()
    exported: list[str] = []
    with read_only(engine) as session:
        cases = [_find_case(session, number) for number in wanted]
        unknown = [number for number, case in zip(wanted, cases, strict=True) if case is None]
        if unknown:
            shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
            raise ValidationError(t("chron.unknown", numbers=shown), field="numbers")
        ids = list(dict.fromkeys(case.id for case in cases))  # two spellings of one number: one PDF
        session.expunge_all()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for done, case_id in enumerate(ids, start=1):
                case = session.get(Case, case_id)
                archive.writestr(zip_name(case.number), chronicle_pdf(chronicle_data(session, case=case)))
                exported.append(case.number)
                session.expunge_all()  # a batch of long chronicles does not pile up in the identity map
                if progress is not None:
                    progress(done, len(ids))
    with unit_of_work(engine) as session:
        for number in exported:
            log_access(session, actor=actor, action="export", object_type=LOG_OBJECT, object_ref=number,
                       detail="zip")
    return buffer.getvalue()
