"""Hostile input through the public services: SQL metacharacters stay text, upload attacks are refused and
leave nothing behind. (Formula cells: tests/unit/test_tabular.py and tests/integration/test_board.py; reportlab
markup printed as text: tests/unit/test_*_pdf.py; mail header injection: tests/unit/test_mailer.py and
tests/integration/test_mail_outbox.py; the upload checks one by one: tests/unit/test_upload_validation.py;
XSS in the browser: test_browser.py here.)"""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import func, select

from core import board, cases, documents, notes
from core.enums import DamageType, DocumentKind, NoteVisibility, Role
from core.errors import ValidationError
from core.i18n import t
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import Case, DocumentVersion
from tests.unit.test_upload_validation import make_image, make_pdf

STAFF = Actor(user_id=None, username="clerk", display_name="Clerk", role=Role.STAFF)
SQL = ["O'Brien'; DROP TABLE cases; --", "x' OR '1'='1", 'Robert"); DELETE FROM users; --', "100%_\\%", "a;--b/*c*/"]
LIMIT = 20 * 1024 * 1024


@pytest.mark.parametrize("text", SQL, ids=range(len(SQL)))
def test_sql_metacharacters_are_stored_and_found_as_plain_text(engine, text):
    with unit_of_work(engine) as s:
        number = cases.create_case(s, actor=STAFF, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name=text, client_last_name=text, postal_code="10115",
            incident_description=text)).number
        cases.create_case(s, actor=STAFF, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Andere", postal_code="10115"))
        notes.add_note(s, actor=STAFF, number=number, visibility=NoteVisibility.INTERNAL, body=text)
    with unit_of_work(engine) as s:
        view = cases.open_case(s, actor=STAFF, number=number)
        assert text in view.client_name and view.insurer == text and view.incident_description == text
        assert [n.body for n in notes.list_notes(s, actor=STAFF, number=number)] == [text]
        hits = board.list_board(s, actor=STAFF, filters=board.BoardFilter(text=text)).rows
        assert [row.number for row in hits] == [number]  # the search matched the text literally, nothing more
        assert s.scalar(select(func.count()).select_from(Case)) == 2


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _pdf_with_open_action(action: DictionaryObject) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf("Rechnung")))
    writer._root_object[NameObject("/OpenAction")] = action
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _flate_bomb_pdf() -> bytes:
    """A one-page PDF whose content stream inflates from ~120 KB to 120 MB."""
    inflater = zlib.compressobj(9)
    chunk = b" " * (1024 * 1024)
    stream = b"".join(inflater.compress(chunk) for _ in range(120)) + inflater.flush()
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>endobj\n"
            b"4 0 obj<</Length " + str(len(stream)).encode() + b"/Filter/FlateDecode>>stream\n" + stream
            + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


JAVASCRIPT = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert('x'); this.exportDataObject();")})
LAUNCH = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})

UPLOAD_ATTACKS = [  # (what, build the bytes, file name)
    ("renamed executable", lambda: b"MZ\x90\x00" + b"\x00" * 200, "rechnung.pdf"),
    ("html page", lambda: b"<!DOCTYPE html><script>window.__xss=1</script>", "rechnung.pdf"),
    ("svg with script", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "foto.png"),
    ("deflate bomb disguised as pdf", _flate_bomb_pdf, "rechnung.pdf"),
    ("truncated pdf", lambda: make_pdf("Rechnung")[:-300], "rechnung.pdf"),
    ("path traversal", lambda: make_pdf("x"), "../../etc/passwd"),
    ("windows reserved name", lambda: make_pdf("x"), "CON.pdf"),
    ("huge image", lambda: _png(Image.new("1", (9000, 6000))), "foto.png"),
]


@pytest.mark.parametrize(("build", "filename"), [a[1:] for a in UPLOAD_ATTACKS], ids=[a[0] for a in UPLOAD_ATTACKS])
def test_upload_attacks_are_refused_with_a_german_message_and_leave_nothing(engine, settings, build, filename):
    data = build()
    with unit_of_work(engine) as s:
        number = cases.create_case(s, actor=STAFF, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Muster",
            postal_code="10115")).number
    with pytest.raises(ValidationError) as refused, unit_of_work(engine) as s:
        documents.upload_document(s, actor=STAFF, settings=settings, case_number=number, kind=DocumentKind.INVOICE,
                                  filename=filename, data=data)
    assert str(refused.value) and "Traceback" not in str(refused.value)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    folder = documents.documents_dir(settings)
    assert not folder.exists() or list(folder.iterdir()) == []
    assert not (settings.data_dir.parent / "etc").exists()


@pytest.mark.parametrize("action", [JAVASCRIPT, LAUNCH], ids=["javascript", "launch"])
def test_a_pdf_with_an_active_action_is_refused(action):
    with pytest.raises(ValidationError):
        documents.detect_upload(_pdf_with_open_action(action), "rechnung.pdf", max_bytes=LIMIT)


def test_a_file_name_with_markup_is_kept_as_text_and_never_used_on_disk(engine, settings):
    name = '<img src=x onerror="window.__xss=1">.png'
    with unit_of_work(engine) as s:
        number = cases.create_case(s, actor=STAFF, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Muster",
            postal_code="10115")).number
        view = documents.upload_document(s, actor=STAFF, settings=settings, case_number=number,
                                         kind=DocumentKind.PHOTO, filename=name, data=make_image("PNG"))
    assert view.original_name == name
    [stored] = documents.documents_dir(settings).iterdir()
    assert "<" not in stored.name and "img" not in stored.name


def test_the_refusal_messages_are_the_catalogued_german_ones():
    for data, filename, key in ((make_pdf("x"), "CON.pdf", "doc.name_reserved"),
                                (make_pdf("x"), "../../etc/passwd", "doc.name_parent")):
        with pytest.raises(ValidationError) as refused:
            documents.detect_upload(data, filename, max_bytes=LIMIT)
        assert str(refused.value) == t(key, name=filename)
