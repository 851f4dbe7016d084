"""Access in core, derived from core.permissions.GRANTS: every gated service × every role, and object scope.

A call is *refused* when it raises PermissionDenied or NotFound, or returns None where that is the service's
refusal (the §6 refusal the caller commits with its log entry); anything else — a result, or a domain error such
as a refused status transition, which comes after the access check — is *allowed*. Expectations come from GRANTS, never from a copy of it. Object scope: a partner,
broker or client link reaching a case that is not theirs — by case number and by id — gets exactly what a
missing case gets, so the refusal reveals nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import (
    api_cases,
    api_keys,
    applications,
    assignment,
    attachments,
    board,
    cases,
    casework,
    chronicle,
    correspondence,
    dashboard,
    documents,
    import_write,
    inbound_mail,
    intake,
    kpi_views,
    kpis,
    notes,
    outbox_admin,
    partner_admin,
    partners,
    retention,
    settlements,
    tasks,
    templates,
    users,
    webhooks,
)
from core.auth import actor_for
from core.enums import CaseStatus, DocumentKind, NoteVisibility, PartnerKind, Role
from core.errors import NotFound, PermissionDenied, SchadenportalError
from core.permissions import GRANTS, SYSTEM, Action, Actor
from core.settings import Settings
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Case, DocumentVersion, Task, User
from tests.factories import make_broker, make_order, make_partner, make_user
from tests.unit.test_upload_validation import make_image

MISSING = "SP-1999-999999"
PNG = make_image("PNG")
TODAY = date.today()


@dataclass
class World:
    engine: object
    settings: Settings
    case: str  # partner A's order, submitted by broker 1
    other: str  # partner B's order, submitted by broker 2
    actors: dict[Role, Actor]  # each role, in scope of `case`
    outsiders: dict[str, Actor]  # partner B, broker 2, the client link of `other`
    version_id: int  # a document version of `case`
    task_id: int  # a task of `case`


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("access")
    url = f"sqlite:///{tmp / 'access.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    settings = Settings.load(env={"DATABASE_URL": url, "DATA_DIR": str(tmp / "data")}, secrets_path=tmp / "x.toml")
    partner_a, partner_b = make_partner(engine, "Glas A", PartnerKind.GLASS), make_partner(engine, "Glas B")
    broker_1, broker_2 = make_broker(engine, "Büro 1"), make_broker(engine, "Büro 2")
    case = make_order(engine, partner_a, broker_id=broker_1, last_name="Eigen")
    other = make_order(engine, partner_b, broker_id=broker_2, last_name="Fremd")
    ids = {role: make_user(engine, f"u_{role.value}", role) for role in (Role.ADMIN, Role.MANAGER, Role.STAFF,
                                                                       Role.LAWYER)}
    ids[Role.PARTNER] = make_user(engine, "u_partner", Role.PARTNER, partner_id=partner_a)
    ids[Role.BROKER] = make_user(engine, "u_broker", Role.BROKER, broker_id=broker_1)
    outsider_ids = {"partner B": make_user(engine, "u_partner_b", Role.PARTNER, partner_id=partner_b),
                    "broker 2": make_user(engine, "u_broker_2", Role.BROKER, broker_id=broker_2)}
    with unit_of_work(engine) as s:
        case_id, other_id = (s.scalar(select(Case.id).where(Case.number == n)) for n in (case, other))
        actors = {role: actor_for(s.get(User, uid)) for role, uid in ids.items()}
        actors[Role.CLIENT] = Actor(None, "client", "Kunde", Role.CLIENT, case_id=case_id)
        outsiders = {name: actor_for(s.get(User, uid)) for name, uid in outsider_ids.items()}
        outsiders["client of another case"] = Actor(None, "client", "Kunde", Role.CLIENT, case_id=other_id)
        version = documents.upload_document(s, actor=SYSTEM, settings=settings, case_number=case,
                                            kind=DocumentKind.REPORT, filename="gutachten.png", data=PNG)
        task = tasks.add_task(s, actor=SYSTEM, number=case, title="Prüfen")
        version_id, task_id = version.id, task.id
    yield World(engine, settings, case, other, actors, outsiders, version_id, task_id)
    engine.dispose()


@dataclass(frozen=True)
class Gate:
    name: str
    actions: frozenset[Action]  # what the role needs
    call: Callable[[Session, Actor, World, str], object]  # (session, actor, world, case number)
    any_of: bool = False  # one of the actions is enough (e.g. full intake or a broker's submission)
    case_scoped: bool = True
    none_refuses: bool = False  # the service returns None as its refusal (the caller commits the logged refusal)

    def allowed_for(self, role: Role) -> bool:
        granted = GRANTS[role]
        return any(a in granted for a in self.actions) if self.any_of else self.actions <= granted


def gate(name, actions, call, **kw) -> Gate:
    return Gate(name, frozenset(actions), call, **kw)


A = Action
KPI = kpis.KpiFilter(TODAY - timedelta(days=30), TODAY)

GATES = [
    # case-scoped: by case number
    gate("open_case", {A.VIEW_CASE}, lambda s, a, w, n: cases.open_case(s, actor=a, number=n), none_refuses=True),
    gate("case_workspace", {A.VIEW_CASE}, lambda s, a, w, n: casework.case_workspace(s, actor=a, number=n), none_refuses=True),
    gate("change_status", {A.VIEW_CASE, A.CHANGE_STATUS},
         lambda s, a, w, n: cases.change_status(s, actor=a, number=n, to=CaseStatus.REVIEW)),
    gate("set_amount_claimed", {A.VIEW_CASE, A.EDIT_CASE},
         lambda s, a, w, n: correspondence.set_amount_claimed(s, actor=a, number=n, amount_claimed_cents=100)),
    gate("record_insurer_query", {A.VIEW_CASE, A.CHANGE_STATUS},
         lambda s, a, w, n: correspondence.record_insurer_query(s, actor=a, number=n, subject="Foto fehlt")),
    gate("log_callback", {A.VIEW_CASE, A.WORK_TASKS},
         lambda s, a, w, n: correspondence.log_callback(s, actor=a, number=n, caller="client")),
    gate("list_queries", {A.VIEW_CASE}, lambda s, a, w, n: correspondence.list_queries(s, actor=a, number=n)),
    gate("list_notes", {A.VIEW_CASE}, lambda s, a, w, n: notes.list_notes(s, actor=a, number=n)),
    gate("add_note internal", {A.VIEW_CASE, A.WRITE_NOTE}, lambda s, a, w, n: notes.add_note(
        s, actor=a, number=n, visibility=NoteVisibility.INTERNAL, body="intern")),
    gate("add_note technical", {A.VIEW_CASE, A.WRITE_TECHNICAL_NOTE}, lambda s, a, w, n: notes.add_note(
        s, actor=a, number=n, visibility=NoteVisibility.TECHNICAL, body="technisch")),
    gate("add_note legal", {A.VIEW_CASE, A.VIEW_LEGAL_NOTES}, lambda s, a, w, n: notes.add_note(
        s, actor=a, number=n, visibility=NoteVisibility.LEGAL, body="rechtlich")),
    gate("add_task", {A.VIEW_CASE, A.WORK_TASKS}, lambda s, a, w, n: tasks.add_task(s, actor=a, number=n, title="x")),
    gate("list_case_tasks", {A.VIEW_CASE, A.WORK_TASKS},
         lambda s, a, w, n: tasks.list_case_tasks(s, actor=a, number=n)),
    gate("request_document", {A.VIEW_CASE, A.WORK_TASKS},
         lambda s, a, w, n: tasks.request_document(s, actor=a, number=n, kind=DocumentKind.PHOTO)),
    gate("case_chronicle", {A.VIEW_CASE, A.EXPORT_CHRONICLE},
         lambda s, a, w, n: chronicle.case_chronicle(s, actor=a, number=n), none_refuses=True),
    gate("list_documents", {A.VIEW_CASE}, lambda s, a, w, n: documents.list_documents(s, actor=a, case_number=n)),
    gate("upload_document", {A.VIEW_CASE, A.UPLOAD_DOCUMENT}, lambda s, a, w, n: documents.upload_document(
        s, actor=a, settings=w.settings, case_number=n, kind=DocumentKind.PHOTO, filename="f.png", data=PNG)),
    gate("partner_choices", {A.VIEW_CASE, A.OVERRIDE_ASSIGNMENT},
         lambda s, a, w, n: assignment.partner_choices(s, actor=a, number=n)),
    gate("accept_order", {A.VIEW_CASE, A.RESPOND_ORDER},
         lambda s, a, w, n: assignment.accept_order(s, actor=a, number=n)),
    gate("set_case_legal_hold", {A.VIEW_CASE, A.SET_LEGAL_HOLD}, lambda s, a, w, n: retention.set_case_legal_hold(
        s, actor=a, number=n, on=True, reason="Rechtsstreit")),
    gate("download_declaration", {A.VIEW_CASE, A.SUBMIT_INVOICE},
         lambda s, a, w, n: attachments.download_declaration(s, actor=a, number=n), none_refuses=True),
    # global
    gate("list_board", {A.LIST_CASES}, lambda s, a, w, n: board.list_board(s, actor=a, filters=board.BoardFilter()),
         case_scoped=False),
    gate("export_board", {A.LIST_CASES, A.EXPORT_DATA},
         lambda s, a, w, n: board.export_board(s, actor=a, filters=board.BoardFilter()), case_scoped=False),
    gate("list_orders", {A.VIEW_OWN_ORDERS},
         lambda s, a, w, n: board.list_orders(s, actor=a, filters=board.BoardFilter()), case_scoped=False),
    gate("weekly_quota", {A.VIEW_OWN_ORDERS}, lambda s, a, w, n: assignment.weekly_quota(s, actor=a),
         case_scoped=False),
    gate("staff_overview", {A.LIST_CASES}, lambda s, a, w, n: dashboard.staff_overview(s, actor=a),
         case_scoped=False),
    gate("partner_orders", {A.VIEW_OWN_ORDERS}, lambda s, a, w, n: dashboard.partner_orders(s, actor=a),
         case_scoped=False),
    gate("broker_cases", {A.SUBMIT_CASE}, lambda s, a, w, n: dashboard.broker_cases(s, actor=a), case_scoped=False),
    gate("manager_headlines", {A.VIEW_KPIS}, lambda s, a, w, n: dashboard.manager_headlines(s, actor=a),
         case_scoped=False),
    gate("admin_overview", {A.MANAGE_USERS}, lambda s, a, w, n: dashboard.admin_overview(s, actor=a),
         case_scoped=False),
    gate("my_tasks", {A.WORK_TASKS}, lambda s, a, w, n: tasks.my_tasks(s, actor=a), case_scoped=False),
    gate("compute_kpis", {A.VIEW_KPIS}, lambda s, a, w, n: kpis.compute_kpis(s, actor=a, flt=KPI), case_scoped=False),
    gate("log_kpi_export", {A.VIEW_KPIS, A.EXPORT_DATA}, lambda s, a, w, n: kpi_views.log_kpi_export(
        s, actor=a, flt=KPI, table="weekly", rows=1, file_format="csv"), case_scoped=False),
    gate("list_users", {A.MANAGE_USERS}, lambda s, a, w, n: users.list_users(s, actor=a), case_scoped=False),
    gate("set_digest_mode", {A.VIEW_ACCOUNT}, lambda s, a, w, n: users.set_digest_mode(s, actor=a),
         case_scoped=False),
    gate("list_templates", {A.MANAGE_TEMPLATES}, lambda s, a, w, n: templates.list_templates(s, actor=a),
         case_scoped=False),
    gate("list_webhooks", {A.MANAGE_WEBHOOKS}, lambda s, a, w, n: webhooks.list_webhooks(s, actor=a),
         case_scoped=False),
    gate("list_applications", {A.MANAGE_PARTNERS}, lambda s, a, w, n: applications.list_applications(s, actor=a),
         case_scoped=False),
    gate("list_partners", {A.MANAGE_PARTNERS}, lambda s, a, w, n: partner_admin.list_partners(s, actor=a),
         case_scoped=False),
    gate("get_own_profile", {A.EDIT_OWN_PROFILE}, lambda s, a, w, n: partners.get_own_profile(s, actor=a),
         case_scoped=False),
    gate("open_totals", {A.MANAGE_SETTLEMENTS}, lambda s, a, w, n: settlements.open_totals(s, actor=a),
         case_scoped=False),
    gate("list_settlements", {A.MANAGE_SETTLEMENTS, A.VIEW_OWN_SETTLEMENTS},
         lambda s, a, w, n: settlements.list_settlements(s, actor=a), any_of=True, case_scoped=False),
    gate("outbox_counts", {A.MANAGE_SETTINGS}, lambda s, a, w, n: outbox_admin.outbox_counts(s, actor=a),
         case_scoped=False),
    gate("preview_import", {A.IMPORT_CASES}, lambda s, a, w, n: import_write.preview_import(
        s, actor=a, data="received_at,damage_type,insurer,client_name,postal_code\n"), case_scoped=False),
    gate("purge dry run", {A.GDPR}, lambda s, a, w, n: retention.purge(
        s, actor=a, settings=w.settings, at=retention.now(), dry_run=True), case_scoped=False),
    gate("find_duplicates", {A.CREATE_CASE, A.SUBMIT_CASE}, lambda s, a, w, n: intake.find_duplicates(
        s, actor=a, plate="B-AB 1234", incident_date=None, insurer_claim_number="X"), any_of=True, case_scoped=False),
    gate("create_case", {A.CREATE_CASE, A.SUBMIT_CASE}, lambda s, a, w, n: cases.create_case(
        s, actor=a, data=cases.NewCase(damage_type="glass", insurer_name="HUK-COBURG", client_last_name="Neu",
                                       postal_code="10115", broker_id=a.broker_id)), any_of=True, case_scoped=False),
    gate("list_api_keys", {A.USE_API}, lambda s, a, w, n: api_keys.list_api_keys(s, actor=a), case_scoped=False),
    gate("list_own_cases (API)", {A.USE_API}, lambda s, a, w, n: api_cases.list_own_cases(s, actor=a),
         case_scoped=False),
    gate("list_unassigned_mail", {A.HANDLE_INBOUND_MAIL},
         lambda s, a, w, n: inbound_mail.list_unassigned_mail(s, actor=a), case_scoped=False),
    gate("assign_inbound_mail", {A.HANDLE_INBOUND_MAIL}, lambda s, a, w, n: inbound_mail.assign_inbound_mail(
        s, actor=a, settings=w.settings, mail_id=0, case_number=n), case_scoped=False),
    gate("dismiss_inbound_mail", {A.HANDLE_INBOUND_MAIL}, lambda s, a, w, n: inbound_mail.dismiss_inbound_mail(
        s, actor=a, settings=w.settings, mail_id=0, reason="Werbung"), case_scoped=False),
]

#: Actions no service gates on its own (what they control is covered elsewhere, named here).
NOT_SERVICE_GATED = {
    A.VIEW_START: "the start page only picks one of the dashboards above",
    A.SEND_CLAIM_LETTER: "tests/integration/test_claim_letters.py (needs a sendable case)",
    A.SIGN_CLAIM_LETTER: "marks a lawyer's approval as signed, refuses nothing (test_claim_letters.py)",
    A.RECORD_PAYMENT: "tests/integration/test_cases.py and test_kpis.py (needs a claim letter first)",
    A.DOWNLOAD_DOCUMENT: "download by id below and tests/integration/test_documents.py",
    A.DOWNLOAD_REPORT: "download by id below and tests/integration/test_documents.py",
    A.EXPORT_CHRONICLE: "case_chronicle above",
    A.MANAGE_SETTINGS: "outbox_counts above",
    A.VIEW_AUDIT_LOG: "tests of core/access_log.py and core/chain_check.py",
    A.SHARE_DOCUMENT: "tests of core/share_links.py",
    A.SEARCH_DOCUMENTS: "tests of core/search.py",
    A.VIEW_OPS: "core.health.ops_overview (reads with its own engine): tests/integration/test_health.py, page matrix",
    A.SUBMIT_INVOICE: "download_declaration above; submit_invoice in tests/integration/test_orders.py",
}


def outcome(world: World, g: Gate, actor: Actor, number: str) -> tuple[str, str]:
    """("refused", message) or ("allowed", type); the session is rolled back, so nothing stays."""
    with Session(world.engine, expire_on_commit=False) as s:
        try:
            result = g.call(s, actor, world, number)
        except (PermissionDenied, NotFound) as exc:
            return "refused", f"{type(exc).__name__}: {exc}"
        except SchadenportalError as exc:  # past the access check: the domain refused the change itself
            return "allowed", type(exc).__name__
        finally:
            s.rollback()
    return ("refused", "None") if result is None and g.none_refuses else ("allowed", type(result).__name__)


def test_every_action_is_gated_by_a_service_here_or_named_with_where_it_is_tested():
    covered = set().union(*(g.actions for g in GATES)) | set(NOT_SERVICE_GATED)
    assert set(Action) - covered == set()


@pytest.mark.parametrize("g", GATES, ids=lambda g: g.name)
def test_each_role_is_allowed_exactly_what_grants_gives_it(world, g):
    got = {role: outcome(world, g, actor, world.case)[0] for role, actor in world.actors.items()}
    expected = {role: "allowed" if g.allowed_for(role) else "refused" for role in world.actors}
    assert got == expected


CASE_GATES = [g for g in GATES if g.case_scoped]


@pytest.mark.parametrize("g", CASE_GATES, ids=lambda g: g.name)
def test_out_of_scope_cases_are_refused_exactly_like_a_missing_one(world, g):
    for who, actor in world.outsiders.items():
        foreign, missing = outcome(world, g, actor, world.case), outcome(world, g, actor, MISSING)
        assert foreign[0] == "refused", who
        assert foreign == missing, who


@pytest.mark.parametrize("who", ["partner B", "broker 2", "client of another case"])
def test_a_document_of_another_case_by_id_is_refused_like_a_missing_id(world, who):
    actor = world.outsiders[who]
    with Session(world.engine) as s:
        missing_id = (s.scalar(select(DocumentVersion.id).order_by(DocumentVersion.id.desc())) or 0) + 1000
        foreign = documents.download_document(s, actor=actor, settings=world.settings, version_id=world.version_id)
        missing = documents.download_document(s, actor=actor, settings=world.settings, version_id=missing_id)
        s.rollback()
    assert foreign is None and missing is None


def test_the_broker_of_the_case_downloads_the_report_by_id_and_the_partner_its_document(world):
    with Session(world.engine) as s:
        for role in (Role.BROKER, Role.PARTNER):
            got = documents.download_document(s, actor=world.actors[role], settings=world.settings,
                                              version_id=world.version_id)
            assert got is not None and got.data == PNG
        s.rollback()


@pytest.mark.parametrize("who", ["partner B", "broker 2", "client of another case"])
def test_a_task_of_another_case_by_id_is_refused_like_a_missing_id(world, who):
    actor = world.outsiders[who]

    def attempt(task_id):
        with Session(world.engine) as s:
            try:
                tasks.complete_task(s, actor=actor, task_id=task_id)
            except (NotFound, PermissionDenied) as exc:
                return type(exc).__name__, str(exc)
            finally:
                s.rollback()
        return "allowed", ""

    with Session(world.engine) as s:
        missing_id = s.scalar(select(Task.id).order_by(Task.id.desc())) + 1000
    assert attempt(world.task_id) == attempt(missing_id) != ("allowed", "")


def test_a_broker_cannot_submit_a_case_for_another_agency(world):
    broker = world.actors[Role.BROKER]
    with Session(world.engine) as s:
        other_agency = broker.broker_id + 1
        with pytest.raises(PermissionDenied):
            cases.create_case(s, actor=broker, data=cases.NewCase(
                damage_type="glass", insurer_name="HUK-COBURG", client_last_name="Neu", postal_code="10115",
                broker_id=other_agency))
        s.rollback()


def test_a_partner_sees_only_its_own_orders_on_its_board(world):
    with Session(world.engine) as s:
        page = board.list_orders(s, actor=world.actors[Role.PARTNER], filters=board.BoardFilter(partner_id=None))
        s.rollback()
    assert [row.number for row in page.rows] == [world.case]
