"""Who may do what (§3): one grants table, object scope for partners, brokers and clients.

Checked in core on every call (`require`), not only by hiding pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.enums import NoteVisibility, Role
from core.errors import PermissionDenied


class Action(StrEnum):
    VIEW_START = "view_start"
    VIEW_ACCOUNT = "view_account"
    VIEW_CASE = "view_case"
    LIST_CASES = "list_cases"  # the board over all cases
    CREATE_CASE = "create_case"
    SUBMIT_CASE = "submit_case"  # broker's reduced intake
    EDIT_CASE = "edit_case"
    CHANGE_STATUS = "change_status"
    WORK_TASKS = "work_tasks"
    WRITE_NOTE = "write_note"
    WRITE_TECHNICAL_NOTE = "write_technical_note"
    VIEW_LEGAL_NOTES = "view_legal_notes"
    SEND_CLAIM_LETTER = "send_claim_letter"
    SIGN_CLAIM_LETTER = "sign_claim_letter"
    RECORD_PAYMENT = "record_payment"
    OVERRIDE_ASSIGNMENT = "override_assignment"
    UPLOAD_DOCUMENT = "upload_document"
    DOWNLOAD_DOCUMENT = "download_document"
    DOWNLOAD_REPORT = "download_report"
    VIEW_OWN_ORDERS = "view_own_orders"
    RESPOND_ORDER = "respond_order"
    EDIT_OWN_PROFILE = "edit_own_profile"
    VIEW_KPIS = "view_kpis"
    EXPORT_DATA = "export_data"
    EXPORT_CHRONICLE = "export_chronicle"
    MANAGE_USERS = "manage_users"
    MANAGE_PARTNERS = "manage_partners"
    MANAGE_TEMPLATES = "manage_templates"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_WEBHOOKS = "manage_webhooks"
    VIEW_AUDIT_LOG = "view_audit_log"
    GDPR = "gdpr"
    IMPORT_CASES = "import_cases"
    SUBMIT_INVOICE = "submit_invoice"  # invoice data and file for an order
    VIEW_OWN_SETTLEMENTS = "view_own_settlements"
    MANAGE_SETTLEMENTS = "manage_settlements"  # create statements, mark them paid
    SET_LEGAL_HOLD = "set_legal_hold"  # exempt a case from the retention purge (§10)
    SEARCH_DOCUMENTS = "search_documents"  # full-text search over the documents within the own scope (§9)
    SHARE_DOCUMENT = "share_document"  # secure share links to a document version (§9)
    VIEW_OPS = "view_ops"  # the Betrieb page: health checks, workers, backlog, failed deliveries
    HANDLE_INBOUND_MAIL = "handle_inbound_mail"  # the Posteingang: assign or dismiss held insurer mail
    USE_API = "use_api"  # hold API keys and call the REST API (api/) with them


_BASE = frozenset({Action.VIEW_START, Action.VIEW_ACCOUNT})
_CASE_WORK = frozenset(
    {
        Action.VIEW_CASE, Action.LIST_CASES, Action.CREATE_CASE, Action.EDIT_CASE, Action.CHANGE_STATUS,
        Action.WORK_TASKS, Action.WRITE_NOTE, Action.WRITE_TECHNICAL_NOTE, Action.SEND_CLAIM_LETTER,
        Action.RECORD_PAYMENT, Action.OVERRIDE_ASSIGNMENT, Action.UPLOAD_DOCUMENT, Action.DOWNLOAD_DOCUMENT,
        Action.DOWNLOAD_REPORT, Action.EXPORT_DATA, Action.EXPORT_CHRONICLE, Action.SUBMIT_INVOICE,
        Action.MANAGE_SETTLEMENTS, Action.SHARE_DOCUMENT, Action.SEARCH_DOCUMENTS, Action.HANDLE_INBOUND_MAIL,
    }
)

GRANTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _BASE | _CASE_WORK | {
        Action.VIEW_LEGAL_NOTES, Action.VIEW_KPIS, Action.MANAGE_USERS, Action.MANAGE_PARTNERS,
        Action.MANAGE_TEMPLATES, Action.MANAGE_SETTINGS, Action.MANAGE_WEBHOOKS, Action.VIEW_AUDIT_LOG,
        Action.GDPR, Action.IMPORT_CASES, Action.SET_LEGAL_HOLD, Action.VIEW_OPS, Action.USE_API,
    },
    Role.MANAGER: _BASE | {
        Action.VIEW_CASE, Action.LIST_CASES, Action.VIEW_KPIS, Action.EXPORT_DATA, Action.DOWNLOAD_DOCUMENT,
        Action.DOWNLOAD_REPORT, Action.SEARCH_DOCUMENTS,
    },
    Role.STAFF: _BASE | _CASE_WORK,
    Role.LAWYER: _BASE | _CASE_WORK | {Action.VIEW_LEGAL_NOTES, Action.SIGN_CLAIM_LETTER, Action.SET_LEGAL_HOLD},
    Role.PARTNER: _BASE | {
        Action.VIEW_CASE, Action.VIEW_OWN_ORDERS, Action.RESPOND_ORDER, Action.UPLOAD_DOCUMENT,
        Action.DOWNLOAD_DOCUMENT, Action.WRITE_TECHNICAL_NOTE, Action.EDIT_OWN_PROFILE, Action.SUBMIT_INVOICE,
        Action.VIEW_OWN_SETTLEMENTS, Action.SEARCH_DOCUMENTS,
    },
    Role.BROKER: _BASE | {Action.VIEW_CASE, Action.SUBMIT_CASE, Action.DOWNLOAD_REPORT, Action.UPLOAD_DOCUMENT,
                          Action.SEARCH_DOCUMENTS, Action.USE_API},
    Role.CLIENT: frozenset({Action.VIEW_CASE, Action.UPLOAD_DOCUMENT}),
}

#: Which note visibilities each role may read.
NOTE_VISIBILITY: dict[Role, frozenset[NoteVisibility]] = {
    Role.ADMIN: frozenset(NoteVisibility),
    Role.LAWYER: frozenset(NoteVisibility),
    Role.STAFF: frozenset({NoteVisibility.INTERNAL, NoteVisibility.TECHNICAL}),
    Role.MANAGER: frozenset({NoteVisibility.INTERNAL, NoteVisibility.TECHNICAL}),
    Role.PARTNER: frozenset({NoteVisibility.TECHNICAL}),
    Role.BROKER: frozenset(),
    Role.CLIENT: frozenset(),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, a client link, or the system (CLI, worker)."""

    user_id: int | None
    username: str
    display_name: str
    role: Role
    partner_id: int | None = None
    broker_id: int | None = None
    case_id: int | None = None  # client links are bound to one case
    ip: str = ""

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.role == Role.ADMIN


#: The actor for the CLI and the worker: acts with admin rights, recorded as "System".
SYSTEM = Actor(user_id=None, username="system", display_name="System", role=Role.ADMIN)


class CaseScoped(Protocol):
    id: int
    partner_id: int | None
    broker_id: int | None


def can(actor: Actor, action: Action, obj: CaseScoped | None = None) -> bool:
    """True if the actor's role grants the action and, for a case, the case is within its scope."""
    if action not in GRANTS.get(actor.role, frozenset()):
        return False
    if obj is None:
        return True
    return in_scope(actor, obj)


def in_scope(actor: Actor, case: CaseScoped) -> bool:
    """Object scope: partners see their own orders, brokers their own cases, a client link its case."""
    if actor.role == Role.PARTNER:
        return actor.partner_id is not None and case.partner_id == actor.partner_id
    if actor.role == Role.BROKER:
        return actor.broker_id is not None and case.broker_id == actor.broker_id
    if actor.role == Role.CLIENT:
        return actor.case_id is not None and case.id == actor.case_id
    return True


def require(actor: Actor, action: Action, obj: CaseScoped | None = None) -> None:
    """Raise PermissionDenied unless `can(actor, action, obj)`."""
    if not can(actor, action, obj):
        raise PermissionDenied("Keine Berechtigung für diese Aktion.")


def visible_note_levels(actor: Actor) -> frozenset[NoteVisibility]:
    """The note visibilities this actor may read."""
    return NOTE_VISIBILITY.get(actor.role, frozenset())
