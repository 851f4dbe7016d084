"""The case board on SQLite and PostgreSQL: filters, search, keyset paging, status counts, export, access."""

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import event, select

from core import board, board_search, cases
from core.board import BoardFilter, Cursor
from core.enums import CaseStatus as S
from core.enums import DamageType, Role
from core.errors import PermissionDenied
from core.lifecycle import DeadlineState
from core.permissions import Actor
from core.timeutil import format_dt, now, to_berlin
from db.engine import read_only, unit_of_work
from db.models import AccessLog, Case
from reports.tabular import to_csv, to_xlsx
from tests.factories import make_broker, make_case, make_partner, make_user

STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)
MANAGER = Actor(user_id=None, username="boss", display_name="Bea Boss", role=Role.MANAGER)


def add_case(engine, *, partner_id=None, **data) -> str:
    """A case through the intake service; `data` overrides NewCase fields."""
    fields = dict(
        damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Muster",
        client_first_name="Erika", postal_code="10115", plate="B-AB 1234",
    )
    with unit_of_work(engine) as s:
        case = cases.create_case(s, actor=STAFF, data=cases.NewCase(**(fields | data)))
        case.partner_id = partner_id
        return case.number


def move(engine, number, *targets, **kw):
    for to in targets:
        with unit_of_work(engine) as s:
            cases.change_status(s, actor=STAFF, number=number, to=to, **kw)


def shown(engine, filters=BoardFilter(), actor=STAFF, **kw) -> list[str]:
    with read_only(engine) as s:
        return [r.number for r in board.list_board(s, actor=actor, filters=filters, **kw).rows]


def walk(engine, filters=BoardFilter(), page_size=5) -> list[str]:
    """Every page from the first to the last, following next_cursor through its string token."""
    numbers, token = [], None
    while True:
        with read_only(engine) as s:
            after = Cursor.from_token(token) if token else None
            page = board.list_board(s, actor=STAFF, filters=filters, after=after, page_size=page_size)
        assert len(page.rows) <= page_size
        numbers += [r.number for r in page.rows]
        if page.next_cursor is None:
            return numbers
        token = page.next_cursor.to_token()


def board_order(engine, numbers=None) -> list[str]:
    """The case numbers as the board must list them: received_at descending, then id descending."""
    with read_only(engine) as s:
        rows = s.execute(select(Case.number, Case.received_at, Case.id)).all()
    rows = [r for r in rows if numbers is None or r.number in numbers]
    return [r.number for r in sorted(rows, key=lambda r: (r.received_at, r.id), reverse=True)]


# --- listing and filters ------------------------------------------------------------------------


def test_board_lists_newest_first_with_partner_clerk_and_deadline(engine):
    partner = make_partner(engine, "Autoglas Nord")
    clerk = make_user(engine, "sabine", Role.STAFF)
    old = add_case(engine, received_at=now() - timedelta(days=3))
    new = add_case(engine, partner_id=partner, clerk_id=clerk, client_last_name="Neumann")
    with read_only(engine) as s:
        rows = board.list_board(s, actor=STAFF, filters=BoardFilter()).rows
    assert [r.number for r in rows] == [new, old]
    assert (rows[0].partner, rows[0].clerk, rows[0].client) == ("Autoglas Nord", "Sabine", "Erika Neumann")
    assert (rows[1].partner, rows[1].clerk) == ("", "")
    assert (rows[0].deadline, rows[1].deadline) == (DeadlineState.OK, DeadlineState.OVERDUE)


def test_status_filter_shows_only_those_statuses(engine):
    received, review, sent = add_case(engine), add_case(engine), add_case(engine)
    move(engine, review, S.REVIEW)
    move(engine, sent, S.REVIEW, S.CLAIM_SENT)
    assert shown(engine, BoardFilter(statuses=(S.REVIEW,))) == [review]
    assert shown(engine, BoardFilter(statuses=(S.RECEIVED, S.CLAIM_SENT))) == [sent, received]
    assert shown(engine, BoardFilter(statuses=(S.PAID,))) == []


def test_damage_type_filter(engine):
    glass = add_case(engine)
    accident = add_case(engine, damage_type=DamageType.ACCIDENT)
    assert shown(engine, BoardFilter(damage_type=DamageType.ACCIDENT)) == [accident]
    assert shown(engine, BoardFilter(damage_type=DamageType.GLASS)) == [glass]


def test_insurer_filter(engine):
    huk = add_case(engine)
    allianz = add_case(engine, insurer_name="Allianz")
    with read_only(engine) as s:
        ids = {name: ident for ident, name in board.board_choices(s, actor=STAFF).insurers}
    assert shown(engine, BoardFilter(insurer_id=ids["Allianz"])) == [allianz]
    assert shown(engine, BoardFilter(insurer_id=ids["HUK-COBURG"])) == [huk]


def test_partner_filter(engine):
    nord, sued = make_partner(engine, "Nord"), make_partner(engine, "Süd")
    at_nord = add_case(engine, partner_id=nord)
    add_case(engine, partner_id=sued)
    add_case(engine)
    assert shown(engine, BoardFilter(partner_id=nord)) == [at_nord]


def test_clerk_filter(engine):
    anna, bert = make_user(engine, "anna", Role.STAFF), make_user(engine, "bert", Role.LAWYER)
    annas = add_case(engine, clerk_id=anna)
    add_case(engine, clerk_id=bert)
    assert shown(engine, BoardFilter(clerk_id=anna)) == [annas]


def test_filters_combine(engine):
    partner = make_partner(engine)
    match = add_case(engine, partner_id=partner, damage_type=DamageType.ACCIDENT)
    add_case(engine, partner_id=partner)
    other = add_case(engine, partner_id=partner, damage_type=DamageType.ACCIDENT)
    move(engine, other, S.REVIEW)
    filters = BoardFilter(partner_id=partner, damage_type=DamageType.ACCIDENT, statuses=(S.RECEIVED,))
    assert shown(engine, filters) == [match]


# --- text search --------------------------------------------------------------------------------


def test_search_by_case_number_prefix_ignores_case(engine):
    numbers = [add_case(engine) for _ in range(12)]
    prefix = numbers[-1][:-1]  # e.g. SP-2026-00001 -> ...010, ...011, ...012
    expected = [n for n in reversed(numbers) if n.startswith(prefix)]
    assert len(expected) == 3
    assert shown(engine, BoardFilter(text=prefix.lower())) == expected
    assert shown(engine, BoardFilter(text=numbers[0])) == [numbers[0]]


def test_search_by_plate_is_normalised(engine):
    munich = add_case(engine, plate="M-XY 77E")
    add_case(engine, plate="B-AB 1234")
    assert shown(engine, BoardFilter(text="m xy 77e")) == [munich]
    assert shown(engine, BoardFilter(text="M XY")) == [munich]
    assert shown(engine, BoardFilter(text="m-xy7")) == [munich]


def test_search_by_last_name_prefix_is_case_insensitive(engine):
    mueller = add_case(engine, client_last_name="Müller")
    oezdemir = add_case(engine, client_last_name="Özdemir")
    add_case(engine, client_last_name="Schmidt")
    assert shown(engine, BoardFilter(text="müll")) == [mueller]
    assert shown(engine, BoardFilter(text="MÜLLER")) == [mueller]
    assert shown(engine, BoardFilter(text="özd")) == [oezdemir]
    assert shown(engine, BoardFilter(text="ÖZDEMIR")) == [oezdemir]
    assert shown(engine, BoardFilter(text="ller")) == []  # a prefix, not a substring


def test_search_without_a_digit_finds_only_a_whole_case_number(engine):
    numbers = [add_case(engine, client_last_name="Albers") for _ in range(2)]
    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == numbers[0])).number = "AKTE-X"  # a legacy number kept on import
    assert shown(engine, BoardFilter(text="sp")) == []  # not every case
    assert shown(engine, BoardFilter(text="akte-x")) == ["AKTE-X"]
    assert shown(engine, BoardFilter(text="akte")) == []
    assert shown(engine, BoardFilter(text="sp-2")) == [numbers[1]]


def test_search_treats_like_wildcards_as_text(engine):
    add_case(engine, client_last_name="Muster")
    literal = add_case(engine, client_last_name="M_ster")
    assert shown(engine, BoardFilter(text="m_")) == [literal]
    assert shown(engine, BoardFilter(text="%")) == []


def test_search_combines_with_other_filters(engine):
    accident = add_case(engine, client_last_name="Muster", damage_type=DamageType.ACCIDENT)
    add_case(engine, client_last_name="Muster")
    assert shown(engine, BoardFilter(text="muster", damage_type=DamageType.ACCIDENT)) == [accident]


def counts(engine, filters) -> dict:
    with read_only(engine) as s:
        return board.status_counts(s, actor=STAFF, filters=filters)


def test_case_found_by_plate_and_by_name_is_listed_and_counted_once(engine):
    both = add_case(engine, client_last_name="Möller", plate="MÖL-AB 12")
    by_name = add_case(engine, client_last_name="Mölders", plate="B-AB 1")
    by_plate = add_case(engine, client_last_name="Albers", plate="MÖL-CD 3")
    add_case(engine, client_last_name="Albers", plate="B-CD 4")
    move(engine, both, S.REVIEW)
    assert shown(engine, BoardFilter(text="möl")) == [by_plate, by_name, both]
    assert counts(engine, BoardFilter(text="möl"))[S.RECEIVED] == 2
    assert counts(engine, BoardFilter(text="möl"))[S.REVIEW] == 1


def test_a_very_common_name_prefix_walks_the_page_order_with_the_same_result(engine, monkeypatch):
    base = now() - timedelta(hours=30)
    for i in range(15):
        make_case(engine, received_at=base + timedelta(hours=i % 4), last_name=("Maier", "Meyer", "Albers")[i % 3])
    plate_hit = add_case(engine, client_last_name="Albers", plate="MA-AB 1")
    move(engine, plate_hit, S.REVIEW)
    filters = [BoardFilter(text="m"), BoardFilter(text="ma", statuses=(S.RECEIVED, S.REVIEW)),
               BoardFilter(text="me", statuses=(S.RECEIVED,)), BoardFilter(text="ma", damage_type=DamageType.GLASS)]
    sorted_hits = [(walk(engine, f, page_size=4), counts(engine, f)) for f in filters]
    monkeypatch.setattr(board_search, "NAME_DENSE", 2)
    assert [(walk(engine, f, page_size=4), counts(engine, f)) for f in filters] == sorted_hits
    assert len(sorted_hits[0][0]) == 10 and plate_hit not in sorted_hits[0][0]  # one letter is not a district
    assert len(sorted_hits[1][0]) == 6 and plate_hit in sorted_hits[1][0]
    assert sorted_hits[1][0] == board_order(engine, set(sorted_hits[1][0]))


# --- keyset paging ------------------------------------------------------------------------------


def test_keyset_paging_walks_every_case_once_in_order_despite_equal_times(engine):
    base = now() - timedelta(hours=5)
    for i in range(23):
        make_case(engine, received_at=base + timedelta(hours=i % 3))  # only three distinct times
    walked = walk(engine, page_size=5)
    assert len(walked) == len(set(walked)) == 23
    assert walked == board_order(engine)


def test_keyset_paging_over_several_statuses(engine):
    base = now() - timedelta(hours=3)
    numbers = [make_case(engine, received_at=base + timedelta(hours=i % 2)) for i in range(14)]
    for number in numbers[::2]:
        move(engine, number, S.REVIEW)
    move(engine, numbers[1], S.CANCELLED, reason="Doppelt erfasst")
    wanted = [n for n in numbers if n != numbers[1]]
    walked = walk(engine, BoardFilter(statuses=(S.RECEIVED, S.REVIEW)), page_size=4)
    assert walked == board_order(engine, set(wanted))


def test_last_page_has_no_next_cursor(engine):
    for _ in range(4):
        make_case(engine)
    with read_only(engine) as s:
        full = board.list_board(s, actor=STAFF, filters=BoardFilter(), page_size=4)
        first = board.list_board(s, actor=STAFF, filters=BoardFilter(), page_size=3)
    assert (len(full.rows), full.next_cursor) == (4, None)
    assert len(first.rows) == 3 and first.next_cursor is not None


def test_cursor_token_round_trips():
    cursor = Cursor(now(), 123456)
    token = cursor.to_token()
    assert Cursor.from_token(token) == cursor and len(token) < 25
    with pytest.raises(ValueError):
        Cursor.from_token("not-a-cursor")


# --- status counts ------------------------------------------------------------------------------


def test_status_counts_ignore_the_status_filter_but_keep_the_others(engine):
    a, b, _ = add_case(engine), add_case(engine), add_case(engine, damage_type=DamageType.ACCIDENT)
    move(engine, a, S.REVIEW)
    move(engine, b, S.REVIEW, S.CLAIM_SENT)
    with read_only(engine) as s:
        everything = board.status_counts(s, actor=STAFF, filters=BoardFilter())
        review_only = board.status_counts(s, actor=STAFF, filters=BoardFilter(statuses=(S.REVIEW,)))
        glass = board.status_counts(s, actor=STAFF, filters=BoardFilter(damage_type=DamageType.GLASS))
    assert everything == review_only
    assert list(everything) == list(S)
    assert [everything[s] for s in (S.RECEIVED, S.REVIEW, S.CLAIM_SENT, S.PAID)] == [1, 1, 1, 0]
    assert (glass[S.RECEIVED], glass[S.REVIEW], glass[S.CLAIM_SENT]) == (0, 1, 1)


def test_a_search_counts_each_status_only_up_to_the_cap_and_says_so(engine, monkeypatch):
    """COUNT_CAP per status and arm: a status with more hits shows the cap and is named in `capped`; the totals
    say "at least"; under the cap the counts are exact, name and plate hits added once."""
    monkeypatch.setattr(board_search, "COUNT_CAP", 3)
    names = [add_case(engine, client_last_name=f"Schulz{i}") for i in range(5)]
    move(engine, names[0], S.REVIEW)
    by_plate = add_case(engine, client_last_name="Albers", plate="SCH-AB 1")
    move(engine, by_plate, S.REVIEW)
    add_case(engine, client_last_name="Albers")
    with read_only(engine) as s:
        got = board.status_counts(s, actor=STAFF, filters=BoardFilter(text="schu"))
        plates = board.status_counts(s, actor=STAFF, filters=BoardFilter(text="sch"))
        exact = board.status_counts(s, actor=STAFF, filters=BoardFilter(text="schulz0"))
    assert (got[S.RECEIVED], got[S.REVIEW], got.capped) == (3, 1, frozenset({S.RECEIVED}))  # 4 received
    assert got.total() == (4, True) and got.total((S.REVIEW,)) == (1, False)
    assert (plates[S.RECEIVED], plates[S.REVIEW], plates.capped) == (3, 2, frozenset({S.RECEIVED}))
    assert (exact[S.REVIEW], exact.total(), exact.capped) == (1, (1, False), frozenset())


def test_stored_counts_equal_counting_the_cases_for_each_single_filter(engine):
    """No filter or one of damage type, insurer, partner, clerk: the counts come from case_counts (kept by the
    KPI store's commit hook); they equal a GROUP BY over the cases after intake, moves, reassignment, cancel."""
    p1, p2 = make_partner(engine, name="Glas Eins"), make_partner(engine, name="Glas Zwei")
    a, b = add_case(engine, partner_id=p1), add_case(engine, partner_id=p1)
    c = add_case(engine, damage_type=DamageType.ACCIDENT, insurer_name="Allianz")
    move(engine, a, S.REVIEW, S.CLAIM_SENT)
    move(engine, c, S.CANCELLED, reason="Doppelt erfasst")
    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == b)).partner_id = p2
    with read_only(engine) as s:
        rows = s.execute(select(Case.damage_type, Case.insurer_id, Case.partner_id, Case.clerk_id, Case.status)).all()
        filters = [BoardFilter(), *(BoardFilter(damage_type=d) for d in DamageType),
                   *(BoardFilter(insurer_id=r.insurer_id) for r in rows),
                   *(BoardFilter(partner_id=p) for p in (p1, p2)),
                   *(BoardFilter(clerk_id=r.clerk_id) for r in rows if r.clerk_id is not None)]
        for f in filters:
            stored = board._stored_counts(s, f)
            assert stored is not None
            expected = {status: sum(1 for r in rows if r.status == status and all(
                getattr(f, k) is None or getattr(f, k) == getattr(r, k)
                for k in ("damage_type", "insurer_id", "partner_id", "clerk_id"))) for status in S}
            assert stored == expected, f
        assert board._stored_counts(s, BoardFilter(damage_type=DamageType.GLASS, partner_id=p1)) is None
        assert board._stored_counts(s, BoardFilter(text="Muster")) is None
        assert sum(board.status_counts(s, actor=STAFF, filters=BoardFilter()).values()) == 3


# --- deadlines ----------------------------------------------------------------------------------


def test_deadline_filters_keep_waiting_cases_by_age(engine):
    at = now()
    fresh = add_case(engine, received_at=at - timedelta(hours=10))
    flagged = add_case(engine, received_at=at - timedelta(hours=40))
    overdue = add_case(engine, received_at=at - timedelta(hours=50))
    overdue_in_review = add_case(engine, received_at=at - timedelta(hours=60))
    letter_sent = add_case(engine, received_at=at - timedelta(hours=70))
    move(engine, overdue_in_review, S.REVIEW)
    move(engine, letter_sent, S.REVIEW, S.CLAIM_SENT)
    assert shown(engine, BoardFilter(deadline="overdue")) == [overdue, overdue_in_review]
    assert shown(engine, BoardFilter(deadline="flagged")) == [flagged, overdue, overdue_in_review]
    assert shown(engine, BoardFilter(deadline="flagged", statuses=(S.REVIEW, S.CLAIM_SENT))) == [overdue_in_review]
    with read_only(engine) as s:
        lights = {r.number: r.deadline for r in board.list_board(s, actor=STAFF, filters=BoardFilter()).rows}
        counts = board.status_counts(s, actor=STAFF, filters=BoardFilter(deadline="overdue"))
    assert lights[fresh] == DeadlineState.OK and lights[flagged] == DeadlineState.FLAGGED
    assert lights[overdue] == DeadlineState.OVERDUE and lights[letter_sent] == DeadlineState.NONE
    assert (counts[S.RECEIVED], counts[S.REVIEW], counts[S.CLAIM_SENT]) == (1, 1, 0)


def test_unknown_deadline_filter_is_refused():
    with pytest.raises(ValueError):
        BoardFilter(deadline="soon")


# --- export -------------------------------------------------------------------------------------


def test_export_respects_filters_with_german_headers_and_formats(engine):
    received = now() - timedelta(days=2)
    paid = add_case(engine, amount_claimed_cents=123456, received_at=received)
    add_case(engine, damage_type=DamageType.ACCIDENT)
    move(engine, paid, S.REVIEW, S.CLAIM_SENT)
    move(engine, paid, S.PAID, amount_paid_cents=100000)
    with unit_of_work(engine) as s:
        rows, truncated = board.export_board(s, actor=STAFF, filters=BoardFilter(damage_type=DamageType.GLASS))
    assert truncated is False
    assert [r["Fallnummer"] for r in rows] == [paid]
    row = rows[0]
    assert (row["Status"], row["Schadenart"]) == ("Zahlung eingegangen", "Glasschaden")
    assert (row["Mandant/in"], row["Kennzeichen"], row["Versicherung"]) == ("Erika Muster", "B-AB 1234", "HUK-COBURG")
    assert (row["Forderung"], row["Gezahlt"]) == ("1.234,56 €", "1.000,00 €")
    assert row["Eingang"] == format_dt(received) and to_berlin(received).strftime("%d.%m.%Y") in row["Eingang"]
    assert row["Zahlungseingang"] != "" and row["Abgeschlossen"] == ""


def test_export_neutralises_formula_names_in_csv_and_xlsx(engine):
    add_case(engine, client_last_name='=HYPERLINK("http://evil.example","Klick")', client_first_name="")
    with unit_of_work(engine) as s:
        rows, _ = board.export_board(s, actor=STAFF, filters=BoardFilter())
    csv_text = to_csv(rows).decode("utf-8-sig")
    assert ';"\'=HYPERLINK(""http://evil.example"",""Klick"")";' in csv_text
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(rows))).active
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("Mandant/in") + 1)
    assert cell.value.startswith("'=HYPERLINK(") and cell.data_type == "s"


def test_export_is_logged_without_the_search_text(engine):
    add_case(engine, client_last_name="Geheimname")
    with unit_of_work(engine) as s:
        rows, _ = board.export_board(s, actor=MANAGER, filters=BoardFilter(text="geheim", statuses=(S.RECEIVED,)))
    with read_only(engine) as s:
        log = s.execute(select(AccessLog).where(AccessLog.action == "export")).scalars().all()
    assert len(rows) == 1 and len(log) == 1
    assert (log[0].object_type, log[0].username, log[0].role) == ("board", "boss", "manager")
    assert "status=received" in log[0].detail and "rows=1" in log[0].detail
    assert "geheim" not in log[0].detail.lower()


def test_export_stops_at_the_limit_and_says_so(engine):
    for _ in range(3):
        make_case(engine)
    with unit_of_work(engine) as s:
        rows, truncated = board.export_board(s, actor=STAFF, filters=BoardFilter(), limit=2)
    assert len(rows) == 2 and truncated is True
    assert [r["Fallnummer"] for r in rows] == board_order(engine)[:2]


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BROKER, Role.CLIENT])
def test_partner_broker_and_client_are_refused(engine, role):
    partner, broker = make_partner(engine), make_broker(engine)
    make_case(engine, partner_id=partner, broker_id=broker)
    actor = Actor(user_id=None, username="x", display_name="x", role=role, partner_id=partner, broker_id=broker)
    with read_only(engine) as s:
        for call in (board.list_board, board.status_counts, board.export_board):
            with pytest.raises(PermissionDenied):
                call(s, actor=actor, filters=BoardFilter())
        with pytest.raises(PermissionDenied):
            board.board_choices(s, actor=actor)


def test_board_choices_list_insurers_partners_and_case_workers(engine):
    make_partner(engine, "Zeta Glas")
    make_partner(engine, "Alpha Glas")
    add_case(engine, insurer_name="Allianz")
    make_user(engine, "sabine", Role.STAFF)
    make_user(engine, "jura", Role.LAWYER)
    make_user(engine, "glas", Role.PARTNER, partner_id=make_partner(engine, "Mitte"))
    with read_only(engine) as s:
        choices = board.board_choices(s, actor=MANAGER)
    assert [name for _, name in choices.insurers] == ["Allianz"]
    assert [name for _, name in choices.partners] == ["Alpha Glas", "Mitte", "Zeta Glas"]
    assert [name for _, name in choices.clerks] == ["Jura", "Sabine"]


# --- query plans (SQLite) -----------------------------------------------------------------------


def plans(engine, filters, after=None) -> list[list[str]]:
    """EXPLAIN QUERY PLAN of every statement list_board runs."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with read_only(engine) as s:
            board.list_board(s, actor=STAFF, filters=filters, after=after)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        return [
            [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            for sql, params in statements
            if sql.lstrip().upper().startswith("SELECT")
        ]


@pytest.mark.parametrize(
    "filters",
    [BoardFilter(), BoardFilter(statuses=(S.REVIEW,)), BoardFilter(clerk_id=1), BoardFilter(insurer_id=1),
     BoardFilter(damage_type=DamageType.ACCIDENT), BoardFilter(partner_id=1)],
    ids=["unfiltered", "status", "clerk", "insurer", "damage_type", "partner"],
)
def test_page_queries_read_an_index_in_page_order(engine, filters):
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    make_case(engine)
    for after in (None, Cursor(now(), 10**9)):  # first page and a later one
        steps = [line for plan in plans(engine, filters, after) for line in plan]
        assert steps, "no query ran"
        assert not [line for line in steps if "TEMP B-TREE FOR ORDER BY" in line], steps
        assert not [line for line in steps if line.startswith("SCAN cases") and "INDEX" not in line], steps
        assert any("INDEX ix_cases_" in line for line in steps), steps


@pytest.mark.parametrize(
    "filters",
    [BoardFilter(statuses=(S.RECEIVED, S.REVIEW)), BoardFilter(deadline="overdue"), BoardFilter(text="müll"),
     BoardFilter(text="müll", partner_id=1, statuses=(S.CLOSED,))],
    ids=["two_statuses", "deadline", "text", "text_in_a_partners_tab"],
)
def test_other_board_queries_never_scan_the_cases_table(engine, filters):
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    make_case(engine)
    for after in (None, Cursor(now(), 10**9)):
        steps = [line for plan in plans(engine, filters, after) for line in plan]
        assert not [line for line in steps if line.startswith("SCAN cases") and "INDEX" not in line], steps
        assert not [line for line in steps if line.startswith("SCAN persons")], steps


def test_name_search_and_its_counts_read_the_name_index_without_the_table(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    make_case(engine, last_name="Müller")
    filters = BoardFilter(text="müll", partner_id=1, statuses=(S.CLOSED,))
    steps = [line for plan in plans(engine, filters) for line in plan]
    assert any("COVERING INDEX ix_cases_status_client_name" in line for line in steps), steps
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    with read_only(engine) as s:
        board.status_counts(s, actor=STAFF, filters=filters)
    event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        counted = [row[-1] for sql, params in statements if "count(" in sql
                   for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    assert any("COVERING INDEX ix_cases_status_client_name" in line for line in counted), counted
