"""Reading an import-cases CSV (§6), pure: typed rows or row errors, no database.

`parse_rows` checks the file (encoding, header) and each row's fields and consistency; `transitions` derives the
status changes a row's milestones stand for. Writing lives in core.import_write; core.importer is the facade.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from core.cases import DEFAULT_PARTNER_KIND
from core.enums import CaseStatus, DamageType, PartnerKind
from core.errors import ValidationError
from core.i18n import t
from core.money import parse_eur
from core.timeutil import now as utc_now

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
#: A short file that parses without errors (shown on the import page as an example).
EXAMPLE_CSV = (
    "received_at,damage_type,insurer,client_name,postal_code,claim_letter_sent_at,amount_claimed\n"
    "2025-03-02T09:00:00+01:00,glass,HUK-COBURG,Erika Mustermann,10115,2025-03-03T10:30:00Z,812.40\n"
    "2025-03-04T14:15:00Z,accident,Allianz,Max Muster,80331,,\n"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+")
_AMOUNT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (unreadable, not UTF-8, wrong columns)."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file: header = 1, first data row = 2
    reason: str  # German, for the user

    def __str__(self) -> str:
        return t("import.row_error", line=self.line, reason=self.reason)


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
            raise ImportFileError(t("import.file_empty"))
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
        raise ImportFileError(t("import.not_csv", line=reader.line_num, error=exc)) from exc
    return rows, errors


def _join(reasons: list[str]) -> str:
    return "; ".join(r.rstrip(".") for r in reasons) + "."


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(t("import.bad_encoding", line=line)) from exc


def _check_header(header: list[str]) -> list[str]:
    columns = [c.strip().lower() for c in header]
    if columns:
        columns[0] = columns[0].lstrip("\ufeff").strip()
    if len(columns) == 1 and ";" in columns[0]:
        raise ImportFileError(t("import.semicolons"))
    problems = []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(t("import.missing_columns", columns=", ".join(missing)))
    unknown = [c or "(leer)" for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(t("import.unknown_columns", columns=", ".join(unknown)))
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        problems.append(t("import.twice_columns", columns=", ".join(twice)))
    if problems:
        raise ImportFileError(t("import.bad_header", problems="; ".join(problems)))
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
