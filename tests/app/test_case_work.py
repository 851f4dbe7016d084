"""Working a case on its page: tasks, notes by visibility, insurer query, payment, documents, callbacks."""

from io import BytesIO

from PIL import Image

from core import cases, notes
from core.enums import CaseStatus, NoteVisibility, Role
from core.i18n import t
from core.permissions import Actor
from db.engine import unit_of_work
from tests.app.conftest import table_text, texts

STAFF = Actor(user_id=None, username="s", display_name="Sys", role=Role.STAFF)


def page(world, role, number):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = number
    at.run()
    return at


def form_input(at, label, value):
    next(w for w in at.text_input if w.label == label).input(value)


def click(at, label):
    next(b for b in at.button if b.label == label).click()
    at.run()


def to_claim_sent(world):
    with unit_of_work(world.engine) as s:
        cases.change_status(s, actor=STAFF, number=world.own_case, to=CaseStatus.REVIEW)
        cases.change_status(s, actor=STAFF, number=world.own_case, to=CaseStatus.CLAIM_SENT)


def test_staff_adds_and_completes_a_task(world):
    at = page(world, Role.STAFF, world.own_case)
    form_input(at, t("tasks.new"), "Fahrzeugschein anfordern")
    click(at, t("tasks.add"))
    assert t("tasks.added") in texts(at)
    assert any("Fahrzeugschein anfordern" in x.value for x in at.text)
    click(at, t("tasks.done"))
    assert t("tasks.marked_done") in texts(at)


def test_notes_by_visibility(world):
    with unit_of_work(world.engine) as s:
        lawyer = Actor(user_id=None, username="l", display_name="L", role=Role.LAWYER)
        notes.add_note(s, actor=STAFF, number=world.own_case, visibility=NoteVisibility.INTERNAL, body="intern-123")
        notes.add_note(s, actor=lawyer, number=world.own_case, visibility=NoteVisibility.LEGAL, body="jura-456")
        notes.add_note(s, actor=STAFF, number=world.own_case, visibility=NoteVisibility.TECHNICAL, body="technik-789")
    seen = {role: " ".join(x.value for x in page(world, role, world.own_case).text)
            for role in (Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER)}
    assert "intern-123" in seen[Role.STAFF] and "jura-456" not in seen[Role.STAFF]
    assert {"intern-123", "jura-456", "technik-789"} <= set(seen[Role.LAWYER].split())
    assert "technik-789" in seen[Role.PARTNER] and "intern-123" not in seen[Role.PARTNER]
    assert "jura-456" not in seen[Role.PARTNER] and "technik-789" not in seen[Role.BROKER]


def test_partner_writes_a_technical_note(world):
    at = page(world, Role.PARTNER, world.own_case)
    next(w for w in at.text_area if w.label == t("notes.new")).input("Scheibe bestellt")
    click(at, t("notes.add"))
    assert t("notes.added") in texts(at)
    assert any("Scheibe bestellt" in x.value for x in at.text)


def test_insurer_query_then_answer_returns_to_claim_sent(world):
    to_claim_sent(world)
    at = page(world, Role.STAFF, world.own_case)
    form_input(at, t("query.subject"), "Fotos der Beschädigung")
    click(at, t("query.record"))
    assert t("query.recorded") in texts(at)
    assert "Rückfrage" in texts(at)
    click(at, t("query.answer"))
    assert t("query.answered") in texts(at)
    with unit_of_work(world.engine) as s:
        assert cases.get_case(s, number=world.own_case).status == CaseStatus.CLAIM_SENT


def test_payment_shows_the_cut(world):
    to_claim_sent(world)
    at = page(world, Role.STAFF, world.own_case)
    form_input(at, t("case.amount_paid"), "400,00")
    click(at, t("payment.record"))
    assert t("payment.recorded") in texts(at)
    assert "100,00 €" in table_text(at)  # 500,00 € claimed − 400,00 € paid


def test_payment_above_claim_is_refused(world):
    to_claim_sent(world)
    at = page(world, Role.STAFF, world.own_case)
    form_input(at, t("case.amount_paid"), "900,00")
    click(at, t("payment.record"))
    assert t("payment.more_than_claimed") in texts(at)


def test_staff_uploads_a_photo_and_it_is_listed(world):
    buf = BytesIO()
    Image.new("RGB", (20, 20), (0, 100, 0)).save(buf, format="PNG")
    at = page(world, Role.STAFF, world.own_case)
    at.file_uploader[0].upload("foto.png", buf.getvalue(), "image/png")
    click(at, t("docs.upload_button"))
    assert not at.exception
    assert t("docs.uploaded", name="foto.png") in texts(at)
    assert any("foto.png" in x.value for x in at.text)


def test_callback_is_logged_in_the_timeline(world):
    at = page(world, Role.STAFF, world.own_case)
    click(at, t("callback.log"))
    assert t("callback.logged") in texts(at)
    assert "Statusanruf erfasst" in table_text(at)


def test_task_can_be_given_to_another_clerk(world):
    at = page(world, Role.STAFF, world.own_case)
    form_input(at, t("tasks.new"), "Gutachten prüfen")
    next(s for s in at.selectbox if s.label == t("tasks.assignee")).set_value(world.users[Role.LAWYER])
    click(at, t("tasks.add"))
    assert any("Gutachten prüfen" in x.value and "T_Lawyer" in x.value for x in at.text)



def assigned_to_world_partner(world):
    from core.assignment import assign_partner

    with unit_of_work(world.engine) as s:
        case = cases.get_case(s, number=world.own_case)
        case.partner_id = None
        assert assign_partner(s, actor=STAFF, case=case).partner_id == world.partner_id


def test_partner_accepts_its_order(world):
    assigned_to_world_partner(world)
    at = page(world, Role.PARTNER, world.own_case)
    click(at, t("assign.accept"))
    assert t("assign.accepted") in texts(at)
    assert t("assign.is_accepted") in texts(at)


def test_partner_declines_and_the_order_moves_on(world):
    assigned_to_world_partner(world)
    at = page(world, Role.PARTNER, world.own_case)
    form_input(at, t("case.reason"), "Betriebsurlaub")
    click(at, t("assign.decline"))
    assert not at.exception
    assert t("assign.declined") in texts(at)
    with unit_of_work(world.engine) as s:
        assert cases.get_case(s, number=world.own_case).partner_id == world.other_partner_id


def test_staff_overrides_the_partner(world):
    at = page(world, Role.STAFF, world.own_case)
    next(s for s in at.selectbox if s.label == t("assign.partner")).set_value(world.other_partner_id)
    reason = [w for w in at.text_input if w.label == t("case.reason")][-1]
    reason.input("Kunde wünscht Betrieb Zwei")
    click(at, t("assign.override"))
    assert t("assign.override_done") in texts(at)
    assert "Kunde wünscht Betrieb Zwei" in table_text(at)


def test_staff_requests_a_missing_document_from_the_client(world):
    from sqlalchemy import select

    from db.models import Task

    def open_requests():
        with unit_of_work(world.engine) as s:
            return len(s.scalars(select(Task.kind).where(Task.kind.like("document:%"), Task.done_at.is_(None))).all())

    before = open_requests()
    at = page(world, Role.STAFF, world.own_case)
    buttons = [b for b in at.button if b.label == t("checklist.request")]
    assert buttons, "a missing document the client can send has a request button"
    buttons[0].click()
    at.run()
    assert "angefordert" in texts(at)
    assert open_requests() == before + 1


def test_partners_see_no_request_buttons(world):
    at = page(world, Role.PARTNER, world.own_case)
    assert not [b for b in at.button if b.label == t("checklist.request")]


def test_lawyer_sets_and_releases_a_legal_hold_with_a_reason(world):
    from sqlalchemy import select

    from db.models import Case

    def held():
        with unit_of_work(world.engine) as s:
            return s.scalar(select(Case.legal_hold).where(Case.number == world.own_case))

    at = page(world, Role.LAWYER, world.own_case)
    click(at, t("hold.set"))
    assert t("retention.hold_reason_required") in texts(at) and held() is False  # no reason, nothing changes
    form_input(at, t("hold.reason"), "Klage anhängig")
    click(at, t("hold.set"))
    assert t("hold.done") in texts(at) and held() is True
    at = page(world, Role.LAWYER, world.own_case)
    form_input(at, t("hold.reason"), "Verfahren beendet")
    click(at, t("hold.release"))
    assert held() is False


def test_staff_cannot_set_a_legal_hold(world):
    at = page(world, Role.STAFF, world.own_case)
    assert not [b for b in at.button if b.label == t("hold.set")]
