"""Secure share links (§9): signed, expiring, revocable, one document version; every download counted and logged;
every bad link gets the same None."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from core import share_links
from core.documents import upload_document
from core.enums import DocumentKind, Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.permissions import Actor
from core.settings import Settings
from core.timeutil import now
from db.engine import unit_of_work
from db.models import (
    AccessLog,
    Case,
    CaseEvent,
    DocumentVersion,
    ShareLink,
    ShareRecipient,
)
from tests.factories import make_case, make_user
from tests.unit.test_upload_validation import make_pdf

PDF_V1 = make_pdf("Rechnung 4711", "Version eins")
PDF_V2 = make_pdf("Rechnung 4711", "Version zwei")


@pytest.fixture
def staff(engine) -> Actor:
    uid = make_user(engine, "share_staff", Role.STAFF)
    return Actor(user_id=uid, username="share_staff", display_name="Sabine Staff", role=Role.STAFF, ip="10.0.0.5")


@pytest.fixture
def case_number(engine) -> str:
    return make_case(engine, last_name="Teilmann")


def upload(engine, settings, actor, number, data=PDF_V1, name="rechnung.pdf") -> int:
    with unit_of_work(engine) as s:
        return upload_document(s, actor=actor, settings=settings, case_number=number, kind=DocumentKind.INVOICE,
                               filename=name, data=data).id


def create(engine, settings, actor, version_id, **kw) -> share_links.CreatedShareLink:
    args = {"recipient_kind": ShareRecipient.INSURER, "recipient": "HUK-COBURG Schadenabteilung",
            "purpose": "Nachweis der Reparaturrechnung", "days": 7} | kw
    with unit_of_work(engine) as s:
        return share_links.create_share_link(s, actor=actor, settings=settings, version_id=version_id, **args)


def token_of(url: str) -> str:
    return url.split("?t=", 1)[1]


def fetch(engine, settings, token, **kw):
    with unit_of_work(engine) as s:
        return share_links.download_shared(s, settings=settings, token=token, ip="203.0.113.9", **kw)


def peek(engine, settings, token, **kw):
    with unit_of_work(engine) as s:
        return share_links.shared_file(s, settings=settings, token=token, ip="203.0.113.9", **kw)


def refusals(engine) -> list[str]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(AccessLog.detail).where(AccessLog.object_type == "share_link",
                                                               AccessLog.action == "refused").order_by(AccessLog.id)))


def events(engine, number) -> list[CaseEvent]:
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        rows = list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
        s.expunge_all()
        return rows


def test_a_valid_link_delivers_exactly_the_shared_file(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version)
    assert made.url.startswith(f"{settings.base_url}/freigabe?t=")
    shown = peek(engine, settings, token_of(made.url))
    assert (shown.name, shown.mime, shown.size) == ("rechnung.pdf", "application/pdf", len(PDF_V1))
    file = fetch(engine, settings, token_of(made.url))
    assert (file.filename, file.mime, file.data) == ("rechnung.pdf", "application/pdf", PDF_V1)


def test_only_a_hash_of_the_token_is_stored(engine, settings, staff, case_number):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    token = token_of(made.url)
    with unit_of_work(engine) as s:
        link = s.scalars(select(ShareLink)).one()
        stored = [str(getattr(link, c.key)) for c in ShareLink.__table__.columns]
        events_text = " ".join(str(e.details) for e in s.scalars(select(CaseEvent)))
        log_text = " ".join(r.detail + r.object_ref for r in s.scalars(select(AccessLog)))
    assert link.token_hash == share_links.token_hash(token)
    assert not any(token in value or token.split(".")[0] in value for value in stored)
    assert token.split(".")[0] not in events_text + log_text


def test_recipient_purpose_and_expiry_are_recorded_and_in_the_chain(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version, recipient_kind="lawyer", recipient="Kanzlei Recht & Ordnung",
                  days=3)
    link = made.link
    assert (link.recipient_kind, link.recipient, link.purpose) == (
        ShareRecipient.LAWYER, "Kanzlei Recht & Ordnung", "Nachweis der Reparaturrechnung")
    assert link.expires_at - link.created_at == timedelta(days=3)
    assert (link.document, link.created_by, link.case_number) == ("Rechnung v1", "Sabine Staff", case_number)
    last = events(engine, case_number)[-1]
    assert (last.action, last.actor_name) == ("share_link_created", "Sabine Staff")
    assert last.details["recipient"] == "Kanzlei Recht & Ordnung" and last.details["link"] == link.id


def test_each_download_is_counted_logged_and_written_to_the_case(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version)
    fetch(engine, settings, token_of(made.url))
    fetch(engine, settings, token_of(made.url))
    with unit_of_work(engine) as s:
        link = s.get(ShareLink, made.link.id)
        assert link.download_count == 2 and link.last_download_at is not None
        logged = s.execute(select(AccessLog.username, AccessLog.object_type, AccessLog.object_ref, AccessLog.ip)
                           .where(AccessLog.action == "share_download")).all()
    assert logged == [(f"share-link:{made.link.id}", "document", str(version), "203.0.113.9")] * 2
    downloads = [e for e in events(engine, case_number) if e.action == "share_link_downloaded"]
    assert len(downloads) == 2 and downloads[0].details["recipient"] == "HUK-COBURG Schadenabteilung"


def test_showing_the_page_is_not_a_download(engine, settings, staff, case_number):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    peek(engine, settings, token_of(made.url))
    with unit_of_work(engine) as s:
        assert s.get(ShareLink, made.link.id).download_count == 0
        assert s.scalar(select(AccessLog.action).where(AccessLog.object_type == "share_link",
                                                       AccessLog.username.like("share-link:%"))) == "view"


def test_a_link_stays_on_its_version_when_a_new_one_is_uploaded(engine, settings, staff, case_number):
    first = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, first)
    upload(engine, settings, staff, case_number, data=PDF_V2, name="rechnung-neu.pdf")
    file = fetch(engine, settings, token_of(made.url))
    assert (file.filename, file.data) == ("rechnung.pdf", PDF_V1)


def test_an_expired_link_gives_nothing(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version, days=2)
    assert fetch(engine, settings, token_of(made.url), at=now() + timedelta(days=2, seconds=1)) is None
    assert peek(engine, settings, token_of(made.url), at=now() + timedelta(days=3)) is None
    assert fetch(engine, settings, token_of(made.url), at=now() + timedelta(days=1)) is not None
    assert refusals(engine) == ["expired", "expired"]


def test_a_revoked_link_gives_nothing_and_leaves_the_active_list(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version)
    other = create(engine, settings, staff, version, recipient_kind="client", recipient="Erika Teilmann")
    with unit_of_work(engine) as s:
        revoked = share_links.revoke_share_link(s, actor=staff, link_id=made.link.id)
    assert revoked.revoked_at is not None
    assert fetch(engine, settings, token_of(made.url)) is None
    assert peek(engine, settings, token_of(made.url)) is None
    assert fetch(engine, settings, token_of(other.url)).data == PDF_V1
    with unit_of_work(engine) as s:
        active = share_links.list_share_links(s, actor=staff, case_number=case_number)
        every = share_links.list_share_links(s, actor=staff, case_number=case_number, active_only=False)
    assert [link.id for link in active] == [other.link.id]
    assert [link.id for link in every] == [other.link.id, made.link.id]
    assert refusals(engine) == ["revoked", "revoked"]
    assert [e.action for e in events(engine, case_number)].count("share_link_revoked") == 1


def test_revoking_twice_changes_nothing_more(engine, settings, staff, case_number):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    with unit_of_work(engine) as s:
        first = share_links.revoke_share_link(s, actor=staff, link_id=made.link.id)
    with unit_of_work(engine) as s:
        second = share_links.revoke_share_link(s, actor=staff, link_id=made.link.id)
    assert first.revoked_at == second.revoked_at
    assert [e.action for e in events(engine, case_number)].count("share_link_revoked") == 1


@pytest.mark.parametrize("mangle", [
    lambda tok: tok[:-1] + ("A" if tok[-1] != "A" else "B"),  # signature changed
    lambda tok: ("A" if tok[0] != "A" else "B") + tok[1:],  # random part changed, old signature
    lambda tok: tok + "x",
    lambda tok: tok.split(".")[0],
    lambda tok: "",
    lambda tok: "' OR 1=1 --",
], ids=["signature", "random", "longer", "unsigned", "empty", "sql"])
def test_a_tampered_token_gives_nothing(engine, settings, staff, case_number, mangle):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    bad = mangle(token_of(made.url))
    assert fetch(engine, settings, bad) is None
    assert peek(engine, settings, bad) is None
    assert refusals(engine) == ["invalid", "invalid"]


def test_a_well_signed_but_unknown_token_gives_nothing(engine, settings, staff, case_number):
    create(engine, settings, staff, upload(engine, settings, staff, case_number))
    assert fetch(engine, settings, share_links.make_token(settings)) is None
    assert refusals(engine) == ["unknown"]


def test_a_token_signed_with_another_key_gives_nothing(engine, settings, staff, case_number, tmp_path):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    other = Settings.load(env={"DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
                               "COOKIE_KEY": "x" * 40}, secrets_path=tmp_path / "none.toml")
    assert fetch(engine, other, token_of(made.url)) is None
    assert refusals(engine) == ["invalid"]


@pytest.mark.parametrize(("change", "field"), [
    ({"days": 0}, "days"), ({"days": 31}, "days"), ({"days": "7"}, "days"), ({"recipient": "  "}, "recipient"),
    ({"recipient": "x" * 201}, "recipient"), ({"purpose": ""}, "purpose"), ({"recipient_kind": "partner"},
                                                                              "recipient_kind"),
])
def test_bad_input_is_refused_and_changes_nothing(engine, settings, staff, case_number, change, field):
    version = upload(engine, settings, staff, case_number)
    before = len(events(engine, case_number))
    with pytest.raises(ValidationError) as err:
        create(engine, settings, staff, version, **change)
    assert err.value.field == field
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(ShareLink)) == 0
    assert len(events(engine, case_number)) == before


def test_thirty_days_is_the_longest_link(engine, settings, staff, case_number):
    made = create(engine, settings, staff, upload(engine, settings, staff, case_number), days=30)
    assert made.link.expires_at - made.link.created_at == timedelta(days=30)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.PARTNER, Role.BROKER])
def test_roles_without_the_grant_may_not_share(engine, settings, staff, case_number, role):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version)
    other = Actor(user_id=None, username="x", display_name="X", role=role, partner_id=1, broker_id=1)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        share_links.create_share_link(s, actor=other, settings=settings, version_id=version,
                                      recipient_kind="insurer", recipient="HUK", purpose="Test", days=7)
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        share_links.revoke_share_link(s, actor=other, link_id=made.link.id)
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        share_links.list_share_links(s, actor=other, case_number=case_number)


def test_unknown_version_is_refused(engine, settings, staff):
    with pytest.raises(NotFound):
        create(engine, settings, staff, 987654)


def test_deleting_the_version_takes_its_links_along(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    made = create(engine, settings, staff, version)
    with unit_of_work(engine) as s:  # as the retention purge deletes booking records past their period
        s.execute(delete(DocumentVersion).where(DocumentVersion.id == version))
    with unit_of_work(engine) as s:
        assert s.get(ShareLink, made.link.id) is None
    assert fetch(engine, settings, token_of(made.url)) is None


def test_delete_case_links_removes_every_link_of_the_case(engine, settings, staff, case_number):
    version = upload(engine, settings, staff, case_number)
    create(engine, settings, staff, version)
    create(engine, settings, staff, version)
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == case_number))
        assert share_links.delete_case_links(s, case_id=case_id) == 2
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(ShareLink)) == 0


def test_the_chain_stays_intact_through_sharing(engine, settings, staff, case_number):
    from core.chain_check import verify_chains
    from core.permissions import SYSTEM

    made = create(engine, settings, staff, upload(engine, settings, staff, case_number))
    fetch(engine, settings, token_of(made.url))
    with unit_of_work(engine) as s:
        share_links.revoke_share_link(s, actor=staff, link_id=made.link.id)
    assert verify_chains(engine, actor=SYSTEM).ok
