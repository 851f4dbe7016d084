"""All ORM models; importing this package registers every table on Base.metadata."""

from db.base import Base
from db.models.audit import AccessLog, CaseEvent, LoginAttempt, Setting, UserSession
from db.models.cases import Case, CaseCallback, InsurerQuery, Note, SurveyAnswer, Task
from db.models.documents import Document, DocumentVersion
from db.models.messaging import OutboxMessage, Template, Webhook, WebhookDelivery
from db.models.parties import (
    Assignment,
    Broker,
    Counter,
    Insurer,
    Partner,
    Person,
    User,
)
from db.models.partners import Invoice, PartnerApplication, Settlement, SettlementLine

__all__ = [
    "AccessLog",
    "Assignment",
    "Base",
    "Broker",
    "Case",
    "CaseCallback",
    "CaseEvent",
    "Counter",
    "Document",
    "DocumentVersion",
    "Insurer",
    "InsurerQuery",
    "Invoice",
    "LoginAttempt",
    "Note",
    "OutboxMessage",
    "Partner",
    "PartnerApplication",
    "Person",
    "Setting",
    "Settlement",
    "SettlementLine",
    "SurveyAnswer",
    "Task",
    "Template",
    "User",
    "UserSession",
    "Webhook",
    "WebhookDelivery",
]
