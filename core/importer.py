"""Case import from CSV (§6 `import-cases`): pure parsing and checks apart from writing.

`parse_rows` turns the file into typed rows or row errors (no database); `validate_against_db` adds what
only the database knows (case numbers taken); `import_cases` writes checked rows; `run_import` does all
three in one transaction: a file with a bad row writes nothing unless `skip_bad` is given.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from core.cases import DEFAULT_PARTNER_KIND, get_or_create_insurer, next_case_number
from core.enums import CaseStatus, DamageType, PartnerKind
from core.errors import ValidationError
from core.events import append_event
from core.money import parse_eur
from core.permissions import Action, Actor, require
from core.timeutil import now as utc_now
from core.timeutil import to_berlin
from db.engine import unit_of_work
from db.models import Case, CaseCallback, CaseEvent, Counter, Insurer, InsurerQuery, Person, SurveyAnswer

S = CaseStatus
REQUIRED = ("received_at", "damage_type", "insurer", "client_name", "postal_code")
OPTIONAL = (
    "case_number", "client_email", "plate", "partner_kind", "claim_letter_sent_at", "query_received_at",
    "query_answered_at", "paid_at", "amount_claimed", "amount_paid", "closed_at", "cancelled_at", "nps_score",
    "callbacks",
)
#: Milestones in lifecycle order; each may not precede the one before it.
MILESTONES = ("claim_letter_sent_at", "query_received_at", "query_answered_at", "paid_at", "closed_at")
REFUSED_REASON = "Versicherung hat abgelehnt"
CANCELLED_REASON = "Import: storniert"
MAX_CALLBACKS = 1000
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+")
_AMOUNT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_OUR_NUMBER = re.compile(r"SP-(\d{4})-(\d{6})")
_IN_CHUNK = 500


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (unreadable, not UTF-8, wrong columns)."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file: header = 1, first data row = 2
    reason: str  # German, for the user

    def __str__(self) -> str:
        return f"Zeile {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportRow:
    """One checked row; times are UTC, amounts integer cents."""

    line: int
    received_at: datetime
    damage_type: DamageType
    insurer: str
    first_name: str
    last_name: str
    postal_code: str
    partner_kind: PartnerKind
    case_number: str = ""
    client_email: str = ""
    plate: str = ""
    claim_letter_sent_at: datetime | None = None
    query_received_at: datetime | None = None
    query_answered_at: datetime | None = None
    paid_at: datetime | None = None
    amount_claimed_cents: int | None = None
    amount_paid_cents: int | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    nps_score: int | None = None
    callbacks: int = 0

    @property
    def status(self) -> CaseStatus:
        """The status the milestones add up to."""
        steps = transitions(self)
        return steps[-1].dst if steps else S.RECEIVED


class Transition(NamedTuple):
    at: datetime
    src: CaseStatus
    dst: CaseStatus
    details: dict  # extra event details besides from/to (amount, reason)


@dataclass(frozen=True)
class ImportReport:
    imported: int
    rejected: list[RowError]
    case_numbers: list[str]


# --- parsing (pure) ---------------------------------------------------------------------------


def parse_rows(
    text_or_lines: str | bytes | Iterable[str], *, now: datetime | None = None
) -> tuple[list[ImportRow], list[RowError]]:
    """Parse the CSV into checked rows and row errors; a file-level problem raises ImportFileError."""
    now = now or utc_now()
    if isinstance(text_or_lines, bytes):
        text_or_lines = _decode(text_or_lines)
    lines = io.StringIO(text_or_lines, newline="") if isinstance(text_or_lines, str) else iter(text_or_lines)
    reader = csv.reader(lines, delimiter=",", strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("Die Datei ist leer (keine Kopfzeile).")
        columns = _check_header(header)
        rows, errors, line = [], [], reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # blank line (or only separators)
            if len(cells) != len(columns):
                errors.append(RowError(start, f"Die Zeile hat {len(cells)} statt {len(columns)} Feldern."))
                continue
            row, reasons = _parse_row(start, dict(zip(columns, (c.strip() for c in cells))), now)
            if reasons:
                errors.append(RowError(start, _join(reasons)))
            else:
                rows.append(row)
    except csv.Error as exc:
        raise ImportFileError(f"Die Datei ist kein gültiges CSV (Zeile {reader.line_num}): {exc}") from exc
    return rows, errors


def _join(reasons: list[str]) -> str:
    return "; ".join(r.rstrip(".") for r in reasons) + "."


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(f"Die Datei ist nicht UTF-8-kodiert (Zeile {line}). Bitte als UTF-8 speichern.") from exc


def _check_header(header: list[str]) -> list[str]:
    columns = [c.strip().lower() for c in header]
    if columns:
        columns[0] = columns[0].lstrip("\ufeff").strip()
    if len(columns) == 1 and ";" in columns[0]:
        raise ImportFileError("Die Spalten müssen durch Kommas getrennt sein, nicht durch Semikolons.")
    problems = []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append("Pflichtspalte fehlt: " + ", ".join(missing))
    unknown = [c or "(leer)" for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append("unbekannte Spalte: " + ", ".join(unknown))
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        problems.append("doppelte Spalte: " + ", ".join(twice))
    if problems:
        raise ImportFileError("Kopfzeile (Zeile 1): " + "; ".join(problems) + ".")
    return columns


class _Fields:
    """Reads typed values from one row's cells and collects every problem as a German reason."""

    def __init__(self, cells: dict[str, str], now: datetime) -> None:
        self.cells, self.now, self.reasons = cells, now, []

    def raw(self, col: str) -> str:
        return self.cells.get(col, "")

    def fail(self, col: str, reason: str) -> None:
        self.reasons.append(f"{col}: {reason}")

    def text(self, col: str, *, max_len: int, required: bool = False) -> str:
        value = " ".join(self.raw(col).split())
        if required and not value:
            self.fail(col, "Pflichtfeld ist leer.")
        elif len(value) > max_len:
            self.fail(col, f"zu lang (höchstens {max_len} Zeichen).")
        return value

    def timestamp(self, col: str) -> datetime | None:
        raw = self.raw(col)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
            if value.tzinfo is None:
                self.fail(col, f"„{raw}“ hat keine Zeitzone (z. B. Z oder +01:00 anhängen).")
                return None
            value = value.astimezone(UTC)
        except (ValueError, OverflowError):
            self.fail(col, f"„{raw}“ ist kein Zeitpunkt nach ISO 8601 (z. B. 2026-03-01T09:30:00+01:00).")
            return None
        if value > self.now:
            self.fail(col, f"„{raw}“ liegt in der Zukunft.")
        return value

    def amount(self, col: str) -> int | None:
        raw = self.raw(col)
        if not raw:
            return None
        if not _AMOUNT.fullmatch(raw):
            self.fail(col, f"„{raw}“ ist kein Betrag (Dezimalpunkt, z. B. 1234.56).")
            return None
        try:
            return parse_eur(raw, field=col, decimal_comma=False)
        except ValidationError as exc:
            self.fail(col, str(exc))
            return None

    def integer(self, col: str, lo: int, hi: int) -> int | None:
        raw = self.raw(col)
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit()) or not lo <= int(raw) <= hi:
            self.fail(col, f"„{raw}“ ist keine ganze Zahl von {lo} bis {hi}.")
            return None
        return int(raw)

    def choice(self, col: str, enum: type[StrEnum]) -> StrEnum | None:
        raw = self.raw(col).lower()
        if not raw:
            return None
        try:
            return enum(raw)
        except ValueError:
            self.fail(col, f"„{self.raw(col)}“ ist unbekannt (erlaubt: {', '.join(m.value for m in enum)}).")
            return None


def _parse_row(line: int, cells: dict[str, str], now: datetime) -> tuple[ImportRow | None, list[str]]:
    f = _Fields(cells, now)
    received_at = f.timestamp("received_at")
    if received_at is None and not f.raw("received_at"):
        f.fail("received_at", "Pflichtfeld ist leer.")
    damage_type = f.choice("damage_type", DamageType)
    if damage_type is None and not f.raw("damage_type"):
        f.fail("damage_type", "Pflichtfeld ist leer.")
    insurer = f.text("insurer", max_len=200, required=True)
    name = f.text("client_name", max_len=200, required=True)
    first_name, _, last_name = name.rpartition(" ")
    if len(first_name) > 100 or len(last_name) > 100:
        f.fail("client_name", "Vor- oder Nachname ist zu lang (höchstens 100 Zeichen).")
    postal_code = f.raw("postal_code")
    if not postal_code:
        f.fail("postal_code", "Pflichtfeld ist leer.")
    elif not (len(postal_code) == 5 and postal_code.isascii() and postal_code.isdigit()):
        f.fail("postal_code", f"„{postal_code}“ ist keine fünfstellige Postleitzahl.")
    email = f.raw("client_email")
    if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
        f.fail("client_email", f"„{email}“ ist keine gültige E-Mail-Adresse.")
    case_number = f.raw("case_number")  # a legacy file number: kept exactly as given
    if len(case_number) > 32:
        f.fail("case_number", "zu lang (höchstens 32 Zeichen).")
    partner_kind = f.choice("partner_kind", PartnerKind)
    optional = dict(
        case_number=case_number, client_email=email, plate=f.text("plate", max_len=16).upper(),
        amount_claimed_cents=f.amount("amount_claimed"), amount_paid_cents=f.amount("amount_paid"),
        nps_score=f.integer("nps_score", 0, 10), callbacks=f.integer("callbacks", 0, MAX_CALLBACKS) or 0,
        **{col: f.timestamp(col) for col in (*MILESTONES, "cancelled_at")},
    )
    if f.reasons:
        return None, f.reasons
    row = ImportRow(
        line=line, received_at=received_at, damage_type=damage_type, insurer=insurer, first_name=first_name,
        last_name=last_name, postal_code=postal_code,
        partner_kind=partner_kind or DEFAULT_PARTNER_KIND[damage_type], **optional,
    )
    return row, consistency_problems(row)


def consistency_problems(row: ImportRow) -> list[str]:
    """The reasons why the row's milestones, amounts and answers do not fit together (empty if they do)."""
    problems = []
    present = [(col, getattr(row, col)) for col in (*MILESTONES, "cancelled_at") if getattr(row, col)]
    for col, at in present:
        if at < row.received_at:
            problems.append(f"{col} liegt vor dem Eingang (received_at).")
    ordered = [(c, a) for c, a in present if c != "cancelled_at"]
    for (before, a), (after, b) in zip(ordered, ordered[1:]):
        if b < a:
            problems.append(f"{after} liegt vor {before}.")
    if row.cancelled_at:
        if row.closed_at:
            problems.append("closed_at und cancelled_at schließen sich aus (abgeschlossen oder storniert).")
        problems += [f"cancelled_at liegt vor {c}." for c, a in ordered if row.cancelled_at < a]
    if row.paid_at and row.amount_paid_cents is None:
        problems.append("paid_at braucht amount_paid.")
    if row.paid_at and row.amount_claimed_cents is None:
        problems.append("paid_at braucht amount_claimed.")
    if row.query_answered_at and not row.query_received_at:
        problems.append("query_answered_at braucht query_received_at.")
    if row.paid_at and row.query_received_at and not row.query_answered_at:
        problems.append("Zahlung bei offener Rückfrage: query_answered_at fehlt.")
    if not row.claim_letter_sent_at:
        problems += [
            f"{col} braucht ein Forderungsschreiben (claim_letter_sent_at)."
            for col in ("query_received_at", "paid_at", "closed_at") if getattr(row, col)
        ]
    if row.closed_at and not row.paid_at and row.amount_paid_cents not in (None, 0):
        problems.append("Abgeschlossen ohne paid_at heißt: die Versicherung hat abgelehnt; amount_paid muss leer "
                        "oder 0 sein.")
    if not row.paid_at and row.amount_paid_cents is not None and not row.closed_at:
        problems.append("amount_paid ohne paid_at.")
    if row.nps_score is not None and not row.closed_at:
        problems.append("nps_score nur bei abgeschlossenen Fällen (closed_at).")
    return problems


def transitions(row: ImportRow) -> list[Transition]:
    """The status changes the row's milestones stand for, in lifecycle order (pure)."""
    steps: list[Transition] = []

    def go(at: datetime, to: CaseStatus, **extra) -> None:
        steps.append(Transition(at, steps[-1].dst if steps else S.RECEIVED, to, extra))

    if row.claim_letter_sent_at:
        go(row.received_at, S.REVIEW)
        go(row.claim_letter_sent_at, S.CLAIM_SENT)
    if row.query_received_at:
        go(row.query_received_at, S.INSURER_QUERY)
    if row.query_answered_at:
        go(row.query_answered_at, S.CLAIM_SENT)
    if row.paid_at:
        go(row.paid_at, S.PAID, amount_paid_cents=row.amount_paid_cents)
    if row.closed_at:
        go(row.closed_at, S.CLOSED, **({} if row.paid_at else {"reason": REFUSED_REASON}))
    if row.cancelled_at:
        go(row.cancelled_at, S.CANCELLED, reason=CANCELLED_REASON)
    return steps


# --- checks that need the database ------------------------------------------------------------


def validate_against_db(session: Session, rows: list[ImportRow]) -> list[RowError]:
    """Given case numbers that repeat in the file or exist already (one IN query per 500 numbers)."""
    errors, first_line = [], {}
    for row in rows:
        if not row.case_number:
            continue
        if row.case_number in first_line:
            errors.append(RowError(row.line, f"case_number {row.case_number} steht schon in Zeile "
                                             f"{first_line[row.case_number]}."))
        else:
            first_line[row.case_number] = row.line
    given = list(first_line)
    taken: set[str] = set()
    for i in range(0, len(given), _IN_CHUNK):
        taken |= set(session.scalars(select(Case.number).where(Case.number.in_(given[i:i + _IN_CHUNK]))))
    errors += [RowError(line, f"case_number {number} gibt es bereits.") for number, line in first_line.items()
               if number in taken]
    return sorted(errors, key=lambda e: e.line)


# --- writing ----------------------------------------------------------------------------------


def import_cases(session: Session, *, actor: Actor, rows: list[ImportRow], source_name: str) -> ImportReport:
    """Write rows that passed parse_rows and validate_against_db as cases with their timelines (flushes)."""
    require(actor, Action.CREATE_CASE)
    insurer_ids = dict(session.execute(select(Insurer.name, Insurer.id)).all())
    for name in sorted({r.insurer for r in rows} - insurer_ids.keys()):
        insurer_ids[name] = get_or_create_insurer(session, name=name).id
    _reserve_given_numbers(session, [r.case_number for r in rows if r.case_number])
    new_numbers = _new_numbers(session, [r for r in rows if not r.case_number])
    numbers = [r.case_number or new_numbers[r.line] for r in rows]
    # Primary keys handed out up front let the ORM insert each table in one batch (no RETURNING per row).
    person_ids, case_ids = _reserve_ids(session, Person, len(rows)), _reserve_ids(session, Case, len(rows))
    event_ids = iter(_reserve_ids(session, CaseEvent, sum(_event_count(r) for r in rows)))
    queries, callbacks, surveys, events = [], [], [], []
    for row, number, person_id, case_id in zip(rows, numbers, person_ids, case_ids):
        case = _new_case(row, number, insurer_ids[row.insurer], case_id=case_id, person_id=person_id)
        session.add(case)
        for event in _timeline(session, actor=actor, row=row, case=case, source_name=source_name):
            event.id = next(event_ids)
            session.expunge(event)  # held back until its case is in: no relationship tells the ORM that order
            events.append(event)
        if row.query_received_at:
            queries.append({"case_id": case_id, "subject": "Rückfrage (Import)", "received_at": row.query_received_at,
                            "due_at": None, "answered_at": row.query_answered_at, "task_id": None})
        callbacks += [{"case_id": case_id, "at": row.received_at, "caller": "client",
                       "status_at_call": str(S.RECEIVED), "logged_by_id": actor.user_id}] * row.callbacks
        if row.nps_score is not None:
            surveys.append({"case_id": case_id, "score": row.nps_score, "comment": "", "answered_at": row.closed_at})
    session.flush()  # clients and cases, chain heads included (no UPDATE per case afterwards)
    session.add_all(events)
    session.flush()
    for model, values in ((InsurerQuery, queries), (CaseCallback, callbacks), (SurveyAnswer, surveys)):
        if values:
            session.execute(insert(model.__table__), values)  # Core executemany: nothing to read back
    return ImportReport(imported=len(rows), rejected=[], case_numbers=numbers)


def _reserve_given_numbers(session: Session, numbers: list[str]) -> None:
    """Move a year's counter past given numbers of our own pattern, so later intakes never collide."""
    highest: dict[str, int] = {}
    for number in numbers:
        if m := _OUR_NUMBER.fullmatch(number):
            highest[f"case:{m[1]}"] = max(highest.get(f"case:{m[1]}", 0), int(m[2]))
    for name, value in sorted(highest.items()):
        counter = session.get(Counter, name, with_for_update=True)
        if counter is None:
            session.add(Counter(name=name, value=value))
        elif counter.value < value:
            counter.value = value
    session.flush()


def _new_numbers(session: Session, rows: list[ImportRow]) -> dict[int, str]:
    """Case numbers by line, a block per intake year: next_case_number locks the year's counter and gives
    the first, the counter then moves on by the rest (one round trip per year, not three per row)."""
    by_year: dict[int, list[ImportRow]] = defaultdict(list)
    for row in rows:
        by_year[to_berlin(row.received_at).year].append(row)
    numbers = {}
    for year, group in sorted(by_year.items()):
        first = int(next_case_number(session, received_at=group[0].received_at).rsplit("-", 1)[1])
        session.get(Counter, f"case:{year}").value = first + len(group) - 1  # the row is locked and loaded
        numbers |= {row.line: f"SP-{year}-{first + i:06d}" for i, row in enumerate(group)}
    session.flush()
    return numbers


def _reserve_ids(session: Session, model: type, n: int) -> list[int]:
    """n unused primary keys: from the sequence on PostgreSQL; above max(id) on SQLite (write-locked)."""
    if n == 0:
        return []
    table = model.__tablename__
    if session.get_bind().dialect.name == "postgresql":
        sql = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
        return list(session.scalars(sql, {"t": table, "n": n}))
    start = (session.scalar(select(func.max(model.id))) or 0) + 1
    return list(range(start, start + n))


def _event_count(row: ImportRow) -> int:
    return 1 + len(transitions(row)) + (row.nps_score is not None)


def _new_case(row: ImportRow, number: str, insurer_id: int, *, case_id: int, person_id: int) -> Case:
    refused = bool(row.closed_at and not row.paid_at)
    letter = row.claim_letter_sent_at
    client = Person(id=person_id, first_name=row.first_name, last_name=row.last_name, email=row.client_email,
                    postal_code=row.postal_code)
    return Case(
        id=case_id, number=number, status=row.status, damage_type=row.damage_type, partner_kind=row.partner_kind,
        insurer_id=insurer_id, client=client, plate=row.plate, postal_code=row.postal_code,
        received_at=row.received_at, review_started_at=row.received_at if letter else None,
        claim_letter_sent_at=letter,
        throughput_hours=(letter - row.received_at).total_seconds() / 3600 if letter else None,
        paid_at=row.paid_at, closed_at=row.closed_at, cancelled_at=row.cancelled_at,
        status_reason=CANCELLED_REASON if row.cancelled_at else REFUSED_REASON if refused else "",
        amount_claimed_cents=row.amount_claimed_cents,
        amount_paid_cents=0 if refused else row.amount_paid_cents, source="import", event_count=0,
        last_event_hash="",
    )


def _timeline(session: Session, *, actor: Actor, row: ImportRow, case: Case, source_name: str) -> list[CaseEvent]:
    """The case's events: `imported`, one `status_changed` per milestone, the survey answer."""
    events = [append_event(session, case=case, actor=actor, action="imported",
                           details={"source": source_name, "line": row.line}, at=row.received_at)]
    for step in transitions(row):
        events.append(append_event(session, case=case, actor=actor, action="status_changed",
                                   details={"from": str(step.src), "to": str(step.dst), **step.details}, at=step.at))
    if row.nps_score is not None:
        events.append(append_event(session, case=case, actor=actor, action="survey_answered",
                                   details={"score": row.nps_score}, at=row.closed_at))
    return events


def run_import(engine: Engine, *, actor: Actor, path: str | Path, skip_bad: bool) -> ImportReport:
    """Read, parse, check and import a file in one transaction; any bad row stops it all unless skip_bad."""
    require(actor, Action.CREATE_CASE)
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImportFileError(f"Die Datei {path} wurde nicht gefunden.") from exc
    except OSError as exc:
        raise ImportFileError(f"Die Datei {path} kann nicht gelesen werden ({exc.strerror}).") from exc
    rows, errors = parse_rows(data)
    with unit_of_work(engine) as session:
        errors = sorted(errors + validate_against_db(session, rows), key=lambda e: e.line)
        if errors and not skip_bad:
            return ImportReport(imported=0, rejected=errors, case_numbers=[])
        bad = {e.line for e in errors}
        report = import_cases(session, actor=actor, rows=[r for r in rows if r.line not in bad],
                              source_name=path.name)
    return ImportReport(imported=report.imported, rejected=errors, case_numbers=report.case_numbers)
