"""All ORM models; importing this package registers every table on Base.metadata."""

from db.base import Base
from db.models.api import ApiIdempotencyKey, ApiKey, RateCounter
from db.models.audit import AccessLog, CaseEvent, LoginAttempt, Setting, UserSession
from db.models.cases import Case, CaseCallback, InsurerQuery, Note, SurveyAnswer, Task
from db.models.documents import Document, DocumentVersion
from db.models.inbound import (
    HoldReason,
    InboundAttachment,
    InboundMail,
    InboundMailStatus,
)
from db.models.kpi import (
    CaseCount,
    KpiBucket,
    KpiCaseFacts,
    KpiCell,
    KpiOrders,
    KpiQueryFacts,
)
from db.models.messaging import OutboxMessage, Template, Webhook, WebhookDelivery
from db.models.ops import WorkerHeartbeat
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
from db.models.retention import PurgeRun
from db.models.share import ShareLink, ShareRecipient

__all__ = [
    "AccessLog",
    "ApiIdempotencyKey",
    "ApiKey",
    "Assignment",
    "Base",
    "Broker",
    "Case",
    "CaseCallback",
    "CaseCount",
    "CaseEvent",
    "Counter",
    "Document",
    "DocumentVersion",
    "HoldReason",
    "InboundAttachment",
    "InboundMail",
    "InboundMailStatus",
    "Insurer",
    "InsurerQuery",
    "Invoice",
    "KpiBucket",
    "KpiCaseFacts",
    "KpiCell",
    "KpiOrders",
    "KpiQueryFacts",
    "LoginAttempt",
    "Note",
    "OutboxMessage",
    "Partner",
    "PartnerApplication",
    "Person",
    "PurgeRun",
    "RateCounter",
    "Setting",
    "Settlement",
    "SettlementLine",
    "ShareLink",
    "ShareRecipient",
    "SurveyAnswer",
    "Task",
    "Template",
    "User",
    "UserSession",
    "Webhook",
    "WebhookDelivery",
    "WorkerHeartbeat",
]
