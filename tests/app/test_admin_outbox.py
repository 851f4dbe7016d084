"""Postausgang (admin page): counts, the list by status, a failed mail resent, the `.eml` files."""

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.enums import OutboxStatus, Role
from core.i18n import label, t
from core.mailer import mail_dir
from core.outbox import enqueue_mail, list_mail_files, read_mail_file
from core.permissions import SYSTEM
from core.worker import run_worker
from db.engine import unit_of_work
from db.models import OutboxMessage
from tests.app.conftest import table_text, texts

PAGE = "pages/admin_outbox.py"


def queue(world, n: int = 1, **fields) -> list[int]:
    ids = []
    with unit_of_work(world.engine) as s:
        for i in range(n):
            m = enqueue_mail(s, idempotency_key=f"app:{i}", template_key="partner_rejected",
                             recipient=f"b{i}@example.org",
                             values={"ansprechpartner": f"Frau {i}", "betrieb": f"Glas {i}", "grund": "Region voll"})
            for name, value in fields.items():
                setattr(m, name, value)
            ids.append(m.id)
    return ids


def status_of(world, message_id: int) -> OutboxStatus:
    with unit_of_work(world.engine) as s:
        return s.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id))


def download_labels(at: AppTest) -> list[str]:
    return [el.proto.label for el in at.get("download_button")]


def test_counts_and_list_show_the_queued_mails(world):
    queue(world, 2)
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    assert [m.value for m in at.metric if m.label == label(OutboxStatus.PENDING)] == ["2"]
    assert "b0@example.org" in table_text(at) and "b1@example.org" in table_text(at)
    assert t("outbox.resend") not in [b.label for b in at.button]


def test_a_failed_mail_shows_its_error_and_resend_puts_it_back_to_pending(world):
    (failed,) = queue(world, status=OutboxStatus.FAILED, attempts=8, last_error="SMTPDataError: 554 **abgelehnt**")
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    assert next(s for s in at.selectbox if s.label == t("outbox.filter")).value == OutboxStatus.FAILED
    assert "SMTPDataError: 554 **abgelehnt**" in [el.value for el in at.text]
    next(b for b in at.button if b.label == t("outbox.resend")).click()
    at.run()
    assert not at.exception
    assert t("outbox.resent") in texts(at)
    assert status_of(world, failed) == OutboxStatus.PENDING
    assert [m.value for m in at.metric if m.label == label(OutboxStatus.FAILED)] == ["0"]


def test_the_list_filters_by_status(world):
    queue(world, 1)
    at = world.app(Role.ADMIN, page=PAGE)
    next(s for s in at.selectbox if s.label == t("outbox.filter")).select(OutboxStatus.SENT)
    at.run()
    assert t("outbox.none") in texts(at)


def test_without_smtp_the_eml_files_are_listed_newest_first_for_download(world):
    queue(world, 2)
    run_worker(world.engine, world.settings, once=True)  # no SMTP configured: two .eml files
    directory = mail_dir(world.settings)
    files = list_mail_files(actor=SYSTEM, directory=directory)
    assert len(files) == 2 and files[0].modified >= files[1].modified
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    assert t("outbox.eml_head") in texts(at)
    labels = download_labels(at)
    assert len(labels) == 2
    assert all("Ihre Bewerbung beim Schadenportal" in x for x in labels)
    assert sorted(x.split("@")[0][-2:] for x in labels) == ["b0", "b1"]
    assert b"Subject: Ihre Bewerbung beim Schadenportal" in read_mail_file(actor=SYSTEM, directory=directory,
                                                                          name=files[0].name)


def test_without_smtp_and_no_files_the_page_says_so(world):
    at = world.app(Role.ADMIN, page=PAGE)
    assert t("outbox.eml_none") in texts(at)


@pytest.mark.parametrize("name", ["../secret.txt", "secret.txt", "/etc/passwd", ".hidden.eml", "a/b.eml"])
def test_only_a_plain_eml_file_name_can_be_read(tmp_path, name):
    (tmp_path / "secret.txt").write_text("x")
    with pytest.raises(ValueError):
        read_mail_file(actor=SYSTEM, directory=tmp_path, name=name)
