"""The grants table of §3, the whole matrix, and object scope."""

from types import SimpleNamespace

import pytest

from core.enums import NoteVisibility, Role
from core.errors import PermissionDenied
from core.permissions import GRANTS, Action, Actor, can, require, visible_note_levels

A = Action
# Expected grants, written out independently of core.permissions.GRANTS.
EXPECTED: dict[Action, set[Role]] = {
    A.VIEW_START: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER},
    A.VIEW_ACCOUNT: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER},
    A.VIEW_CASE: set(Role),
    A.LIST_CASES: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER},
    A.CREATE_CASE: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.SUBMIT_CASE: {Role.BROKER},
    A.EDIT_CASE: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.CHANGE_STATUS: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.WORK_TASKS: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.WRITE_NOTE: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.WRITE_TECHNICAL_NOTE: {Role.ADMIN, Role.STAFF, Role.LAWYER, Role.PARTNER},
    A.VIEW_LEGAL_NOTES: {Role.ADMIN, Role.LAWYER},
    A.SEND_CLAIM_LETTER: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.SIGN_CLAIM_LETTER: {Role.LAWYER},
    A.RECORD_PAYMENT: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.OVERRIDE_ASSIGNMENT: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.UPLOAD_DOCUMENT: {Role.ADMIN, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER, Role.CLIENT},
    A.DOWNLOAD_DOCUMENT: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER},
    A.DOWNLOAD_REPORT: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.BROKER},
    A.VIEW_OWN_ORDERS: {Role.PARTNER},
    A.RESPOND_ORDER: {Role.PARTNER},
    A.EDIT_OWN_PROFILE: {Role.PARTNER},
    A.VIEW_KPIS: {Role.ADMIN, Role.MANAGER},
    A.SET_LEGAL_HOLD: {Role.ADMIN, Role.LAWYER},
    A.EXPORT_DATA: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER},
    A.EXPORT_CHRONICLE: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.MANAGE_USERS: {Role.ADMIN},
    A.MANAGE_PARTNERS: {Role.ADMIN},
    A.MANAGE_TEMPLATES: {Role.ADMIN},
    A.MANAGE_SETTINGS: {Role.ADMIN},
    A.MANAGE_WEBHOOKS: {Role.ADMIN},
    A.VIEW_AUDIT_LOG: {Role.ADMIN},
    A.GDPR: {Role.ADMIN},
    A.IMPORT_CASES: {Role.ADMIN},
    A.SUBMIT_INVOICE: {Role.ADMIN, Role.STAFF, Role.LAWYER, Role.PARTNER},
    A.VIEW_OWN_SETTLEMENTS: {Role.PARTNER},
    A.MANAGE_SETTLEMENTS: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.SEARCH_DOCUMENTS: {Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER},
    A.SHARE_DOCUMENT: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.VIEW_OPS: {Role.ADMIN},
    A.HANDLE_INBOUND_MAIL: {Role.ADMIN, Role.STAFF, Role.LAWYER},
    A.USE_API: {Role.ADMIN, Role.BROKER},
}


def actor(role: Role, **kw) -> Actor:
    return Actor(user_id=1, username="u", display_name="U", role=role, **kw)


def test_every_action_has_an_expectation():
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_grant_matrix(role, action):
    assert can(actor(role), action) is (role in EXPECTED[action])


def test_grants_table_covers_every_role():
    assert set(GRANTS) == set(Role)


CASE_OF_A = SimpleNamespace(id=10, partner_id=1, broker_id=5)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (actor(Role.PARTNER, partner_id=1), True),
        (actor(Role.PARTNER, partner_id=2), False),
        (actor(Role.PARTNER), False),
        (actor(Role.BROKER, broker_id=5), True),
        (actor(Role.BROKER, broker_id=6), False),
        (actor(Role.CLIENT, case_id=10), True),
        (actor(Role.CLIENT, case_id=11), False),
        (actor(Role.STAFF), True),
        (actor(Role.MANAGER), True),
    ],
)
def test_case_scope(who, allowed):
    assert can(who, Action.VIEW_CASE, CASE_OF_A) is allowed


def test_unassigned_case_is_out_of_every_partners_scope():
    case = SimpleNamespace(id=1, partner_id=None, broker_id=None)
    assert not can(actor(Role.PARTNER, partner_id=1), Action.VIEW_CASE, case)


def test_require_raises_for_a_missing_grant():
    with pytest.raises(PermissionDenied):
        require(actor(Role.MANAGER), Action.CHANGE_STATUS)


def test_require_raises_for_another_partners_order():
    with pytest.raises(PermissionDenied):
        require(actor(Role.PARTNER, partner_id=2), Action.VIEW_CASE, CASE_OF_A)


@pytest.mark.parametrize(
    ("role", "levels"),
    [
        (Role.ADMIN, set(NoteVisibility)),
        (Role.LAWYER, set(NoteVisibility)),
        (Role.STAFF, {NoteVisibility.INTERNAL, NoteVisibility.TECHNICAL}),
        (Role.MANAGER, {NoteVisibility.INTERNAL, NoteVisibility.TECHNICAL}),
        (Role.PARTNER, {NoteVisibility.TECHNICAL}),
        (Role.BROKER, set()),
        (Role.CLIENT, set()),
    ],
)
def test_note_visibility(role, levels):
    assert visible_note_levels(actor(role)) == levels
