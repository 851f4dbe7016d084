"""Templates on SQLite and PostgreSQL: save, reset and list; the preview on a real case; an edit used by the next
queued mail; a missing value refuses the mail and the transaction that wanted it."""

import pytest
from sqlalchemy import func, select

from core import templates
from core.assignment import override_assignment
from core.auth import actor_for
from core.enums import Role
from core.errors import NotFound, PermissionDenied
from core.i18n import t
from core.outbox import enqueue_mail
from core.permissions import SYSTEM
from core.templates import (
    CASE_PLACEHOLDERS,
    DEFAULTS,
    EXAMPLES,
    PLACEHOLDERS,
    TemplateError,
)
from db.engine import unit_of_work
from db.models import AccessLog, Case, OutboxMessage, Template, User
from tests.factories import make_case, make_partner, make_user


def actor(engine, role=Role.ADMIN, name="t_admin"):
    user_id = make_user(engine, name, role)
    with unit_of_work(engine) as s:
        return actor_for(s.get(User, user_id))


def save(engine, who, key="order_assigned", subject="Auftrag {fallnummer} für Sie", body="Hallo {betrieb}: {ort}"):
    with unit_of_work(engine) as s:
        templates.save_template(s, actor=who, key=key, subject=subject, body=body)


def listing(engine, who) -> dict[str, templates.TemplateInfo]:
    with unit_of_work(engine) as s:
        return {i.key: i for i in templates.list_templates(s, actor=who)}


def count(engine, model) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_list_shows_every_template_unchanged_at_first(engine):
    infos = listing(engine, actor(engine))
    assert list(infos) == list(DEFAULTS)
    assert not any(i.changed for i in infos.values())
    assert infos["insurer_query"].subject == DEFAULTS["insurer_query"][0]
    assert ("upload_link", t("tpl.ph_upload_link")) in infos["insurer_query"].placeholders


def test_saved_template_is_listed_as_changed_with_who_and_when(engine):
    admin = actor(engine)
    save(engine, admin)
    info = listing(engine, admin)["order_assigned"]
    assert (info.subject, info.body, info.changed) == ("Auftrag {fallnummer} für Sie", "Hallo {betrieb}: {ort}", True)
    assert info.updated_by == "T_Admin" and info.updated_at is not None


def test_reset_brings_back_the_default(engine):
    admin = actor(engine)
    save(engine, admin)
    with unit_of_work(engine) as s:
        templates.reset_template(s, actor=admin, key="order_assigned")
    info = listing(engine, admin)["order_assigned"]
    assert ((info.subject, info.body), info.changed) == (DEFAULTS["order_assigned"], False)


def test_unknown_placeholder_stores_nothing(engine):
    admin = actor(engine)
    with pytest.raises(TemplateError, match=r"\{betrag\}"):
        save(engine, admin, body="Hallo {betrieb}, Sie bekommen {betrag}")
    assert count(engine, Template) == 0


def test_staff_may_not_edit_templates(engine):
    staff = actor(engine, Role.STAFF, "t_staff")
    with pytest.raises(PermissionDenied):
        save(engine, staff)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        templates.list_templates(s, actor=staff)


def test_preview_fills_in_the_real_case_and_marks_example_values(engine):
    admin = actor(engine)
    number = make_case(engine, last_name="Beispiel", amount_claimed_cents=123_456)
    subject, body = DEFAULTS["insurer_query"]
    with unit_of_work(engine) as s:
        mail = templates.preview(s, actor=admin, key="insurer_query", subject=subject, body=body,
                                 case_number=number.lower(), base_url="https://portal.example/")
    assert mail.subject == f"Ihr Schaden {number}: Bitte ein Dokument hochladen"
    assert "Guten Tag Erika Beispiel," in mail.body and "die HUK-COBURG braucht" in mail.body
    assert "https://portal.example/case?nr=SP-2026-000123" in mail.body  # example upload link, completed
    assert mail.examples == ("dokument", "upload_link")
    with unit_of_work(engine) as s:
        assert s.scalar(select(AccessLog.object_ref).where(AccessLog.action == "preview")) == number


def test_preview_of_an_unknown_case_is_refused(engine):
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        templates.preview(s, actor=actor(engine), key="payment_received", subject="A", body="B",
                          case_number="SP-1999-000001")


def test_preview_refuses_what_saving_would_refuse(engine):
    with pytest.raises(TemplateError, match=r"\{iban\}"), unit_of_work(engine) as s:
        templates.preview(s, actor=actor(engine), key="payment_received", subject="A", body="{iban}", case_number="")


def test_case_values_offer_every_case_placeholder_and_fill_every_case_template(engine):
    number = make_case(engine)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        values = templates.case_values(s, case)
        assert set(CASE_PLACEHOLDERS) <= set(values)
        assert (values["fallnummer"], values["versicherung"], values["kunde"], values["betrag"]) == \
            (number, "HUK-COBURG", "Erika Muster", "500,00 €")
        for key, names in PLACEHOLDERS.items():
            extras = {n: EXAMPLES[n] for n in names if n not in values}
            mail = templates.render(s, key=key, values={**extras, **values})
            assert "{" not in mail.subject.replace("{base_url}", "")


def test_an_edited_template_is_used_by_the_next_queued_mail(engine):
    save(engine, actor(engine), subject="Auftrag {fallnummer}: bitte annehmen", body="Hallo {betrieb}. {auftrag_link}")
    partner = make_partner(engine, "Autoglas Nord", email="auftrag@autoglas-nord.example")
    number = make_case(engine)
    with unit_of_work(engine) as s:
        override_assignment(s, actor=SYSTEM, number=number, partner_id=partner, reason="Test")
    with unit_of_work(engine) as s:
        mail = s.scalar(select(OutboxMessage))
        assert (mail.subject, mail.body) == (f"Auftrag {number}: bitte annehmen",
                                             f"Hallo Autoglas Nord. {{base_url}}/case?nr={number}")


def test_a_missing_value_refuses_the_mail_and_the_whole_transaction(engine):
    admin = actor(engine)
    before = count(engine, AccessLog)
    with pytest.raises(TemplateError) as err, unit_of_work(engine) as s:
        s.add(AccessLog(user_id=admin.user_id, username="x", action="view", object_type="case"))  # the change
        enqueue_mail(s, idempotency_key="settlement:test", template_key="settlement_ready", recipient="a@b.example",
                     values={"betrieb": "Autoglas Nord", "monat": "Oktober 2026", "iban": "DE02"})
    assert str(err.value) == t("tpl.missing_value", template=templates.template_name("settlement_ready"),
                               names="{betrag}")
    assert count(engine, OutboxMessage) == 0
    assert count(engine, AccessLog) == before
