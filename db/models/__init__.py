"""All ORM models; importing this package registers every table on Base.metadata."""

from db.base import Base
from db.models.audit import AccessLog, CaseEvent, LoginAttempt, Setting, UserSession
from db.models.cases import Case, CaseCallback, InsurerQuery, Note, SurveyAnswer, Task
from db.models.documents import Document, DocumentVersion
from db.models.messaging import OutboxMessage, Template, Webhook, WebhookDelivery
from db.models.parties import Assignment, Broker, Counter, Insurer, Partner, Person, User

__all__ = [
    "AccessLog", "Assignment", "Base", "Broker", "Case", "CaseCallback", "CaseEvent", "Counter",
    "Document", "DocumentVersion", "Insurer", "InsurerQuery", "LoginAttempt", "Note", "OutboxMessage",
    "Partner", "Person", "Setting", "SurveyAnswer", "Task", "Template", "User", "UserSession",
    "Webhook", "WebhookDelivery",
]
