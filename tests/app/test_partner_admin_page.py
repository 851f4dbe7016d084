"""Partnerbetriebe (admin page): approve or reject an application, deactivate a business, edit its terms."""

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import applications
from core.enums import ApplicationStatus, PartnerKind, Role
from core.i18n import t
from db.engine import unit_of_work
from db.models import OutboxMessage, Partner, PartnerApplication, User
from tests.app.conftest import table_text, texts

PAGE = "pages/admin_partners.py"


def apply(world, name: str = "Glas [Neu](https://evil.example)") -> int:
    form = applications.ApplicationForm(
        business_name=name, kind=PartnerKind.GLASS, street="Weg 1", postal_code="10115", city="Berlin",
        regions="10", contact_name="Nele Neu", email="nele@glas.example", weekly_capacity=5, consent=True,
        message="**Bitte** schnell",
    )
    with unit_of_work(world.engine) as s:
        return applications.submit_application(s, form=form, captcha_answer=1, captcha_given="1", ip="",
                                               settings=world.settings).id


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()


def application(world, app_id: int) -> PartnerApplication:
    with unit_of_work(world.engine) as s:
        return s.get(PartnerApplication, app_id)


def test_pending_application_is_shown_as_plain_text(world):
    apply(world)
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    assert "Glas [Neu](https://evil.example)" in table_text(at) and "**Bitte** schnell" in table_text(at)
    assert "evil.example" not in "\n".join(m.value for m in at.markdown)


def test_admin_approves_an_application_with_a_chosen_username(world):
    app_id = apply(world, "Glas Neu")
    at = world.app(Role.ADMIN, page=PAGE)
    next(w for w in at.text_input if w.label == t("padmin.username")).input("glasneu")
    click(at, t("padmin.approve"))
    assert not at.exception
    assert t("padmin.approved") in texts(at)
    row = application(world, app_id)
    assert row.status == ApplicationStatus.APPROVED
    with unit_of_work(world.engine) as s:
        user = s.scalar(select(User).where(User.username == "glasneu"))
        assert (user.role, user.partner_id) == (Role.PARTNER, row.partner_id)
        assert s.get(Partner, row.partner_id).trial_until is not None
        assert s.scalar(select(OutboxMessage.template_key)) == "partner_approved"
    assert t("padmin.no_pending") in texts(at)
    assert "Glas Neu" in table_text(at)  # now among the businesses and the decided applications


def test_rejecting_needs_a_reason(world):
    app_id = apply(world)
    at = world.app(Role.ADMIN, page=PAGE)
    click(at, t("padmin.reject"))
    assert t("apply.reject_reason") in [e.value for e in at.error]
    assert application(world, app_id).status == ApplicationStatus.PENDING
    at.text_area[0].input("Region ist voll")
    click(at, t("padmin.reject"))
    assert t("padmin.rejected") in texts(at)
    assert (application(world, app_id).status, application(world, app_id).reject_reason) == (
        ApplicationStatus.REJECTED, "Region ist voll")


def select_partner(at: AppTest, partner_id: int) -> None:
    next(s for s in at.selectbox if s.label == t("padmin.select_partner")).set_value(partner_id)
    at.run()


def test_admin_deactivates_a_business_with_a_reason(world):
    at = world.app(Role.ADMIN, page=PAGE)
    select_partner(at, world.partner_id)
    click(at, t("padmin.deactivate"))
    assert t("padmin.reason_required") in [e.value for e in at.error]
    next(w for w in at.text_input if w.label == t("padmin.deactivate_reason")).input("Vertrag gekündigt")
    click(at, t("padmin.deactivate"))
    assert t("padmin.deactivated") in texts(at)
    with unit_of_work(world.engine) as s:
        assert s.get(Partner, world.partner_id).is_active is False
        assert s.get(User, world.users[Role.PARTNER]).is_active is False
    select_partner(at, world.partner_id)
    click(at, t("padmin.reactivate"))
    with unit_of_work(world.engine) as s:
        assert s.get(Partner, world.partner_id).is_active is True


def test_admin_edits_commission_and_capacity(world):
    at = world.app(Role.ADMIN, page=PAGE)
    select_partner(at, world.other_partner_id)
    next(n for n in at.number_input if n.label == t("padmin.commission")).set_value(12.5)
    next(n for n in at.number_input if n.label == t("padmin.capacity")).set_value(30)
    click(at, t("padmin.save_terms"))
    assert t("padmin.terms_saved") in texts(at)
    with unit_of_work(world.engine) as s:
        partner = s.get(Partner, world.other_partner_id)
        assert (partner.commission_bp, partner.weekly_capacity) == (1250, 30)
    assert "12,50 %" in table_text(at)
