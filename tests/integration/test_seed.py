"""seed-demo on SQLite and PostgreSQL: logins, partners, consistent lifecycles and chains, fairness, determinism."""

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.auth import verify_password
from core.cases import DEFAULT_PARTNER_KIND, NewCase, create_case
from core.client_names import name_key
from core.enums import OPEN_STATUSES, CaseStatus, DamageType, PartnerKind, Role
from core.errors import ValidationError
from core.events import verify_chain
from core.lifecycle import TRANSITIONS
from core.permissions import SYSTEM
from core.timeutil import berlin_midnight_utc, to_berlin
from db import seed as seed_module
from db.engine import make_engine, read_only, unit_of_work
from db.migrate import upgrade_to_head
from db.models import (
    Assignment,
    Broker,
    Case,
    CaseEvent,
    Counter,
    Insurer,
    InsurerQuery,
    Partner,
    Person,
    SurveyAnswer,
    User,
)
from db.seed import DEMO_LOGINS, ensure_demo_data, seed_demo
from tests.factories import make_user

TODAY = date(2026, 3, 2)  # the year before spans two calendar years
N = 200
PASSWORD = "demo1234"

# Independent reference checks (not the generator's own helpers).
_VIN_VALUES = dict(zip("0123456789ABCDEFGHJKLMNPRSTUVWXYZ",
                       [*range(10), 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9]))
_VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def vin_is_valid(vin: str) -> bool:
    if len(vin) != 17 or set(vin) - set(_VIN_VALUES):
        return False
    rest = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS)) % 11
    return vin[8] == ("X" if rest == 10 else str(rest))


def iban_is_valid(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def test_reference_checkers_accept_known_good_values():
    assert vin_is_valid("1M8GDM9AXKP042788") and not vin_is_valid("1M8GDM9A1KP042788")
    assert iban_is_valid("DE89370400440532013000") and not iban_is_valid("DE88370400440532013000")


@pytest.fixture
def seeded(engine):
    report = seed_demo(engine, cases=N, seed=3, password=PASSWORD, today=TODAY)
    return engine, report


def _cases(engine) -> list[Case]:
    with read_only(engine) as s:
        return list(s.scalars(select(Case).order_by(Case.id)))


def _events_by_case(engine) -> dict[int, list[CaseEvent]]:
    by_case = defaultdict(list)
    with read_only(engine) as s:
        for ev in s.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
            by_case[ev.case_id].append(ev)
    return by_case


def _fingerprint(engine) -> list[tuple]:
    with read_only(engine) as s:
        return s.execute(
            select(Case.number, Case.status, Case.plate, Case.vin, Case.amount_claimed_cents, Case.amount_paid_cents,
                   Case.received_at, Case.partner_id, Case.last_event_hash).order_by(Case.number)
        ).all()


def test_report_and_counts_of_master_data(seeded):
    engine, report = seeded
    with read_only(engine) as s:
        counts = {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in (User, Partner, Broker, Insurer)}
        cases = s.scalar(select(func.count()).select_from(Case))
        events = s.scalar(select(func.count()).select_from(CaseEvent))
    assert counts == {"User": 11, "Partner": 6, "Broker": 5, "Insurer": 12}
    assert (report.users, report.partners, report.brokers, report.insurers) == (11, 6, 5, 12)
    assert report.cases == cases == N
    assert report.events == events and 6 * N <= events <= 10 * N


def test_demo_logins_have_their_roles_mails_and_the_demo_password(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        users = {u.username: u for u in s.scalars(select(User))}
    assert [(u, users[u].role, users[u].display_name) for u, _, _ in DEMO_LOGINS] == DEMO_LOGINS
    assert [u for u, _, _ in DEMO_LOGINS] == ["admin", "manager", "staff", "lawyer", "broker1", "glas1", "glas2",
                                             "gutachter1", "gutachter2", "werkstatt1", "werkstatt2"]
    assert all(u.email == f"{u.username}@demo.schadenportal.de" for u in users.values())
    assert len({u.password_hash for u in users.values()}) == 11  # each hashed separately (salted)
    assert all(verify_password(u.password_hash, PASSWORD) for u in users.values())


def test_partner_logins_are_linked_to_a_partner_of_their_kind(seeded):
    engine, _ = seeded
    expected = {"glas": PartnerKind.GLASS, "gutachter": PartnerKind.APPRAISER, "werkstatt": PartnerKind.WORKSHOP}
    with read_only(engine) as s:
        logins = s.execute(select(User.username, Partner.kind, Partner.id).join(Partner, User.partner_id == Partner.id)
                           .where(User.role == Role.PARTNER)).all()
        broker1 = s.scalar(select(User).where(User.username == "broker1"))
        first_broker = s.scalar(select(Broker).order_by(Broker.id).limit(1))
    assert len(logins) == 6 and len({pid for _, _, pid in logins}) == 6
    assert all(kind == expected[username.rstrip("12")] for username, kind, _ in logins)
    assert broker1.broker_id == first_broker.id and first_broker.name.startswith("Versicherungsbüro")


def test_partners_of_each_kind_together_serve_every_postal_prefix(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        partners = list(s.scalars(select(Partner)))
    for kind in PartnerKind:
        served = set().union(*(p.regions.split(",") for p in partners if p.kind == kind))
        assert served == {f"{n:02d}" for n in range(1, 100)}, kind
    assert all(20 <= p.weekly_capacity <= 60 and p.street and p.city and len(p.postal_code) == 5 for p in partners)


def test_partner_ibans_have_valid_checksums(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        ibans = s.scalars(select(Partner.iban)).all()
    assert len(ibans) == 6
    assert all(i.startswith("DE") and len(i) == 22 and iban_is_valid(i) for i in ibans)


def test_insurers_have_claims_mail_addresses(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        insurers = dict(s.execute(select(Insurer.name, Insurer.email)).all())
    assert insurers["HUK-COBURG"] == "schaden@huk.example"
    assert all(mail.startswith("schaden@") and mail.endswith(".example") for mail in insurers.values())


def test_every_case_chain_verifies(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        for case in s.scalars(select(Case)):
            report = verify_chain(s, case=case)
            assert report.ok and report.events == case.event_count, case.number


def test_status_equals_the_last_status_event(seeded):
    engine, _ = seeded
    events = _events_by_case(engine)
    for case in _cases(engine):
        changes = [e.details["to"] for e in events[case.id] if e.action == "status_changed"]
        assert case.status == (changes[-1] if changes else CaseStatus.RECEIVED), case.number


def test_status_changes_follow_the_transition_table(seeded):
    engine, _ = seeded
    for case_events in _events_by_case(engine).values():
        changes = [(e.details["from"], e.details["to"]) for e in case_events if e.action == "status_changed"]
        current = CaseStatus.RECEIVED
        for src, dst in changes:
            assert src == current and (CaseStatus(src), CaseStatus(dst)) in TRANSITIONS
            current = dst


def test_events_start_with_creation_and_assignment_in_strictly_increasing_time(seeded):
    engine, _ = seeded
    cases = {c.id: c for c in _cases(engine)}
    for case_id, case_events in _events_by_case(engine).items():
        assert [e.action for e in case_events[:2]] == ["case_created", "partner_assigned"]
        assert case_events[0].at == cases[case_id].received_at
        assert all(a.at < b.at for a, b in zip(case_events, case_events[1:]))
        assert [e.seq for e in case_events] == list(range(1, len(case_events) + 1))


def test_cases_lie_in_the_year_before_today_and_numbers_follow_intake(seeded):
    engine, _ = seeded
    cases = sorted(_cases(engine), key=lambda c: c.received_at)
    start, end = berlin_midnight_utc(TODAY - timedelta(days=365)), berlin_midnight_utc(TODAY)
    assert all(start <= c.received_at < end for c in cases)
    assert all(c.number.startswith(f"SP-{to_berlin(c.received_at).year}-") for c in cases)
    for year in {to_berlin(c.received_at).year for c in cases}:
        numbers = [int(c.number[-6:]) for c in cases if to_berlin(c.received_at).year == year]
        assert numbers == list(range(1, len(numbers) + 1))


def test_counters_let_the_next_intake_continue(seeded):
    engine, _ = seeded
    with unit_of_work(engine) as s:
        counters = dict(s.execute(select(Counter.name, Counter.value)).all())
        last_2026 = s.scalar(select(func.max(Case.number)).where(Case.number.like("SP-2026-%")))
        new = create_case(s, actor=SYSTEM, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Neu", postal_code="10115",
            received_at=berlin_midnight_utc(TODAY) + timedelta(hours=9)))
        new_number, new_id = new.number, new.id
    assert set(counters) == {"case:2025", "case:2026"}
    assert counters["case:2026"] == int(last_2026[-6:])
    assert new_number == f"SP-2026-{counters['case:2026'] + 1:06d}" and new_id == N + 1


def test_timestamps_and_amounts_are_consistent(seeded):
    engine, _ = seeded
    cases = _cases(engine)
    letters = [c for c in cases if c.claim_letter_sent_at is not None]
    for c in letters:
        assert c.received_at < c.review_started_at < c.claim_letter_sent_at
        assert c.throughput_hours == pytest.approx((c.claim_letter_sent_at - c.received_at).total_seconds() / 3600)
        assert c.amount_claimed_cents > 0
    within = sum(c.throughput_hours <= 48 for c in letters) / len(letters)
    assert 0.75 <= within <= 0.95
    for c in cases:
        if c.paid_at is not None:
            assert c.claim_letter_sent_at + timedelta(days=14) <= c.paid_at
            assert 0 < c.amount_paid_cents <= c.amount_claimed_cents
        if c.status == CaseStatus.CLOSED and c.paid_at is not None:
            assert c.paid_at < c.closed_at
        if c.status == CaseStatus.CLOSED and c.paid_at is None:  # refused by the insurer
            assert c.amount_paid_cents == 0 and c.status_reason
        if c.status == CaseStatus.CANCELLED:
            assert c.cancelled_at is not None and c.status_reason


def test_older_cases_are_mostly_closed_and_recent_ones_open(seeded):
    engine, _ = seeded
    cases = _cases(engine)
    cutoff = berlin_midnight_utc(TODAY - timedelta(days=120))
    old = [c for c in cases if c.received_at < cutoff]
    statuses = {c.status for c in cases if c.received_at >= cutoff}
    assert sum(c.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED) for c in old) == len(old)
    assert {CaseStatus.CLAIM_SENT, CaseStatus.CLOSED} <= statuses


def test_damage_types_map_to_partner_kinds_and_partners_serve_the_postal_prefix(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        partners = {p.id: p for p in s.scalars(select(Partner))}
    for c in _cases(engine):
        partner = partners[c.partner_id]
        assert c.partner_kind == DEFAULT_PARTNER_KIND[c.damage_type] == partner.kind
        assert c.postal_code[:2] in partner.regions.split(","), c.number


def test_assignments_pick_the_partner_with_fewest_orders_that_week(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        rows = list(s.scalars(select(Assignment).order_by(Assignment.id)))  # the order cases came in
        partner_of = dict(s.execute(select(Case.id, Case.partner_id)).all())
    seen: dict[tuple[int, str], int] = defaultdict(int)
    assert len(rows) == N and {a.case_id for a in rows} == set(partner_of)
    for a in rows:
        assert a.origin == "auto" and a.reason and a.partner_id == partner_of[a.case_id]
        assert all(c["count"] == seen[(c["partner_id"], a.iso_week)] for c in a.candidates)
        chosen = next(c for c in a.candidates if c["partner_id"] == a.partner_id)
        assert chosen["count"] == min(c["count"] for c in a.candidates)
        seen[(a.partner_id, a.iso_week)] += 1


def test_vins_have_valid_check_digits_and_plates_look_german(seeded):
    engine, _ = seeded
    cases = _cases(engine)
    assert all(vin_is_valid(c.vin) and not set("IOQ") & set(c.vin) for c in cases)
    assert all("-" in c.plate and " " in c.plate for c in cases)


def test_queries_callbacks_and_surveys_belong_to_fitting_cases(seeded):
    engine, _ = seeded
    cases = {c.id: c for c in _cases(engine)}
    with read_only(engine) as s:
        queries = list(s.scalars(select(InsurerQuery)))
        surveys = list(s.scalars(select(SurveyAnswer)))
    assert queries and surveys
    latest = {}
    for q in sorted(queries, key=lambda q: q.received_at):
        assert cases[q.case_id].claim_letter_sent_at < q.received_at
        assert q.answered_at is None or q.received_at < q.answered_at
        latest[q.case_id] = q
    open_ones = {cid: q for cid, q in latest.items() if cases[cid].status in OPEN_STATUSES}
    assert all((q.answered_at is None) == (cases[cid].status == CaseStatus.INSURER_QUERY)
               for cid, q in open_ones.items())
    for a in surveys:
        assert cases[a.case_id].status == CaseStatus.CLOSED and cases[a.case_id].amount_paid_cents > 0
        assert 0 <= a.score <= 10 and a.answered_at > cases[a.case_id].closed_at


def test_seeding_twice_is_refused_and_adds_nothing(seeded):
    engine, _ = seeded
    before = _fingerprint(engine)
    with pytest.raises(ValidationError, match="enthält bereits Fälle"):
        seed_demo(engine, cases=5, seed=99, password=PASSWORD, today=TODAY)
    with read_only(engine) as s:
        users = s.scalar(select(func.count()).select_from(User))
    assert _fingerprint(engine) == before and users == 11


def test_existing_demo_login_is_refused_and_nothing_is_written(engine):
    make_user(engine, "admin", Role.ADMIN)
    with pytest.raises(ValidationError, match="Demo-Logins"):
        seed_demo(engine, cases=5, seed=1, password=PASSWORD, today=TODAY)
    with read_only(engine) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(Partner)) == 0


def test_ensure_demo_data_seeds_only_a_blank_database(engine):
    first = ensure_demo_data(engine, password=PASSWORD, cases=5)
    second = ensure_demo_data(engine, password=PASSWORD, cases=5)
    with read_only(engine) as s:
        cases = s.scalar(select(func.count()).select_from(Case))
    assert first is not None and first.cases == 5 and second is None and cases == 5


def test_same_seed_gives_the_same_data(seeded, tmp_path):
    engine, _ = seeded
    other = make_engine(f"sqlite:///{tmp_path / 'second.db'}")
    upgrade_to_head(other)
    try:
        seed_demo(other, cases=N, seed=3, password=PASSWORD, today=TODAY)
        assert _fingerprint(other) == _fingerprint(engine)
    finally:
        other.dispose()


def test_worker_processes_give_the_same_data_as_one_process(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(seed_module, "CHUNK", 40)  # five chunks, built by two forked workers
    contexts = []
    real_get_context = seed_module.multiprocessing.get_context
    monkeypatch.setattr(seed_module.multiprocessing, "get_context",
                        lambda method: contexts.append(method) or real_get_context(method))
    seed_demo(engine, cases=N, seed=3, password=PASSWORD, today=TODAY, workers=2)
    other = make_engine(f"sqlite:///{tmp_path / 'single.db'}")
    upgrade_to_head(other)
    try:
        seed_demo(other, cases=N, seed=3, password=PASSWORD, today=TODAY, workers=1)
        assert contexts == ["fork"]
        assert _fingerprint(other) == _fingerprint(engine)
    finally:
        other.dispose()


def test_another_seed_gives_other_data(engine, tmp_path):
    seed_demo(engine, cases=20, seed=1, password=PASSWORD, today=TODAY)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade_to_head(other)
    try:
        seed_demo(other, cases=20, seed=2, password=PASSWORD, today=TODAY)
        assert _fingerprint(other) != _fingerprint(engine)
    finally:
        other.dispose()


def test_cases_carry_their_clients_name_key(seeded):
    engine, _ = seeded
    with read_only(engine) as s:
        rows = s.execute(select(Case.client_name_key, Person.last_name).join(Person, Case.client_id == Person.id)).all()
    assert rows and all(key == name_key(last) for key, last in rows)


def test_the_seed_leaves_planner_statistics_of_the_kpi_tables(seeded):
    """The KPI queries pick their index by these statistics (core.planner_stats): a seeded database has them."""
    engine, _ = seeded
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            tables = {r[0] for r in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
        else:
            tables = {r[0] for r in conn.exec_driver_sql("SELECT relname FROM pg_stat_user_tables "
                                                         "WHERE last_analyze IS NOT NULL")}
    assert {"kpi_case_facts", "kpi_query_facts", "kpi_buckets", "kpi_cells", "cases"} <= tables
