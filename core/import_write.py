"""Writing an import-cases CSV (§6): checks that need the database, then cases with their timelines.

`validate_against_db` adds what only the database knows (case numbers taken); `import_cases` writes checked rows;
`preview_import` / `import_text` (the page) and `run_import` (the CLI) run parse, check and write through one
path, `_import`: a file with a bad row writes nothing unless `skip_bad` is given.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from core.cases import get_or_create_insurer, next_case_number
from core.enums import CaseStatus
from core.events import append_event
from core.i18n import t
from core.import_parse import (
    CANCELLED_REASON,
    REFUSED_REASON,
    ImportFileError,
    ImportRow,
    RowError,
    parse_rows,
    transitions,
)
from core.permissions import Action, Actor, require
from core.timeutil import to_berlin
from db.engine import unit_of_work
from db.models import (
    Case,
    CaseCallback,
    CaseEvent,
    Counter,
    Insurer,
    InsurerQuery,
    Person,
    SurveyAnswer,
)

S = CaseStatus
_OUR_NUMBER = re.compile(r"SP-(\d{4})-(\d{6})")
_IN_CHUNK = 500


@dataclass(frozen=True)
class ImportReport:
    imported: int
    rejected: list[RowError]
    case_numbers: list[str]

    @property
    def summary(self) -> str:
        """"1 Fall importiert" or "N Fälle importiert"."""
        return t("import.imported_one") if self.imported == 1 else t("import.imported_many", n=self.imported)


@dataclass(frozen=True)
class ImportPreview:
    """What an import of the file would do: how many rows are fine, which are rejected and why."""

    rows_ok: int
    rejected: list[RowError]


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


# --- the whole file: one path for the page and the CLI ------------------------------------------


def preview_import(session: Session, *, actor: Actor, data: bytes | str) -> ImportPreview:
    """Parse and check a file without writing; a file-level problem raises ImportFileError."""
    require(actor, Action.IMPORT_CASES)
    good, errors = _checked(session, *parse_rows(data))
    return ImportPreview(rows_ok=len(good), rejected=errors)


def import_text(
    session: Session, *, actor: Actor, data: bytes | str, source_name: str, skip_bad: bool
) -> ImportReport:
    """Parse, check and import a file's content (flushes); any bad row stops it all unless skip_bad."""
    require(actor, Action.IMPORT_CASES)
    return _import(session, actor=actor, data=data, source_name=source_name, skip_bad=skip_bad)


def run_import(engine: Engine, *, actor: Actor, path: str | Path, skip_bad: bool) -> ImportReport:
    """Read, parse, check and import a file in one transaction; any bad row stops it all unless skip_bad."""
    require(actor, Action.CREATE_CASE)
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImportFileError(t("import.file_not_found", path=path)) from exc
    except OSError as exc:
        raise ImportFileError(t("import.file_unreadable", path=path, reason=exc.strerror)) from exc
    with unit_of_work(engine) as session:
        return _import(session, actor=actor, data=data, source_name=path.name, skip_bad=skip_bad)


def _import(session: Session, *, actor: Actor, data: bytes | str, source_name: str, skip_bad: bool) -> ImportReport:
    # Parsed before the first query: on SQLite the write lock (BEGIN IMMEDIATE) is taken only after parsing.
    good, errors = _checked(session, *parse_rows(data))
    if errors and not skip_bad:
        return ImportReport(imported=0, rejected=errors, case_numbers=[])
    report = import_cases(session, actor=actor, rows=good, source_name=source_name)
    return ImportReport(imported=report.imported, rejected=errors, case_numbers=report.case_numbers)


def _checked(
    session: Session, rows: list[ImportRow], errors: list[RowError]
) -> tuple[list[ImportRow], list[RowError]]:
    """The rows without any error, and all errors (parse and database) sorted by line."""
    errors = sorted(errors + validate_against_db(session, rows), key=lambda e: e.line)
    bad = {e.line for e in errors}
    return [r for r in rows if r.line not in bad], errors
