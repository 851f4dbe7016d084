"""Tamper evidence: `verify` recomputes every case's event chain and names the first broken event per case."""

import pytest
from sqlalchemy import func, select, text

from core import cli
from core.chain_check import BrokenChain, broken_line, report_lines, verify_chains
from core.enums import Role
from core.errors import NotFound, PermissionDenied
from core.permissions import SYSTEM, Actor
from core.tasks import add_task
from db.engine import unit_of_work
from db.models import AccessLog, Case, CaseEvent
from tests.factories import make_case


def cases_with_events(engine, n: int) -> list[str]:
    """n cases, each with at least three events (created + two tasks)."""
    numbers = [make_case(engine, last_name=f"Kette{i}") for i in range(n)]
    with unit_of_work(engine) as s:
        for number in numbers:
            add_task(s, actor=SYSTEM, number=number, title="Erste Aufgabe")
            add_task(s, actor=SYSTEM, number=number, title="Zweite Aufgabe")
    return numbers


def tamper(engine, number: str, seq: int, sql: str = "UPDATE case_events SET actor_name = 'Mallory'") -> None:
    """Change an event row behind the application's back, as someone with database access could."""
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
        s.execute(text(f"{sql} WHERE case_id = :c AND seq = :q"), {"c": case_id, "q": seq})


def event_total(engine) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(CaseEvent))


def test_intact_chains_are_reported_ok_with_totals(engine):
    cases_with_events(engine, 3)
    report = verify_chains(engine, actor=SYSTEM)
    assert report.ok
    assert (report.cases, report.events, report.broken_count, report.broken) == (3, event_total(engine), 0, ())


def test_a_changed_event_is_reported_with_its_case_and_seq(engine):
    numbers = cases_with_events(engine, 3)
    tamper(engine, numbers[1], 2)
    report = verify_chains(engine, actor=SYSTEM)
    assert not report.ok
    assert report.broken_count == 1
    assert [(b.case_number, b.seq) for b in report.broken] == [(numbers[1], 2)]


def test_changed_details_are_found_too(engine):
    numbers = cases_with_events(engine, 2)
    tamper(engine, numbers[0], 3, "UPDATE case_events SET action = 'task_done'")
    report = verify_chains(engine, actor=SYSTEM)
    assert [(b.case_number, b.seq) for b in report.broken] == [(numbers[0], 3)]


def test_a_deleted_event_breaks_the_chain_at_its_place(engine):
    numbers = cases_with_events(engine, 2)
    tamper(engine, numbers[0], 2, "DELETE FROM case_events")
    report = verify_chains(engine, actor=SYSTEM)
    assert [(b.case_number, b.seq) for b in report.broken] == [(numbers[0], 3)]


def test_every_broken_case_is_listed_across_batches(engine):
    numbers = cases_with_events(engine, 7)
    tamper(engine, numbers[0], 1)
    tamper(engine, numbers[4], 3)
    tamper(engine, numbers[6], 2)
    seen = []
    report = verify_chains(engine, actor=SYSTEM, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    assert report.cases == 7
    assert [(b.case_number, b.seq) for b in report.broken] == [(numbers[0], 1), (numbers[4], 3), (numbers[6], 2)]
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


def test_the_list_is_capped_but_the_count_is_not(engine):
    numbers = cases_with_events(engine, 4)
    for number in numbers:
        tamper(engine, number, 1)
    report = verify_chains(engine, actor=SYSTEM, max_listed=2)
    assert report.broken_count == 4
    assert [b.case_number for b in report.broken] == numbers[:2]
    assert "… und 2 weitere beschädigte Fälle (nicht einzeln aufgeführt)." in report_lines(report)


def test_one_case_only(engine):
    numbers = cases_with_events(engine, 3)
    tamper(engine, numbers[0], 2)
    report = verify_chains(engine, actor=SYSTEM, case_number=numbers[2].lower())
    assert (report.cases, report.ok) == (1, True)
    report = verify_chains(engine, actor=SYSTEM, case_number=numbers[0])
    assert (report.cases, [b.seq for b in report.broken]) == (1, [2])


def test_unknown_case_number_is_refused(engine):
    with pytest.raises(NotFound, match="SP-1999-000001"):
        verify_chains(engine, actor=SYSTEM, case_number="SP-1999-000001")


def test_only_admins_may_verify(engine):
    staff = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
    with pytest.raises(PermissionDenied):
        verify_chains(engine, actor=staff)


def test_each_run_is_in_the_access_log(engine):
    numbers = cases_with_events(engine, 2)
    tamper(engine, numbers[1], 1)
    verify_chains(engine, actor=SYSTEM)
    with unit_of_work(engine) as s:
        row = s.scalars(select(AccessLog).where(AccessLog.object_type == "event_chain")).one()
        assert (row.action, row.username) == ("verify", "system")
        assert row.detail.endswith("broken=1")


def test_report_lines_name_case_and_event():
    assert broken_line(BrokenChain("SP-2026-000007", 4, 4)) == "SP-2026-000007: Kette ab Ereignis 4 beschädigt"


@pytest.fixture
def cli_env(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("APP_MODE", "demo")


def test_cli_exits_zero_for_intact_chains(engine, cli_env, capsys):
    cases_with_events(engine, 2)
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "Geprüft: 2 Fälle" in out and "Alle Ereignisketten sind unverändert." in out


def test_cli_exits_non_zero_and_names_the_broken_event(engine, cli_env, capsys):
    numbers = cases_with_events(engine, 2)
    tamper(engine, numbers[1], 3)
    assert cli.main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"{numbers[1]}: Kette ab Ereignis 3 beschädigt" in out
    assert numbers[0] not in out


def test_cli_checks_one_case(engine, cli_env, capsys):
    numbers = cases_with_events(engine, 2)
    tamper(engine, numbers[1], 3)
    assert cli.main(["verify", "--case", numbers[0]]) == 0
    assert cli.main(["verify", "--case", numbers[1]]) == 1
    assert cli.main(["verify", "--case", "SP-1999-000001"]) == 2
    assert "SP-1999-000001" in capsys.readouterr().err
