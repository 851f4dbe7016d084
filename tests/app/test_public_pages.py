"""The public pages, logged out: Partner werden (captcha, errors keep the input), Datenschutz, Passwort festlegen."""

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import applications, auth
from core.enums import ApplicationStatus, PartnerKind, Role
from core.i18n import t
from core.permissions import Actor
from core.settings import ROOT
from db.engine import unit_of_work
from db.models import PartnerApplication
from tests.app.conftest import TIMEOUT, texts

APPLY = "pages/public_apply.py"
FIELDS = {
    "apply.business_name": "Autoglas <b>Müller</b> GmbH", "apply.street": "Hauptstraße 1", "apply.postal_code": "10115",
    "apply.city": "Berlin", "apply.regions": "10 12", "apply.contact_name": "Jana Müller",
    "apply.email": "jana@autoglas-mueller.example",
}


def fill(at: AppTest, values: dict[str, str]) -> None:
    for key, value in values.items():
        next(w for w in at.text_input if w.label == t(key)).input(value)
    next(s for s in at.selectbox if s.label == t("apply.kind")).set_value(PartnerKind.GLASS)
    at.checkbox[0].check()


def answer_captcha(at: AppTest, *, wrong: bool = False) -> None:
    captcha = at.session_state["apply_captcha"]
    next(w for w in at.text_input if w.label == captcha.question).input(str(captcha.answer + (1 if wrong else 0)))


def send(at: AppTest) -> None:
    next(b for b in at.button if b.label == t("apply.submit")).click()
    at.run()


def stored(world) -> list[PartnerApplication]:
    with unit_of_work(world.engine) as s:
        return list(s.scalars(select(PartnerApplication)))


def test_visitor_sees_the_form_without_logging_in(world):
    at = world.app(None, page=APPLY)
    assert not at.exception
    assert t("apply.title") in texts(at)
    assert t("login.username") not in [w.label for w in at.text_input]
    assert at.session_state["apply_captcha"].question in [w.label for w in at.text_input]
    assert "(/datenschutz)" in at.checkbox[0].label


def test_visitor_applies_and_gets_a_confirmation_instead_of_the_form(world):
    at = world.app(None, page=APPLY)
    fill(at, FIELDS)
    answer_captcha(at)
    send(at)
    assert not at.exception
    assert t("apply.thanks") in texts(at)
    assert not at.text_input
    [row] = stored(world)
    assert (row.business_name, row.kind, row.regions, row.status) == (
        "Autoglas <b>Müller</b> GmbH", PartnerKind.GLASS, "10,12", ApplicationStatus.PENDING)


def test_a_wrong_captcha_shows_the_german_error_keeps_the_input_and_stores_nothing(world):
    at = world.app(None, page=APPLY)
    fill(at, FIELDS)
    first = at.session_state["apply_captcha"]
    answer_captcha(at, wrong=True)
    send(at)
    assert [e.value for e in at.error] == [t("apply.captcha_wrong")]
    assert next(w for w in at.text_input if w.label == t("apply.business_name")).value == FIELDS["apply.business_name"]
    assert at.session_state["apply_captcha"] is not first  # a new question after every attempt
    assert stored(world) == []


def test_a_bad_field_names_the_problem_and_the_next_try_succeeds(world):
    at = world.app(None, page=APPLY)
    fill(at, {**FIELDS, "apply.regions": "Berlin"})
    answer_captcha(at)
    send(at)
    assert "„Berlin“ ist kein PLZ-Gebiet" in texts(at)
    assert stored(world) == []
    next(w for w in at.text_input if w.label == t("apply.regions")).input("10")
    answer_captcha(at)
    send(at)
    assert t("apply.thanks") in texts(at)
    assert len(stored(world)) == 1


def test_privacy_notice_is_public_and_names_retention_and_rights(world):
    at = world.app(None, page="pages/public_privacy.py")
    assert not at.exception
    shown = texts(at)
    assert t("privacy.title") in shown
    for fact in ("24 Monate", "§ 147 AO", "Art. 15 DSGVO", "Art. 77", "nicht umkehrbaren Prüfwert"):
        assert fact in shown


def approved_link(world) -> tuple[str, str]:
    admin = Actor(user_id=world.users[Role.ADMIN], username="t_admin", display_name="A", role=Role.ADMIN)
    form = applications.ApplicationForm(
        business_name="Glas Neu", kind=PartnerKind.GLASS, street="Weg 1", postal_code="10115", city="Berlin",
        regions="10", contact_name="Neu", email="neu@glas.example", weekly_capacity=5, consent=True,
    )
    with unit_of_work(world.engine) as s:
        app_id = applications.submit_application(s, form=form, captcha_answer=1, captcha_given="1", ip="",
                                                 settings=world.settings).id
        result = applications.approve_application(s, actor=admin, settings=world.settings, application_id=app_id)
    return result.username, parse_qs(urlsplit(result.password_link).query)["token"][0]


def set_password_page(token: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    at.switch_page("pages/public_set_password.py")
    at.run()
    return at


def submit_passwords(at: AppTest, new: str, repeat: str) -> None:
    at.text_input[0].input(new)
    at.text_input[1].input(repeat)
    next(b for b in at.button if b.label == t("setpw.submit")).click()
    at.run()


def test_the_link_from_the_mail_sets_the_password_then_points_to_the_login(world):
    username, token = approved_link(world)
    at = set_password_page(token)
    submit_passwords(at, "Neues-Passwort 1", "Neues-Passwort 1")
    assert not at.exception
    assert t("setpw.done", username=username) in texts(at)
    assert [link.label for link in at.get("page_link")] == [t("setpw.to_login")]
    with unit_of_work(world.engine) as s:
        assert auth.check_password_login(s, username=username, password="Neues-Passwort 1",
                                         settings=world.settings).user_id is not None
    again = set_password_page(token)
    submit_passwords(again, "Anderes-Passwort 2", "Anderes-Passwort 2")
    assert [e.value for e in again.error] == [t("setpw.used")]


def test_mismatching_passwords_are_refused_and_the_link_stays_valid(world):
    username, token = approved_link(world)
    at = set_password_page(token)
    submit_passwords(at, "Neues-Passwort 1", "Neues-Passwort 2")
    assert [e.value for e in at.error] == [t("account.mismatch")]
    submit_passwords(at, "Neues-Passwort 1", "Neues-Passwort 1")
    assert t("setpw.done", username=username) in texts(at)


def test_without_a_token_the_page_says_the_link_is_invalid(world):
    at = set_password_page(None)
    assert [e.value for e in at.error] == [t("setpw.invalid")]
    assert not at.text_input

