"""Case import on SQLite and PostgreSQL: statuses, amounts, insurers, numbers, timelines, all-or-nothing, CLI."""

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.cases import NewCase, create_case
from core.enums import CaseStatus as S
from core.enums import DamageType, PartnerKind, Role
from core.errors import PermissionDenied
from core.events import verify_chain
from core.importer import OPTIONAL, REQUIRED, ImportFileError, run_import
from core.lifecycle import TRANSITIONS
from core.permissions import SYSTEM, Actor
from core.settings import ROOT
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
from tests.factories import make_case

COLUMNS = [*REQUIRED, *OPTIONAL]
BASE = {"received_at": "2025-03-02T09:00:00+01:00", "damage_type": "glass", "insurer": "HUK-COBURG",
        "client_name": "Erika Mustermann", "postal_code": "10115"}
LETTER = {**BASE, "claim_letter_sent_at": "2025-03-03T10:30:00Z", "amount_claimed": "812.40"}
QUERY = {**LETTER, "query_received_at": "2025-03-05T10:00:00+01:00"}
ANSWERED = {**QUERY, "query_answered_at": "2025-03-07T10:00:00Z"}
PAID = {**ANSWERED, "paid_at": "2025-03-20T10:00:00Z", "amount_paid": "700.01"}
CLOSED = {**PAID, "closed_at": "2025-03-25T10:00:00Z", "nps_score": "9", "callbacks": "2"}
REFUSED = {**QUERY, "closed_at": "2025-04-20T10:00:00Z", "amount_paid": "0"}
CANCELLED = {**LETTER, "cancelled_at": "2025-03-04T10:00:00Z"}

#: (row, expected status) for the good file; line n + 2 is row n.
GOOD = [
    (BASE, S.RECEIVED),
    ({**LETTER, "insurer": "Allianz", "damage_type": "accident", "case_number": "AKTE-2019/0042"}, S.CLAIM_SENT),
    ({**QUERY, "insurer": "ERGO"}, S.INSURER_QUERY),
    ({**ANSWERED, "insurer": "Allianz"}, S.CLAIM_SENT),
    ({**PAID, "amount_paid": "812.40"}, S.PAID),
    (CLOSED, S.CLOSED),
    (REFUSED, S.CLOSED),
    (CANCELLED, S.CANCELLED),
    ({**BASE, "received_at": "2025-12-31T23:30:00Z", "cancelled_at": "2026-01-02T12:00:00+01:00"}, S.CANCELLED),
]


def write_csv(path, rows, columns=COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def counts(engine) -> dict[str, int]:
    with unit_of_work(engine) as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in
                (Case, Person, Insurer, CaseEvent, InsurerQuery, CaseCallback, SurveyAnswer, Counter)}


def load(engine, number):
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        return case, events, verify_chain(s, case=case)


@pytest.fixture
def good_import(engine, tmp_path):
    make_case(engine)  # HUK-COBURG exists already; case:2026 counter is in use
    before = counts(engine)
    report = run_import(engine, actor=SYSTEM, path=write_csv(tmp_path / "altbestand.csv", [r for r, _ in GOOD]),
                        skip_bad=False)
    return report, before


def test_good_file_imports_every_row_with_its_status(engine, good_import):
    report, before = good_import
    assert (report.imported, report.rejected) == (len(GOOD), [])
    assert counts(engine)["Case"] == before["Case"] + len(GOOD)
    for number, (_, status) in zip(report.case_numbers, GOOD):
        assert load(engine, number)[0].status == status, number


def test_given_case_number_is_kept_and_others_are_numbered_by_intake_year(good_import):
    report, _ = good_import
    assert report.case_numbers[1] == "AKTE-2019/0042"
    generated = [n for n in report.case_numbers if n != "AKTE-2019/0042"]
    # the last row was received 2025-12-31 23:30 UTC, which is already 2026 in Berlin
    assert generated == [f"SP-2025-{i:06d}" for i in range(1, 8)] + ["SP-2026-000002"]


def test_unknown_insurers_are_added_once(engine, good_import):
    _, before = good_import
    with unit_of_work(engine) as s:
        names = s.scalars(select(Insurer.name).order_by(Insurer.name)).all()
    assert names == ["Allianz", "ERGO", "HUK-COBURG"]
    assert counts(engine)["Insurer"] == before["Insurer"] + 2


def test_amounts_and_derived_fields(engine, good_import):
    report, _ = good_import
    paid, _, _ = load(engine, report.case_numbers[4])
    assert (paid.amount_claimed_cents, paid.amount_paid_cents) == (81240, 81240)
    assert paid.paid_at == datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
    closed, _, _ = load(engine, report.case_numbers[5])
    assert (closed.amount_claimed_cents, closed.amount_paid_cents) == (81240, 70001)
    assert closed.received_at == closed.review_started_at == datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
    assert closed.claim_letter_sent_at == datetime(2025, 3, 3, 10, 30, tzinfo=UTC)
    assert closed.throughput_hours == 26.5
    assert closed.closed_at == datetime(2025, 3, 25, 10, 0, tzinfo=UTC)
    assert (closed.source, closed.status_reason, closed.partner_kind) == ("import", "", PartnerKind.GLASS)
    refused, _, _ = load(engine, report.case_numbers[6])
    assert (refused.amount_paid_cents, refused.paid_at) == (0, None)
    assert refused.status_reason == "Versicherung hat abgelehnt"
    cancelled, _, _ = load(engine, report.case_numbers[7])
    assert (cancelled.cancelled_at, cancelled.status_reason) == (
        datetime(2025, 3, 4, 10, 0, tzinfo=UTC), "Import: storniert")
    received, _, _ = load(engine, report.case_numbers[0])
    assert (received.review_started_at, received.claim_letter_sent_at, received.throughput_hours) == (None, None, None)
    accident, _, _ = load(engine, report.case_numbers[1])
    assert (accident.damage_type, accident.partner_kind) == (DamageType.ACCIDENT, PartnerKind.APPRAISER)


def test_client_query_callbacks_and_survey_are_written(engine, good_import):
    report, _ = good_import
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == report.case_numbers[5]))
        assert (case.client.first_name, case.client.last_name, case.client.postal_code) == (
            "Erika", "Mustermann", "10115")
        query = s.scalars(select(InsurerQuery).where(InsurerQuery.case_id == case.id)).one()
        assert (query.received_at, query.answered_at) == (
            datetime(2025, 3, 5, 9, 0, tzinfo=UTC), datetime(2025, 3, 7, 10, 0, tzinfo=UTC))
        calls = s.scalars(select(CaseCallback).where(CaseCallback.case_id == case.id)).all()
        assert [(c.at, c.status_at_call) for c in calls] == [(case.received_at, "received")] * 2
        survey = s.scalars(select(SurveyAnswer).where(SurveyAnswer.case_id == case.id)).one()
        assert (survey.score, survey.answered_at) == (9, case.closed_at)
        open_query_case = s.scalar(select(Case).where(Case.number == report.case_numbers[2]))
        open_query = s.scalars(select(InsurerQuery).where(InsurerQuery.case_id == open_query_case.id)).one()
        assert open_query.answered_at is None


def test_every_case_has_a_valid_chain_in_lifecycle_order(engine, good_import):
    report, _ = good_import
    for line, (number, (_, status)) in enumerate(zip(report.case_numbers, GOOD), start=2):
        case, events, chain = load(engine, number)
        assert chain.ok and chain.events == len(events) == case.event_count
        assert (events[0].action, events[0].details) == ("imported", {"source": "altbestand.csv", "line": line})
        assert [e.at for e in events] == sorted(e.at for e in events)
        changes = [(e.details["from"], e.details["to"]) for e in events if e.action == "status_changed"]
        assert all((S(a), S(b)) in TRANSITIONS for a, b in changes)
        assert [a for a, _ in changes[:1]] in ([], ["received"])
        assert all(prev[1] == nxt[0] for prev, nxt in zip(changes, changes[1:]))
        assert (changes[-1][1] if changes else "received") == status


def test_timeline_of_a_full_case(engine, good_import):
    report, _ = good_import
    _, events, _ = load(engine, report.case_numbers[5])
    assert [(e.action, e.details) for e in events] == [
        ("imported", {"source": "altbestand.csv", "line": 7}),
        ("status_changed", {"from": "received", "to": "review"}),
        ("status_changed", {"from": "review", "to": "claim_sent"}),
        ("status_changed", {"from": "claim_sent", "to": "insurer_query"}),
        ("status_changed", {"from": "insurer_query", "to": "claim_sent"}),
        ("status_changed", {"from": "claim_sent", "to": "paid", "amount_paid_cents": 70001}),
        ("status_changed", {"from": "paid", "to": "closed"}),
        ("survey_answered", {"score": 9}),
    ]
    assert [e.at.isoformat() for e in events[2:7]] == [
        "2025-03-03T10:30:00+00:00", "2025-03-05T09:00:00+00:00", "2025-03-07T10:00:00+00:00",
        "2025-03-20T10:00:00+00:00", "2025-03-25T10:00:00+00:00"]


def test_refusal_and_cancellation_events_carry_their_reasons(engine, good_import):
    report, _ = good_import
    _, refused, _ = load(engine, report.case_numbers[6])
    assert refused[-1].details == {"from": "insurer_query", "to": "closed", "reason": "Versicherung hat abgelehnt"}
    _, cancelled, _ = load(engine, report.case_numbers[8])
    assert [e.details for e in cancelled[1:]] == [
        {"from": "received", "to": "cancelled", "reason": "Import: storniert"}]


def test_a_bad_row_imports_nothing_and_reports_its_line(engine, tmp_path):
    before = counts(engine)
    rows = [BASE, {**BASE, "insurer": "Neue Versicherung AG"}, {**BASE, "postal_code": "123"}, LETTER]
    report = run_import(engine, actor=SYSTEM, path=write_csv(tmp_path / "f.csv", rows), skip_bad=False)
    assert report.imported == 0 and report.case_numbers == []
    assert [(e.line, e.reason) for e in report.rejected] == [
        (4, "postal_code: „123“ ist keine fünfstellige Postleitzahl.")]
    assert counts(engine) == before


def test_skip_bad_imports_the_good_rows_only(engine, tmp_path):
    before = counts(engine)
    rows = [BASE, {**BASE, "postal_code": "123"}, LETTER, {**LETTER, "claim_letter_sent_at": "2025-03-01T00:00:00Z"}]
    report = run_import(engine, actor=SYSTEM, path=write_csv(tmp_path / "f.csv", rows), skip_bad=True)
    assert report.imported == 2 and len(report.case_numbers) == 2
    assert [e.line for e in report.rejected] == [3, 5]
    assert counts(engine)["Case"] == before["Case"] + 2
    with unit_of_work(engine) as s:
        lines = s.scalars(select(CaseEvent.details).where(CaseEvent.action == "imported")).all()
    assert sorted(d["line"] for d in lines) == [2, 4]


def test_duplicate_case_number_within_the_file_is_rejected(engine, tmp_path):
    rows = [{**BASE, "case_number": "ALT-1"}, {**BASE, "case_number": "ALT-2"}, {**LETTER, "case_number": "ALT-1"}]
    before = counts(engine)
    report = run_import(engine, actor=SYSTEM, path=write_csv(tmp_path / "f.csv", rows), skip_bad=False)
    assert [(e.line, e.reason) for e in report.rejected] == [(4, "case_number ALT-1 steht schon in Zeile 2.")]
    assert counts(engine) == before
    report = run_import(engine, actor=SYSTEM, path=tmp_path / "f.csv", skip_bad=True)
    assert report.case_numbers == ["ALT-1", "ALT-2"] and [e.line for e in report.rejected] == [4]


def test_duplicate_case_number_against_the_database_is_rejected(engine, tmp_path):
    existing = make_case(engine)
    rows = [BASE, {**BASE, "case_number": existing}]
    before = counts(engine)
    report = run_import(engine, actor=SYSTEM, path=write_csv(tmp_path / "f.csv", rows), skip_bad=False)
    assert [(e.line, e.reason) for e in report.rejected] == [(3, f"case_number {existing} gibt es bereits.")]
    assert counts(engine) == before


def test_importing_the_same_file_twice_refuses_the_second_time(engine, tmp_path):
    path = write_csv(tmp_path / "f.csv", [{**BASE, "case_number": "ALT-7"}, {**LETTER, "case_number": "ALT-8"}])
    assert run_import(engine, actor=SYSTEM, path=path, skip_bad=False).imported == 2
    report = run_import(engine, actor=SYSTEM, path=path, skip_bad=False)
    assert report.imported == 0 and [e.line for e in report.rejected] == [2, 3]


def test_given_number_of_our_pattern_moves_the_counter_on(engine, tmp_path):
    row = {**BASE, "received_at": "2026-01-05T09:00:00Z", "case_number": "SP-2026-000050"}
    path = write_csv(tmp_path / "f.csv", [row])
    assert run_import(engine, actor=SYSTEM, path=path, skip_bad=False).imported == 1
    with unit_of_work(engine) as s:
        case = create_case(s, actor=SYSTEM, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Neu", postal_code="10115",
            received_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC)))
        assert case.number == "SP-2026-000051"


def test_import_needs_the_right_to_create_cases(engine, tmp_path):
    partner = Actor(user_id=None, username="p", display_name="P", role=Role.PARTNER, partner_id=1)
    with pytest.raises(PermissionDenied):
        run_import(engine, actor=partner, path=write_csv(tmp_path / "f.csv", [BASE]), skip_bad=False)
    assert counts(engine)["Case"] == 0


def test_missing_file_is_a_file_error(engine, tmp_path):
    with pytest.raises(ImportFileError, match="nicht gefunden"):
        run_import(engine, actor=SYSTEM, path=tmp_path / "nope.csv", skip_bad=False)


# --- the command line, end to end (SQLite file) -------------------------------------------------


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "DATA_DIR": str(tmp_path / "data"),
           "APP_MODE": "demo", "SECRETS_PATH": str(tmp_path / "none.toml")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    assert run("init-db").returncode == 0
    return run


def test_cli_imports_a_good_file(cli, tmp_path):
    result = cli("import-cases", str(write_csv(tmp_path / "good.csv", [r for r, _ in GOOD])))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{len(GOOD)} Fälle importiert\n", "")


def test_cli_refuses_a_file_with_a_bad_row(cli, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [BASE, BASE, BASE, BASE, BASE, {**BASE, "received_at": "2025-03-02 09:00"}])
    result = cli("import-cases", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == [
        "0 Fälle importiert",
        "Zeile 7: received_at: „2025-03-02 09:00“ hat keine Zeitzone (z. B. Z oder +01:00 anhängen).",
    ]
    assert "--skip-bad" in result.stdout
    assert cli("import-cases", str(write_csv(tmp_path / "one.csv", [BASE]))).stdout == "1 Fall importiert\n"


def test_cli_skip_bad_imports_the_rest_and_still_fails(cli, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [BASE, {**BASE, "nps_score": "5"}, LETTER])
    result = cli("import-cases", str(path), "--skip-bad")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "2 Fälle importiert", "Zeile 3: nps_score nur bei abgeschlossenen Fällen (closed_at)."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "wurde nicht gefunden"),
        (b"received_at,damage_type\n", "Pflichtspalte fehlt: insurer, client_name, postal_code"),
        (",".join(REQUIRED).encode() + "\n2025-03-02T09:00:00Z,glass,Württembergische,A B,10115\n".encode("cp1252"),
         "nicht UTF-8-kodiert (Zeile 2)"),
    ],
    ids=["missing", "column", "encoding"],
)
def test_cli_unreadable_file(cli, tmp_path, content, message):
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_bytes(content)
    result = cli("import-cases", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Fehler: ") and message in result.stderr
