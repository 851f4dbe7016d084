"""The access-log viewer (§10): filters, keyset pages newest first, exports with neutralised cells; reading and
exporting the log are logged too."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core import access_log
from core.access_log import AccessLogFilter, export_access_log, list_access_log
from core.audit import log_access
from core.cases import open_case
from core.documents import download_document, upload_document
from core.enums import DocumentKind, Role
from core.errors import PermissionDenied, ValidationError
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import AccessLog
from reports.tabular import to_csv, to_xlsx
from tests.factories import make_case, make_user
from tests.unit.test_upload_validation import make_pdf

ADMIN = Actor(user_id=None, username="auditor", display_name="Auditor", role=Role.ADMIN, ip="10.1.1.1")
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def add_rows(engine, rows: list[dict]) -> None:
    with unit_of_work(engine) as s:
        for row in rows:
            s.add(AccessLog(**{"username": "staff", "role": "staff", "action": "view", "object_type": "case",
                               "object_ref": "SP-2026-000001", "ip": "", "detail": ""} | row))


def page(engine, filters: AccessLogFilter | None = None, **kw):
    with unit_of_work(engine) as s:
        return list_access_log(s, actor=ADMIN, filters=filters or AccessLogFilter(), **kw)


def viewer_entries(engine) -> list[tuple[str, str]]:
    with unit_of_work(engine) as s:
        return [tuple(r) for r in s.execute(select(AccessLog.action, AccessLog.detail)
                                            .where(AccessLog.object_type == "access_log").order_by(AccessLog.id))]


def test_pages_walk_the_whole_log_newest_first_without_gaps(engine):
    add_rows(engine, [{"at": T0 + timedelta(minutes=i % 4), "detail": str(i)} for i in range(11)])  # equal times
    seen, after = [], None
    while True:
        result = page(engine, page_size=3, after=after)
        seen += result.rows
        if result.next_cursor is None:
            break
        after = result.next_cursor
    assert len(seen) == 11 and len({r.id for r in seen}) == 11
    assert [(r.at, r.id) for r in seen] == sorted(((r.at, r.id) for r in seen), reverse=True)


def test_a_page_holds_at_most_page_size_rows(engine):
    add_rows(engine, [{"at": T0 + timedelta(seconds=i)} for i in range(7)])
    first = page(engine, page_size=5)
    assert len(first.rows) == 5 and first.next_cursor is not None
    assert len(page(engine, page_size=5, after=first.next_cursor).rows) == 2


def test_period_is_berlin_days_with_the_end_day_included(engine):
    add_rows(engine, [
        {"at": datetime(2026, 11, 1, 22, 59, tzinfo=UTC), "detail": "sunday late"},  # 23:59 Berlin, 1 Nov
        {"at": datetime(2026, 11, 1, 23, 0, tzinfo=UTC), "detail": "monday midnight"},  # 00:00 Berlin, 2 Nov
        {"at": datetime(2026, 11, 3, 22, 59, tzinfo=UTC), "detail": "tuesday late"},
        {"at": datetime(2026, 11, 3, 23, 0, tzinfo=UTC), "detail": "wednesday"},
    ])
    rows = page(engine, AccessLogFilter(date_from=date(2026, 11, 2), date_to=date(2026, 11, 3))).rows
    assert [r.detail for r in rows] == ["tuesday late", "monday midnight"]


def test_end_before_start_is_refused():
    with pytest.raises(ValidationError):
        AccessLogFilter(date_from=date(2026, 11, 3), date_to=date(2026, 11, 2))


@pytest.mark.parametrize(("filters", "expected"), [
    (AccessLogFilter(username="Lawyer"), ["2"]),
    (AccessLogFilter(action="download"), ["3"]),
    (AccessLogFilter(object_type="board"), ["4"]),
    (AccessLogFilter(object_ref="SP-2026-000009"), ["2"]),
    (AccessLogFilter(username="staff", action="view"), ["1"]),
])
def test_filters_narrow_the_rows(engine, filters, expected):
    add_rows(engine, [
        {"at": T0, "detail": "1"},
        {"at": T0 + timedelta(seconds=1), "username": "lawyer", "object_ref": "SP-2026-000009", "detail": "2"},
        {"at": T0 + timedelta(seconds=2), "action": "download", "object_type": "document", "object_ref": "7",
         "detail": "3"},
        {"at": T0 + timedelta(seconds=3), "action": "export", "object_type": "board", "object_ref": "", "detail": "4"},
    ])
    assert [r.detail for r in page(engine, filters).rows] == expected


def test_a_case_number_finds_its_views_and_its_document_downloads(engine, settings):
    staff_id = make_user(engine, "clerk_al", Role.STAFF)
    clerk = Actor(user_id=staff_id, username="clerk_al", display_name="Clerk", role=Role.STAFF, ip="192.0.2.7")
    mine, other = make_case(engine, last_name="Gesucht"), make_case(engine, last_name="Anders")
    with unit_of_work(engine) as s:
        versions = [upload_document(s, actor=clerk, settings=settings, case_number=n, kind=DocumentKind.INVOICE,
                                    filename="r.pdf", data=make_pdf(n)).id for n in (mine, other)]
    with unit_of_work(engine) as s:
        assert open_case(s, actor=clerk, number=mine.lower()) is not None
        assert download_document(s, actor=clerk, settings=settings, version_id=versions[0]) is not None
        assert download_document(s, actor=clerk, settings=settings, version_id=versions[1]) is not None
        open_case(s, actor=clerk, number=other)
        # another object with the same numeric reference as the document version is not a match
        log_access(s, actor=clerk, action="view", object_type="settlement", object_ref=str(versions[0]))
    rows = page(engine, AccessLogFilter(object_ref=mine.lower())).rows
    assert [(r.action, r.object_type, r.object_ref) for r in rows] == [
        ("download", "document", str(versions[0])), ("view", "case", mine)]
    assert {(r.username, r.ip) for r in rows} == {("clerk_al", "192.0.2.7")}


def test_refused_case_views_are_found_by_the_number_asked_for(engine):
    broker = Actor(user_id=None, username="nosy", display_name="N", role=Role.BROKER, broker_id=99)
    number = make_case(engine)
    with unit_of_work(engine) as s:
        assert open_case(s, actor=broker, number=number) is None
    rows = page(engine, AccessLogFilter(object_ref=number, action="refused")).rows
    assert [(r.username, r.object_type) for r in rows] == [("nosy", "case")]


def test_reading_the_log_is_logged_with_the_filters(engine):
    page(engine, AccessLogFilter(username="staff", object_ref="SP-2026-000001"))
    assert viewer_entries(engine) == [("view", "user=staff; ref=SP-2026-000001")]
    rows = page(engine).rows
    assert (rows[0].action, rows[0].object_type, rows[0].username) == ("view", "access_log", "auditor")


def test_export_has_every_filtered_row_in_batches_and_is_logged(engine, monkeypatch):
    monkeypatch.setattr(access_log, "EXPORT_BATCH", 2)
    add_rows(engine, [{"at": T0 + timedelta(seconds=i), "detail": str(i)} for i in range(5)])
    add_rows(engine, [{"at": T0, "username": "other", "detail": "x"}])
    with unit_of_work(engine) as s:
        rows, truncated = export_access_log(s, actor=ADMIN, filters=AccessLogFilter(username="staff"))
    assert not truncated
    assert [r["Details"] for r in rows] == ["4", "3", "2", "1", "0"]
    assert list(rows[0]) == ["Zeit", "Benutzer", "Rolle", "Aktion", "Objektart", "Objekt", "IP-Adresse", "Details"]
    assert rows[0]["Zeit"] == "02.11.2026 09:00:04" and rows[0]["Aktion"] == "Angesehen"
    assert viewer_entries(engine) == [("export", "user=staff; rows=5")]


def test_export_stops_at_the_limit_and_says_so(engine):
    add_rows(engine, [{"at": T0 + timedelta(seconds=i)} for i in range(4)])
    with unit_of_work(engine) as s:
        rows, truncated = export_access_log(s, actor=ADMIN, filters=AccessLogFilter(), limit=3)
    assert len(rows) == 3 and truncated
    assert viewer_entries(engine) == [("export", "all; rows=3; truncated")]


def test_exported_formula_cells_are_neutralised(engine):
    add_rows(engine, [{"at": T0, "detail": "=HYPERLINK(\"http://evil\")", "username": "@sum", "object_ref": "+1"}])
    with unit_of_work(engine) as s:
        rows, _ = export_access_log(s, actor=ADMIN, filters=AccessLogFilter())
    csv_text = to_csv(rows).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "'@sum" in csv_text and "'+1" in csv_text
    sheet = load_workbook(io.BytesIO(to_xlsx(rows, sheet="Zugriffsprotokoll"))).active
    values = [c.value for c in sheet[2]]
    assert "'=HYPERLINK(\"http://evil\")" in values and "'@sum" in values


@pytest.mark.parametrize("role", [Role.STAFF, Role.LAWYER, Role.MANAGER])
def test_only_admins_read_the_log(engine, role):
    someone = Actor(user_id=None, username="x", display_name="X", role=role)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        list_access_log(s, actor=someone, filters=AccessLogFilter())
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        export_access_log(s, actor=someone, filters=AccessLogFilter())
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(AccessLog)) == 0
