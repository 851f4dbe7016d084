"""Dokumente durchsuchen: hits within the user's scope linking to the case, safe input, OCR status in the UI."""

import pytest

from core import ocr
from core.auth import actor_for
from core.documents import upload_document
from core.enums import DocumentKind, Role
from core.i18n import label, t
from core.ocr import ExtractionStatus, ocr_available
from core.ui.widgets import case_url
from db.engine import unit_of_work
from db.models import User
from tests.app.conftest import table_text, texts
from tests.integration.test_document_search import photo_with_text
from tests.unit.test_upload_validation import make_pdf


def add(world, number, kind, name, data):
    with unit_of_work(world.engine) as s:
        staff = actor_for(s.get(User, world.users[Role.STAFF]))
        return upload_document(s, actor=staff, settings=world.settings, case_number=number, kind=kind,
                               filename=name, data=data)


@pytest.fixture
def documents(world):
    add(world, world.own_case, DocumentKind.INVOICE, "Rechnung-eigen.pdf", make_pdf("Austausch Frontscheibe"))
    add(world, world.own_case, DocumentKind.REPORT, "Gutachten-eigen.pdf", make_pdf("Gutachten Frontscheibe"))
    add(world, world.foreign_case, DocumentKind.INVOICE, "Rechnung-fremd.pdf", make_pdf("Frontscheibe fremd"))
    return world


def search_page(world, role, query):
    at = world.app(role, page="pages/staff_search.py")
    at.text_input[0].input(query)
    next(b for b in at.button if b.label == t("search.submit")).click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_staff_finds_every_case_with_links_to_the_case_page(documents):
    at = search_page(documents, Role.STAFF, "Frontscheibe")
    table = table_text(at)
    assert case_url(documents.own_case) in table and case_url(documents.foreign_case) in table
    assert "«Frontscheibe»" in table
    assert t("search.count", count=3) in texts(at)


def test_a_partner_sees_only_its_own_order(documents):
    table = table_text(search_page(documents, Role.PARTNER, "Frontscheibe"))
    assert "Rechnung-eigen.pdf" in table and "Gutachten-eigen.pdf" in table
    assert documents.foreign_case not in table and "Rechnung-fremd.pdf" not in table


def test_a_broker_sees_only_the_report_of_its_own_case(documents):
    table = table_text(search_page(documents, Role.BROKER, "Frontscheibe"))
    assert "Gutachten-eigen.pdf" in table
    assert "Rechnung-eigen.pdf" not in table and documents.foreign_case not in table


def test_no_hit_says_so(documents):
    assert t("search.none") in texts(search_page(documents, Role.STAFF, "Motorhaube"))


def test_input_without_words_asks_for_a_word(documents):
    at = search_page(documents, Role.STAFF, '"*()')
    assert t("search.too_short") in texts(at)
    assert not at.dataframe


def test_user_text_in_hits_is_shown_as_text(world):
    name = "<img src=x onerror=alert(1)>.pdf"
    add(world, world.own_case, DocumentKind.OTHER, name, make_pdf("<script>alert(1)</script> Glasbruch"))
    at = search_page(world, Role.STAFF, "Glasbruch")
    assert name in table_text(at)
    assert "<script>" not in "".join(str(m.value) for m in at.markdown)


def test_without_tesseract_the_page_and_the_case_say_ocr_is_unavailable(world, monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    version = add(world, world.own_case, DocumentKind.PHOTO, "foto.png", photo_with_text("Windschutzscheibe"))
    assert version.extraction == ExtractionStatus.OCR_UNAVAILABLE
    at = world.app(Role.STAFF, page="pages/staff_search.py")
    assert t("search.ocr_unavailable") in texts(at)
    assert t("search.status_unavailable", count=1) in texts(at)
    case_page = world.app(Role.STAFF, page="pages/case_view.py")
    case_page.query_params["nr"] = world.own_case
    case_page.run()
    assert any("foto.png" in x.value and label(ExtractionStatus.OCR_UNAVAILABLE) in x.value for x in case_page.text)


def test_with_tesseract_installed_no_unavailability_is_shown_and_pending_ocr_is(world):
    add(world, world.own_case, DocumentKind.PHOTO, "foto.png", photo_with_text("Windschutzscheibe"))
    at = world.app(Role.STAFF, page="pages/staff_search.py")
    if not ocr_available():  # this machine lacks Tesseract: then the page must say so
        assert t("search.ocr_unavailable") in texts(at)
        pytest.skip("tesseract with the German model is not installed")
    assert t("search.ocr_unavailable") not in texts(at)
    assert t("search.status_pending", count=1) in texts(at)
