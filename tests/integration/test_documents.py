"""Documents on SQLite and PostgreSQL: encrypted storage, versions, scope, access log, no orphan files."""

import hashlib
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import documents
from core.auth import actor_for
from core.cases import get_case
from core.enums import DocumentKind, PartnerKind, Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.i18n import t
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import AccessLog, CaseEvent, Document, DocumentVersion, User
from tests.factories import make_broker, make_case, make_partner, make_user
from tests.unit.test_upload_validation import make_image, make_pdf

PDF = make_pdf("Rechnung Nr. 4711", "Austausch Frontscheibe")


@pytest.fixture
def world(engine):
    """A case of partner A submitted by broker 1, and logins for staff, both partners and both brokers."""
    partner_a = make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)
    partner_b = make_partner(engine, "Autoglas Süd", PartnerKind.GLASS)
    broker_1, broker_2 = make_broker(engine, "Büro Eins"), make_broker(engine, "Büro Zwei")
    ids = {
        "staff": make_user(engine, "staff", Role.STAFF),
        "partner_a": make_user(engine, "glas1", Role.PARTNER, partner_id=partner_a),
        "partner_b": make_user(engine, "glas2", Role.PARTNER, partner_id=partner_b),
        "broker_1": make_user(engine, "broker1", Role.BROKER, broker_id=broker_1),
        "broker_2": make_user(engine, "broker2", Role.BROKER, broker_id=broker_2),
        "manager": make_user(engine, "manager", Role.MANAGER),
    }
    with unit_of_work(engine) as s:
        actors = {key: actor_for(s.get(User, user_id)) for key, user_id in ids.items()}
    number = make_case(engine, partner_id=partner_a, broker_id=broker_1)
    return {"number": number, **actors}


def upload(engine, settings, actor, number, *, kind=DocumentKind.INVOICE, filename="Rechnung.pdf", data=PDF):
    with unit_of_work(engine) as s:
        return documents.upload_document(
            s, actor=actor, settings=settings, case_number=number, kind=kind, filename=filename, data=data,
        )


def download(engine, settings, actor, version_id):
    with unit_of_work(engine) as s:
        return documents.download_document(s, actor=actor, settings=settings, version_id=version_id)


def listing(engine, actor, number):
    with unit_of_work(engine) as s:
        return documents.list_documents(s, actor=actor, case_number=number)


def stored_files(settings) -> list:
    folder = documents.documents_dir(settings)
    return sorted(folder.iterdir()) if folder.exists() else []


def counts(engine) -> tuple[int, int]:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count(Document.id))), s.scalar(select(func.count(DocumentVersion.id)))


def access_log(engine, action):
    with unit_of_work(engine) as s:
        return s.scalars(select(AccessLog).where(AccessLog.action == action, AccessLog.object_type == "document")).all()


def test_upload_list_download_roundtrip(engine, settings, world):
    view = upload(engine, settings, world["partner_a"], world["number"])
    assert (view.kind, view.version, view.original_name, view.mime, view.size) == (
        DocumentKind.INVOICE, 1, "Rechnung.pdf", "application/pdf", len(PDF),
    )
    assert view.uploaded_by == "Glas1" and view.case_number == world["number"]
    [doc] = listing(engine, world["staff"], world["number"])
    assert doc.kind == DocumentKind.INVOICE and [v.id for v in doc.versions] == [view.id]
    got = download(engine, settings, world["staff"], view.id)
    assert (got.filename, got.mime, got.data) == ("Rechnung.pdf", "application/pdf", PDF)


def test_stored_file_is_encrypted_under_a_generated_name(engine, settings, world):
    upload(engine, settings, world["staff"], world["number"], filename="Rechnung Muster.pdf")
    [path] = stored_files(settings)
    stored = path.read_bytes()
    assert stored != PDF and PDF not in stored and b"%PDF" not in stored and b"Rechnung" not in stored
    assert "Rechnung" not in path.name and len(path.name) == len("0" * 32 + ".bin")
    with unit_of_work(engine) as s:
        version = s.scalar(select(DocumentVersion))
        assert (version.stored_name, version.original_name) == (path.name, "Rechnung Muster.pdf")
        assert version.sha256 == hashlib.sha256(PDF).hexdigest()
        assert "Rechnung Nr. 4711" in version.text


def test_second_upload_of_the_same_kind_is_version_two_and_both_stay_downloadable(engine, settings, world):
    first = upload(engine, settings, world["staff"], world["number"], filename="v1.pdf")
    photo = make_image("PNG")
    second = upload(engine, settings, world["staff"], world["number"], filename="v2.png", data=photo)
    assert (first.version, second.version) == (1, 2) and first.document_id == second.document_id
    [doc] = listing(engine, world["staff"], world["number"])
    assert [v.version for v in doc.versions] == [2, 1] and doc.latest.id == second.id
    assert download(engine, settings, world["staff"], first.id).data == PDF
    assert download(engine, settings, world["staff"], second.id).data == photo


def test_other_kinds_are_separate_documents(engine, settings, world):
    upload(engine, settings, world["staff"], world["number"], kind=DocumentKind.INVOICE)
    photo = upload(engine, settings, world["staff"], world["number"], kind=DocumentKind.PHOTO,
                   filename="foto.png", data=make_image("PNG"))
    assert photo.version == 1
    assert [d.kind for d in listing(engine, world["staff"], world["number"])] == [
        DocumentKind.INVOICE, DocumentKind.PHOTO,
    ]


def test_upload_writes_an_event_without_content(engine, settings, world):
    upload(engine, settings, world["partner_a"], world["number"])
    with unit_of_work(engine) as s:
        event = s.scalars(select(CaseEvent).order_by(CaseEvent.seq.desc())).first()
        assert event.action == "document_uploaded" and event.actor_name == "Glas1"
        assert event.details == {"kind": "invoice", "version": 1, "name": "Rechnung.pdf", "size": len(PDF)}


def test_download_is_logged(engine, settings, world):
    view = upload(engine, settings, world["staff"], world["number"])
    download(engine, settings, world["partner_a"], view.id)
    [entry] = access_log(engine, "download")
    assert (entry.username, entry.role, entry.object_ref) == ("glas1", "partner", str(view.id))


def test_partner_of_another_business_is_refused_and_logged(engine, settings, world):
    view = upload(engine, settings, world["partner_a"], world["number"])
    assert download(engine, settings, world["partner_b"], view.id) is None
    [entry] = access_log(engine, "refused")
    assert (entry.username, entry.object_ref) == ("glas2", str(view.id))
    assert access_log(engine, "download") == []
    with pytest.raises(NotFound, match=t("case.refused")):
        listing(engine, world["partner_b"], world["number"])


def test_partner_of_another_business_cannot_upload(engine, settings, world):
    with pytest.raises(NotFound) as info:
        upload(engine, settings, world["partner_b"], world["number"])
    assert str(info.value) == t("case.refused")
    assert stored_files(settings) == [] and counts(engine) == (0, 0)


def test_unknown_case_and_unknown_version_reveal_nothing(engine, settings, world):
    with pytest.raises(NotFound) as info:
        upload(engine, settings, world["staff"], "SP-2099-999999")
    assert str(info.value) == t("case.refused")
    assert download(engine, settings, world["staff"], 999_999) is None
    assert [e.object_ref for e in access_log(engine, "refused")] == ["999999"]


def test_broker_sees_and_downloads_only_the_report(engine, settings, world):
    invoice = upload(engine, settings, world["staff"], world["number"], kind=DocumentKind.INVOICE)
    report = upload(engine, settings, world["staff"], world["number"], kind=DocumentKind.REPORT,
                    filename="Gutachten.pdf")
    docs = listing(engine, world["broker_1"], world["number"])
    assert [d.kind for d in docs] == [DocumentKind.REPORT]
    assert download(engine, settings, world["broker_1"], report.id).filename == "Gutachten.pdf"
    assert download(engine, settings, world["broker_1"], invoice.id) is None
    assert download(engine, settings, world["broker_2"], report.id) is None
    assert [e.username for e in access_log(engine, "refused")] == ["broker1", "broker2"]


def test_partner_sees_all_documents_of_its_order(engine, settings, world):
    for kind in (DocumentKind.INVOICE, DocumentKind.REPORT, DocumentKind.LETTER):
        upload(engine, settings, world["staff"], world["number"], kind=kind)
    assert len(listing(engine, world["partner_a"], world["number"])) == 3


def test_roles_without_upload_right_are_refused(engine, settings, world):
    with pytest.raises(PermissionDenied):
        upload(engine, settings, world["manager"], world["number"])
    assert stored_files(settings) == []


def test_broker_uploads_to_own_case_and_sees_only_reports(engine, settings, world):
    upload(engine, settings, world["broker_1"], world["number"], kind=DocumentKind.PHOTO)
    assert listing(engine, world["broker_1"], world["number"]) == []  # brokers see appraisal reports only
    assert [d.kind for d in listing(engine, world["staff"], world["number"])] == [DocumentKind.PHOTO]


def test_client_link_uploads_into_its_own_case_only(engine, settings, world):
    with unit_of_work(engine) as s:
        case_id = get_case(s, number=world["number"]).id
    client = Actor(user_id=None, username="link", display_name="Erika Muster", role=Role.CLIENT, case_id=case_id)
    upload(engine, settings, client, world["number"], kind=DocumentKind.REGISTRATION, filename="schein.png",
           data=make_image("JPEG"))
    [doc] = listing(engine, world["staff"], world["number"])
    assert (doc.latest.uploaded_by, doc.latest.mime, doc.latest.name) == (
        "Erika Muster", "image/jpeg", "schein.png.jpg",
    )
    other = make_case(engine)
    with pytest.raises(NotFound):
        upload(engine, settings, client, other)


def test_rollback_after_upload_leaves_no_file(engine, settings, world):
    with pytest.raises(RuntimeError, match="später"):
        with unit_of_work(engine) as s:
            documents.upload_document(
                s, actor=world["staff"], settings=settings, case_number=world["number"], kind=DocumentKind.INVOICE,
                filename="Rechnung.pdf", data=PDF,
            )
            assert len(stored_files(settings)) == 1  # written inside the transaction
            raise RuntimeError("später schiefgegangen")
    assert stored_files(settings) == [] and counts(engine) == (0, 0)


def test_session_closed_without_commit_leaves_no_file(engine, settings, world):
    with Session(engine) as s:
        documents.upload_document(
            s, actor=world["staff"], settings=settings, case_number=world["number"], kind=DocumentKind.INVOICE,
            filename="Rechnung.pdf", data=PDF,
        )
    assert stored_files(settings) == [] and counts(engine) == (0, 0)


def test_rolled_back_savepoint_deletes_only_its_own_file(engine, settings, world):
    def put(s, name):
        return documents.upload_document(
            s, actor=world["staff"], settings=settings, case_number=world["number"], kind=DocumentKind.INVOICE,
            filename=name, data=PDF,
        )

    with unit_of_work(engine) as s:
        put(s, "behalten.pdf")
        with pytest.raises(RuntimeError), s.begin_nested():
            put(s, "verworfen.pdf")
            raise RuntimeError("nur der Savepoint")
        with s.begin_nested():
            put(s, "auch-behalten.pdf")
    with unit_of_work(engine) as s:
        names = set(s.scalars(select(DocumentVersion.stored_name)))
        originals = sorted(s.scalars(select(DocumentVersion.original_name)))
    assert originals == ["auch-behalten.pdf", "behalten.pdf"]
    assert {p.name for p in stored_files(settings)} == names


def test_committed_files_survive_a_later_rollback_in_the_same_session(engine, settings, world):
    with Session(engine) as s:
        with s.begin():
            kept = documents.upload_document(
                s, actor=world["staff"], settings=settings, case_number=world["number"], kind=DocumentKind.INVOICE,
                filename="Rechnung.pdf", data=PDF,
            )
        with pytest.raises(RuntimeError), s.begin():
            documents.upload_document(
                s, actor=world["staff"], settings=settings, case_number=world["number"], kind=DocumentKind.PHOTO,
                filename="foto.png", data=make_image("PNG"),
            )
            raise RuntimeError("zweite Aktion scheitert")
    assert len(stored_files(settings)) == 1
    assert download(engine, settings, world["staff"], kept.id).data == PDF


def test_rejected_upload_leaves_no_file_and_no_row(engine, settings, world):
    with pytest.raises(ValidationError) as info:
        upload(engine, settings, world["staff"], world["number"], filename="rechnung.pdf",
               data=b"MZ\x90\x00" + b"\x00" * 100)
    assert info.value.field == "file"
    assert stored_files(settings) == [] and counts(engine) == (0, 0)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).where(CaseEvent.action == "document_uploaded")) == 0


def test_upload_limit_comes_from_settings(engine, settings, world):
    too_big = PDF + b"\x00" * (settings.upload_max_mb * 1024 * 1024)
    with pytest.raises(ValidationError, match=f"{settings.upload_max_mb} MB"):
        upload(engine, settings, world["staff"], world["number"], data=too_big)
    assert stored_files(settings) == []


def test_tampered_file_is_not_delivered(engine, settings, world):
    view = upload(engine, settings, world["staff"], world["number"])
    [path] = stored_files(settings)
    path.write_bytes(path.read_bytes()[:-10] + b"AAAAAAAAAA")
    with pytest.raises(documents.DocumentUnavailable, match="beschädigt"):
        download(engine, settings, world["staff"], view.id)


def test_sweep_removes_only_old_unreferenced_files(engine, settings, world):
    upload(engine, settings, world["staff"], world["number"])
    folder = documents.documents_dir(settings)
    old_orphan, new_orphan = folder / ("a" * 32 + ".bin"), folder / ("b" * 32 + ".bin")
    old_orphan.write_bytes(b"x")
    new_orphan.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    for path in stored_files(settings):
        if path not in (old_orphan, new_orphan):
            os.utime(path, (two_hours_ago, two_hours_ago))
    with unit_of_work(engine) as s:
        assert documents.sweep_orphan_files(s, settings=settings, older_than=timedelta(hours=1)) == 1
    assert not old_orphan.exists() and new_orphan.exists() and len(stored_files(settings)) == 2
