"""The domain's vocabulary: roles, statuses, kinds. No imports, so db/ and core/ can share it."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    LAWYER = "lawyer"
    PARTNER = "partner"
    BROKER = "broker"
    CLIENT = "client"


#: Roles that must log in with a second factor (§3, §10).
TOTP_REQUIRED_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER})


class CaseStatus(StrEnum):
    RECEIVED = "received"
    REVIEW = "review"
    CLAIM_SENT = "claim_sent"
    INSURER_QUERY = "insurer_query"
    PAID = "paid"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {CaseStatus.RECEIVED, CaseStatus.REVIEW, CaseStatus.CLAIM_SENT, CaseStatus.INSURER_QUERY, CaseStatus.PAID}
)


class DamageType(StrEnum):
    GLASS = "glass"
    ACCIDENT = "accident"
    OTHER = "other"


class PartnerKind(StrEnum):
    GLASS = "glass"
    APPRAISER = "appraiser"
    WORKSHOP = "workshop"


class NoteVisibility(StrEnum):
    INTERNAL = "internal"  # back office only
    LEGAL = "legal"  # lawyer and admin only
    TECHNICAL = "technical"  # also the assigned partner


class DocumentKind(StrEnum):
    REGISTRATION = "registration"  # Fahrzeugschein
    POWER_OF_ATTORNEY = "power_of_attorney"  # Vollmacht
    INVOICE = "invoice"
    REPORT = "report"  # Gutachten
    PHOTO = "photo"
    ASSIGNMENT = "assignment"  # Abtretungserklärung
    LETTER = "letter"  # insurer correspondence
    CLAIM_LETTER = "claim_letter"
    OTHER = "other"


class LegalBasis(StrEnum):
    CONTRACT = "contract"
    CONSENT = "consent"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class AssignmentOrigin(StrEnum):
    AUTO = "auto"
    OVERRIDE = "override"
    DECLINE = "decline"


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class SettlementStatus(StrEnum):
    OPEN = "open"  # statement sent, payout pending
    PAID = "paid"
