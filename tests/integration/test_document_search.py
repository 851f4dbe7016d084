"""Full-text search over case documents on SQLite (FTS5) and PostgreSQL (German text search), scope per role,
safe query parsing, the index kept in step, and OCR of photos and scans by the worker step."""

import io

import pytest
from alembic import command
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, select, text

from core import ocr, sandbox, search, text_extraction
from core.auth import actor_for
from core.documents import upload_document
from core.enums import DocumentKind, PartnerKind, Role
from core.errors import PermissionDenied
from core.ocr import ExtractionStatus, ocr_available
from core.permissions import Actor
from core.worker import run_worker
from db.engine import unit_of_work
from db.migrate import alembic_config, upgrade_to_head
from db.models import AccessLog, DocumentVersion, User
from db.search_index import FTS_TABLE, SQLITE_TRIGGERS
from tests.factories import make_broker, make_case, make_partner, make_user
from tests.unit.test_upload_validation import make_pdf

INVOICE_A = make_pdf("Rechnung Nr. 4711", "Austausch Frontscheibe nach Steinschlag", "Kunde Müller")
REPORT_A = make_pdf("Gutachten zum Hagelschaden", "Die Schäden am Fahrzeug sind erheblich.")
INVOICE_B = make_pdf("Rechnung Nr. 4712", "Austausch Frontscheibe", "Kunde Schmidt")
REPORT_B = make_pdf("Gutachten Kotflügel", "Hagelschaden an der Motorhaube")


@pytest.fixture
def world(engine, settings):
    """Case A (partner A, broker 1) and case B (partner B, broker 2), each with an invoice and a report."""
    partner_a, partner_b = make_partner(engine, "Glas A", PartnerKind.GLASS), make_partner(engine, "Glas B")
    broker_1, broker_2 = make_broker(engine, "Büro Eins"), make_broker(engine, "Büro Zwei")
    ids = {
        "staff": make_user(engine, "staff", Role.STAFF),
        "manager": make_user(engine, "manager", Role.MANAGER),
        "lawyer": make_user(engine, "lawyer", Role.LAWYER),
        "partner_a": make_user(engine, "glas1", Role.PARTNER, partner_id=partner_a),
        "partner_b": make_user(engine, "glas2", Role.PARTNER, partner_id=partner_b),
        "broker_1": make_user(engine, "broker1", Role.BROKER, broker_id=broker_1),
        "broker_2": make_user(engine, "broker2", Role.BROKER, broker_id=broker_2),
    }
    with unit_of_work(engine) as s:
        actors = {key: actor_for(s.get(User, user_id)) for key, user_id in ids.items()}
    case_a = make_case(engine, partner_id=partner_a, broker_id=broker_1, last_name="Müller")
    case_b = make_case(engine, partner_id=partner_b, broker_id=broker_2, last_name="Schmidt")
    for number, kind, name, data in ((case_a, DocumentKind.INVOICE, "Rechnung-A.pdf", INVOICE_A),
                                     (case_a, DocumentKind.REPORT, "Gutachten-A.pdf", REPORT_A),
                                     (case_b, DocumentKind.INVOICE, "Rechnung-B.pdf", INVOICE_B),
                                     (case_b, DocumentKind.REPORT, "Gutachten-B.pdf", REPORT_B)):
        upload(engine, settings, actors["staff"], number, kind, name, data)
    return {"a": case_a, "b": case_b, **actors}


def upload(engine, settings, actor, number, kind, name, data):
    with unit_of_work(engine) as s:
        return upload_document(s, actor=actor, settings=settings, case_number=number, kind=kind, filename=name,
                               data=data)


def find(engine, actor, query, limit=50):
    with unit_of_work(engine) as s:
        return search.search_documents(s, actor=actor, query=query, limit=limit)


def found(engine, actor, query) -> set[tuple[str, str]]:
    return {(hit.case_number, hit.document_name) for hit in find(engine, actor, query)}


def photo_with_text(*lines: str) -> bytes:
    """A PNG photo of printed German text, drawn with Pillow's own scalable font."""
    font = ImageFont.load_default(size=48)
    image = Image.new("RGB", (1500, 110 * len(lines) + 80), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 110 * i), line, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def scan_pdf(*lines: str) -> bytes:
    """A PDF of one scanned page: a picture, no text layer."""
    out = io.BytesIO()
    Image.open(io.BytesIO(photo_with_text(*lines))).convert("L").save(out, "PDF", resolution=150)
    return out.getvalue()


def status_of(engine, version_id) -> ExtractionStatus:
    with unit_of_work(engine) as s:
        return s.get(DocumentVersion, version_id).extraction_status


# --- finding and ranking ----------------------------------------------------------------------


def test_staff_finds_documents_of_every_case_with_a_highlighted_snippet(engine, world):
    hits = find(engine, world["staff"], "Frontscheibe")
    assert {(h.case_number, h.document_name, h.kind, h.version) for h in hits} == {
        (world["a"], "Rechnung-A.pdf", DocumentKind.INVOICE, 1), (world["b"], "Rechnung-B.pdf", DocumentKind.INVOICE, 1)}
    assert all("«Frontscheibe»" in h.snippet for h in hits)
    assert all(h.extraction == ExtractionStatus.TEXT_LAYER for h in hits)


def test_every_word_must_occur(engine, world):
    assert found(engine, world["staff"], "Frontscheibe Müller") == {(world["a"], "Rechnung-A.pdf")}
    assert found(engine, world["staff"], "Frontscheibe Motorhaube") == set()


def test_a_word_matches_the_start_of_longer_words(engine, world):
    assert found(engine, world["staff"], "Hagel") == {(world["a"], "Gutachten-A.pdf"), (world["b"], "Gutachten-B.pdf")}


def test_umlauts_and_case_do_not_matter(engine, world):
    assert found(engine, world["staff"], "SCHADEN") >= {(world["a"], "Gutachten-A.pdf")}  # "Schäden"
    assert found(engine, world["staff"], "kotflugel") == {(world["b"], "Gutachten-B.pdf")}


def test_german_stemming_on_postgresql(engine, world):
    if engine.dialect.name != "postgresql":
        pytest.skip("stemming is PostgreSQL's german configuration; SQLite matches word starts")
    # "Fahrzeuge" is not a prefix of "Fahrzeug": only the stemmer brings them together
    assert found(engine, world["staff"], "Fahrzeuge") == {(world["a"], "Gutachten-A.pdf")}
    assert found(engine, world["staff"], "Gutachtens") == {(world["a"], "Gutachten-A.pdf"),
                                                          (world["b"], "Gutachten-B.pdf")}


def test_hits_are_ordered_best_first_and_limited(engine, world, settings):
    upload(engine, settings, world["staff"], world["b"], DocumentKind.OTHER, "Notiz.pdf",
           make_pdf("Frontscheibe Frontscheibe Frontscheibe", "Frontscheibe"))
    hits = find(engine, world["staff"], "Frontscheibe")
    assert hits[0].document_name == "Notiz.pdf"
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)
    assert len(find(engine, world["staff"], "Frontscheibe", limit=1)) == 1


def test_every_version_is_searchable(engine, world, settings):
    upload(engine, settings, world["staff"], world["a"], DocumentKind.INVOICE, "Rechnung-A2.pdf",
           make_pdf("Korrigierte Rechnung", "Austausch Frontscheibe"))
    hits = [h for h in find(engine, world["staff"], "Frontscheibe") if h.case_number == world["a"]]
    assert sorted(h.version for h in hits) == [1, 2]


# --- scope -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "manager", "lawyer"])
def test_back_office_and_managers_search_all_cases(engine, world, who):
    assert {n for n, _ in found(engine, world[who], "Hagelschaden")} == {world["a"], world["b"]}


def test_a_partner_finds_only_its_own_orders(engine, world):
    assert found(engine, world["partner_a"], "Frontscheibe") == {(world["a"], "Rechnung-A.pdf")}
    assert found(engine, world["partner_b"], "Müller") == set()


def test_a_broker_finds_only_the_appraisal_reports_of_its_own_cases(engine, world):
    assert found(engine, world["broker_1"], "Hagelschaden") == {(world["a"], "Gutachten-A.pdf")}
    assert found(engine, world["broker_1"], "Frontscheibe") == set()  # invoices stay hidden
    assert found(engine, world["broker_2"], "Fahrzeug") == set()


def test_a_partner_without_a_business_finds_nothing(engine, world):
    orphan = Actor(user_id=None, username="x", display_name="x", role=Role.PARTNER)
    assert find(engine, orphan, "Frontscheibe") == []


def test_a_client_link_may_not_search(engine, world):
    client = Actor(user_id=None, username="client", display_name="Kunde", role=Role.CLIENT, case_id=1)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        search.search_documents(s, actor=client, query="Frontscheibe", limit=10)


def test_a_reassigned_order_leaves_the_old_partners_search(engine, world):
    from db.models import Case

    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == world["a"])).partner_id = world["partner_b"].partner_id
    assert found(engine, world["partner_a"], "Frontscheibe") == set()
    assert {n for n, _ in found(engine, world["partner_b"], "Frontscheibe")} == {world["a"], world["b"]}


def test_each_case_found_is_in_the_access_log_without_the_query(engine, world):
    find(engine, world["partner_a"], "Steinschlag")
    with unit_of_work(engine) as s:
        rows = s.execute(select(AccessLog.username, AccessLog.action, AccessLog.object_ref, AccessLog.detail)
                         .where(AccessLog.action == "search")).all()
    assert [tuple(r) for r in rows] == [("glas1", "search", world["a"], "")]


# --- the query is never syntax ------------------------------------------------------------------


AROUND_A_WORD = [
    '"Frontscheibe', "Frontscheibe*", "(Frontscheibe)", "Frontscheibe:*", "{Frontscheibe}", "Frontscheibe';--",
    "Frontscheibe\\", "^Frontscheibe!", "Frontscheibe & | !", "%Frontscheibe%", "Frontscheibe\x00", "-Frontscheibe",
    "Frontscheibe <-> x", "frontscheibe\u200b", "„Frontscheibe“",
]
WITHOUT_WORDS = ['"', "*", "()", ":*", "'", "\\", "-", "a", "&|!", "   ", "", "\x00", "NEAR(", "'';"]
OPERATORS_AND_SQL = ["AND", "OR Frontscheibe", "NOT Frontscheibe", "Frontscheibe NEAR Müller", "x' OR '1'='1",
                     "Frontscheibe); DROP TABLE cases; --", "column:Frontscheibe"]


def test_special_characters_around_a_word_are_separators(engine, world):
    for query in AROUND_A_WORD:  # one world for all (each world uploads through the sandbox)
        assert {n for n, _ in found(engine, world["staff"], query)} == {world["a"], world["b"]}, query


def test_queries_without_words_find_nothing_and_do_not_fail(engine, world):
    for query in WITHOUT_WORDS:
        assert find(engine, world["staff"], query) == [], query


def test_operators_and_sql_are_plain_words(engine, world):
    for query in OPERATORS_AND_SQL:
        assert find(engine, world["staff"], query) == [], query  # each of these words would have to occur
    with unit_of_work(engine) as s:
        assert s.execute(text("SELECT count(*) FROM cases")).scalar() == 2


def test_very_long_queries_are_cut_to_a_few_words(engine, world):
    assert search.search_terms("Frontscheibe " * 500) == ["frontscheibe"]
    assert len(search.search_terms(" ".join(f"wort{i}" for i in range(100)))) == search.MAX_TERMS


# --- the index follows the data ------------------------------------------------------------------


def test_changed_and_deleted_text_leaves_the_index_in_the_same_transaction(engine, world):
    with unit_of_work(engine) as s:
        versions = s.scalars(select(DocumentVersion).where(DocumentVersion.original_name.like("Rechnung-%"))).all()
        versions[0].text = "Ersetzt durch Windschutzscheibe"  # as the worker's OCR or retention erasure do
        s.flush()
        assert {h.document_name for h in search.search_documents(s, actor=world["staff"], query="Windschutz")} \
            == {versions[0].original_name}
        s.execute(delete(DocumentVersion).where(DocumentVersion.id == versions[1].id))
    assert found(engine, world["staff"], "Frontscheibe") == set()
    assert len(found(engine, world["staff"], "Windschutzscheibe")) == 1


def test_the_index_exists_and_is_consistent_at_head(engine, world):
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            triggers = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
            assert {f"{FTS_TABLE}_ai", f"{FTS_TABLE}_ad", f"{FTS_TABLE}_au"} <= triggers
            assert len(SQLITE_TRIGGERS) == 3
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
        else:
            plan = "\n".join(conn.execute(text(
                "EXPLAIN SELECT id FROM document_versions WHERE to_tsvector('german'::regconfig, text) "
                "@@ to_tsquery('german', 'frontscheib')")).scalars())
            indexes = set(conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'document_versions'")).scalars())
            assert "ix_document_versions_search" in indexes
            assert "Seq Scan" in plan or "ix_document_versions_search" in plan  # tiny table: either is right
            conn.execute(text("SET enable_seqscan = off"))
            plan = "\n".join(conn.execute(text(
                "EXPLAIN SELECT id FROM document_versions WHERE to_tsvector('german'::regconfig, text) "
                "@@ to_tsquery('german', 'frontscheib')")).scalars())
            assert "ix_document_versions_search" in plan


def test_the_migration_indexes_existing_rows_and_queues_pictures_for_ocr(engine, world, settings, monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    photo = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                   photo_with_text("Probe"))
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "69d1b240f855")
    upgrade_to_head(engine)  # the rows exist before the search objects do
    assert {n for n, _ in found(engine, world["staff"], "Frontscheibe")} == {world["a"], world["b"]}
    assert status_of(engine, photo.id) == ExtractionStatus.PENDING
    with unit_of_work(engine) as s:
        texts = s.scalars(select(DocumentVersion.extraction_status).where(DocumentVersion.id != photo.id)).all()
    assert set(texts) == {ExtractionStatus.TEXT_LAYER}


# --- OCR -------------------------------------------------------------------------------------------


def test_without_tesseract_ocr_is_reported_unavailable_not_skipped(engine, world, settings, monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    assert not ocr_available()
    version = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                     photo_with_text("Windschutzscheibe"))
    assert version.extraction == ExtractionStatus.OCR_UNAVAILABLE
    report = text_extraction.recognise_pending(engine, settings=settings)
    assert (report.recognised, report.unavailable) == (0, 0)
    assert status_of(engine, version.id) == ExtractionStatus.OCR_UNAVAILABLE
    with unit_of_work(engine) as s:
        summary = search.extraction_summary(s, actor=world["staff"])
        assert summary == search.ExtractionSummary(ocr_unavailable=1)
        assert search.extraction_summary(s, actor=world["partner_b"]) == search.ExtractionSummary()


def test_the_worker_recognises_the_text_of_a_photo(engine, world, settings):
    version = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                     photo_with_text("Kostenvoranschlag", "Windschutzscheibe getauscht"))
    if not ocr_available():
        assert version.extraction == ExtractionStatus.OCR_UNAVAILABLE  # and the page says so (test_search_page)
        pytest.skip("tesseract with the German model is not installed")
    assert version.extraction == ExtractionStatus.PENDING
    assert found(engine, world["staff"], "Windschutzscheibe") == set()
    run_worker(engine, settings, once=True)
    assert status_of(engine, version.id) == ExtractionStatus.OCR
    hits = find(engine, world["staff"], "Windschutzscheibe Kostenvoranschlag")
    assert [(h.case_number, h.document_name, h.extraction) for h in hits] == [
        (world["a"], "foto.png", ExtractionStatus.OCR)]


def test_the_worker_recognises_a_scanned_pdf_page(engine, world, settings):
    if not ocr_available():
        pytest.skip("tesseract with the German model is not installed")
    version = upload(engine, settings, world["staff"], world["b"], DocumentKind.LETTER, "scan.pdf",
                     scan_pdf("Schreiben der Versicherung", "Regulierungszusage"))
    assert version.extraction == ExtractionStatus.PENDING
    report = text_extraction.recognise_pending(engine, settings=settings)
    assert report.recognised == 1
    assert {n for n, _ in found(engine, world["staff"], "Regulierungszusage")} == {world["b"]}


def test_a_version_waiting_without_tesseract_is_recognised_once_it_is_installed(engine, world, settings, monkeypatch):
    if not ocr_available():
        pytest.skip("tesseract with the German model is not installed")
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    version = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                     photo_with_text("Windschutzscheibe"))
    assert version.extraction == ExtractionStatus.OCR_UNAVAILABLE
    monkeypatch.undo()
    assert text_extraction.recognise_pending(engine, settings=settings).recognised == 1
    assert status_of(engine, version.id) == ExtractionStatus.OCR


def test_an_ocr_that_times_out_is_retried_and_then_marked_failed(engine, world, settings, monkeypatch):
    if not ocr_available():
        pytest.skip("tesseract with the German model is not installed")
    version = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                     photo_with_text("Windschutzscheibe"))
    monkeypatch.setattr(sandbox, "OCR_LIMITS", sandbox.Limits(memory_mb=1536, cpu_seconds=60, wall_seconds=0.05))
    first = text_extraction.recognise_pending(engine, settings=settings)
    assert (first.retrying, status_of(engine, version.id)) == (1, ExtractionStatus.PENDING)
    assert text_extraction.recognise_pending(engine, settings=settings).retrying == 0  # waits RETRY_AFTER
    with unit_of_work(engine) as s:
        s.get(DocumentVersion, version.id).extraction_next_at = None  # the pause is over
    monkeypatch.setattr(text_extraction, "MAX_ATTEMPTS", 2)
    assert text_extraction.recognise_pending(engine, settings=settings).failed == 1
    assert status_of(engine, version.id) == ExtractionStatus.FAILED
    with unit_of_work(engine) as s:
        assert search.extraction_summary(s, actor=world["staff"]).failed == 1


def test_ocr_does_not_bring_back_erased_text(engine, world, settings):
    from core.timeutil import now
    from db.models import Case, Person

    version = upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "foto.png",
                     photo_with_text("Windschutzscheibe"))
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == world["a"]))
        s.get(Person, case.client_id).pseudonymised_at = now()
    text_extraction.recognise_pending(engine, settings=settings)
    with unit_of_work(engine) as s:
        assert s.get(DocumentVersion, version.id).text == ""


def test_a_hostile_upload_is_refused_and_leaves_nothing_behind(engine, world, settings, monkeypatch):
    from core.documents import documents_dir
    from core.errors import ValidationError
    from core.i18n import t
    from tests.unit.test_sandbox import png_bomb

    monkeypatch.setattr(sandbox, "CHECK_LIMITS", sandbox.Limits(memory_mb=220, cpu_seconds=20, wall_seconds=30))
    files_before = sorted(documents_dir(settings).iterdir())
    with pytest.raises(ValidationError) as info:
        upload(engine, settings, world["staff"], world["a"], DocumentKind.PHOTO, "bombe.png", png_bomb(7000, 7000))
    assert str(info.value) == t("doc.unprocessable")
    assert sorted(documents_dir(settings).iterdir()) == files_before
    with unit_of_work(engine) as s:
        assert s.scalar(select(text("count(*)")).select_from(DocumentVersion)) == 4
