"""The monthly management report on SQLite and PostgreSQL: the PDF of a month from the KPI store (figures of the
month and of the previous calendar month), refusals, queueing once per manager and month from the 1st (Berlin
time), and the worker sending it with the PDF attached to a real SMTP server."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.auth import actor_for
from core.enums import Role
from core.errors import PermissionDenied, ValidationError
from core.i18n import t
from core.kpis import compute_kpis
from core.mailer import transport_for
from core.management_report import (
    management_report_pdf,
    month_filter,
    previous_month,
    queue_monthly_reports,
)
from core.permissions import Actor
from core.settings import SmtpSettings
from core.timeutil import now, to_berlin
from core.worker import run_worker
from db.engine import unit_of_work
from db.models import OutboxMessage, User
from db.seed import seed_demo
from reports.management_report import format_count, format_hours
from tests.factories import make_user
from tests.mailserver import SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OCTOBER, SEPTEMBER = date(2026, 10, 1), date(2026, 9, 1)
ATTACHMENT = {"kind": "management_report", "ref": "2026-10", "filename": "Monatsbericht-2026-10.pdf"}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def flat(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def user_actor(engine, username: str) -> Actor:
    with unit_of_work(engine) as s:
        return actor_for(s.scalar(select(User).where(User.username == username)))


def outbox(engine) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def queue(engine, at: datetime) -> int:
    with unit_of_work(engine) as s:
        return queue_monthly_reports(s, at=at)


@pytest.fixture
def demo(engine):
    """Demo data for the year up to 20.11.2026 (about 25 cases a month; one manager login)."""
    seed_demo(engine, cases=300, seed=7, today=AT.date())
    return engine


@pytest.fixture
def managers(engine) -> dict[str, int]:
    """Two managers with an address, one inactive, one without an address, and a clerk."""
    ids = {name: make_user(engine, name, role) for name, role in (
        ("chefin", Role.MANAGER), ("chef", Role.MANAGER), ("ehemalig", Role.MANAGER), ("ohnemail", Role.MANAGER),
        ("clerk", Role.STAFF))}
    with unit_of_work(engine) as s:
        s.get(User, ids["ehemalig"]).is_active = False
        s.get(User, ids["ohnemail"]).email = ""
    return ids


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings, smtp_server):
    return replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=smtp_server.port, security="none",
                                               sender="Schadenportal <noreply@schadenportal.example>"))


def test_report_prints_the_month_beside_the_previous_calendar_month(demo):
    manager = user_actor(demo, "manager")
    with unit_of_work(demo) as s:
        pdf = management_report_pdf(s, actor=manager, month=OCTOBER, at=AT)
        october = compute_kpis(s, actor=manager, flt=month_filter(OCTOBER), at=AT)
        september = compute_kpis(s, actor=manager, flt=month_filter(SEPTEMBER), at=AT)
    text = flat(pdf)
    assert text.startswith("Monatsbericht Oktober 2026")
    assert october["cases"] > 0 and september["cases"] > 0
    assert f"{t('mreport.fig_cases')} {format_count(october['cases'])} {format_count(september['cases'])}" in text
    median = t("mreport.fig_throughput_hours_median")
    hours = (october["throughput_hours_median"], september["throughput_hours_median"])
    assert f"{median} {format_hours(hours[0])} {format_hours(hours[1])}" in text


def test_report_of_a_month_without_cases_prints_dashes(engine, managers):
    chefin = user_actor(engine, "chefin")
    with unit_of_work(engine) as s:
        text = flat(management_report_pdf(s, actor=chefin, month=date(2024, 1, 1), at=AT))
    assert text.startswith("Monatsbericht Januar 2024")
    assert f"{t('mreport.fig_throughput_hours_median')} – – –" in text


@pytest.mark.parametrize("role", [Role.STAFF, Role.PARTNER, Role.BROKER])
def test_only_kpi_readers_get_the_report(engine, role):
    actor = Actor(user_id=1, username="someone", display_name="Someone", role=role, partner_id=1, broker_id=1)
    with unit_of_work(engine) as s, pytest.raises(PermissionDenied):
        management_report_pdf(s, actor=actor, month=OCTOBER, at=AT)


def test_a_day_other_than_the_first_is_refused_in_german(engine, managers):
    chefin = user_actor(engine, "chefin")
    with unit_of_work(engine) as s, pytest.raises(ValidationError) as refused:
        management_report_pdf(s, actor=chefin, month=date(2026, 10, 15), at=AT)
    assert str(refused.value) == t("mreport.not_first_day", day="15.10.2026")


def test_a_month_that_has_not_begun_is_refused(engine, managers):
    chefin = user_actor(engine, "chefin")
    with unit_of_work(engine) as s, pytest.raises(ValidationError) as refused:
        management_report_pdf(s, actor=chefin, month=date(2026, 12, 1), at=AT)
    assert str(refused.value) == t("mreport.future_month", month="Dezember 2026")


def test_one_mail_per_active_manager_with_an_address_is_queued(engine, managers):
    assert queue(engine, berlin(2026, 11, 1, 6, 0)) == 2
    mails = outbox(engine)
    assert {m.recipient for m in mails} == {"chefin@example.org", "chef@example.org"}
    assert {m.idempotency_key for m in mails} == {f"management-report:2026-10:{managers[n]}" for n in ("chefin", "chef")}
    assert all(m.subject == "Monatsbericht Oktober 2026" and m.attachments == [ATTACHMENT] for m in mails)


def test_the_mail_says_what_happened_and_what_to_do(engine, managers):
    queue(engine, berlin(2026, 11, 1, 6, 0))
    body = outbox(engine)[0].body
    assert "im Oktober 2026 sind 0 Fälle eingegangen; bis zur Forderung an die Versicherung dauerte es im Median –." in body
    assert "Alle Kennzahlen mit Vormonat, Diagrammen und Tabellen stehen im angehängten Bericht" in body


def test_a_second_run_in_the_same_month_queues_nothing(engine, managers):
    queue(engine, berlin(2026, 11, 1, 6, 0))
    assert queue(engine, berlin(2026, 11, 1, 6, 5)) == 0
    assert queue(engine, berlin(2026, 11, 30, 23, 59)) == 0
    assert len(outbox(engine)) == 2


def test_the_october_report_waits_for_the_first_of_november_berlin_time(engine, managers):
    queue(engine, berlin(2026, 10, 31, 23, 59))  # still October in Berlin: September's report
    assert {m.attachments[0]["ref"] for m in outbox(engine)} == {"2026-09"}
    assert queue(engine, berlin(2026, 11, 1, 0, 1)) == 2  # 23:01 UTC on the 31st
    assert {m.attachments[0]["ref"] for m in outbox(engine)} == {"2026-09", "2026-10"}


def test_worker_sends_the_report_with_the_pdf_attached(demo, mail_settings, smtp_server):
    manager = user_actor(demo, "manager")
    with unit_of_work(demo) as s:
        assert queue_monthly_reports(s, at=AT) == 1
        cases = compute_kpis(s, actor=manager, flt=month_filter(OCTOBER), at=AT)["cases"]
    run_worker(demo, mail_settings, once=True, transport=transport_for(mail_settings))
    [(recipients, mail)] = [(r, m) for r, m in smtp_server.received if m["Subject"].startswith("Monatsbericht")]
    assert recipients == ["manager@demo.schadenportal.de"] and mail["Subject"] == "Monatsbericht Oktober 2026"
    [pdf] = list(mail.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "Monatsbericht-2026-10.pdf")
    text = flat(pdf.get_content())
    assert text.startswith("Monatsbericht Oktober 2026") and f"{t('mreport.fig_cases')} {cases} " in text


def test_worker_round_queues_last_months_report_and_sends_it_next_round(engine, managers, mail_settings,
                                                                         smtp_server):
    last = previous_month(to_berlin(now()).date().replace(day=1))
    for _ in range(2):
        run_worker(engine, mail_settings, once=True, transport=transport_for(mail_settings))
    assert sorted(recipients[0] for recipients, _ in smtp_server.received) == ["chef@example.org",
                                                                               "chefin@example.org"]
    for _, mail in smtp_server.received:
        [pdf] = list(mail.iter_attachments())
        assert pdf.get_filename() == f"Monatsbericht-{last:%Y-%m}.pdf"
        assert flat(pdf.get_content()).startswith(mail["Subject"])
