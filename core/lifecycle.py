"""The case lifecycle (§4): the only allowed status transitions, and the claim-letter deadline."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from core.enums import OPEN_STATUSES, CaseStatus

S = CaseStatus

#: Every allowed (from, to) pair. Anything else is refused in core.
TRANSITIONS: frozenset[tuple[CaseStatus, CaseStatus]] = frozenset(
    {
        (S.RECEIVED, S.REVIEW),
        (S.REVIEW, S.CLAIM_SENT),
        (S.CLAIM_SENT, S.INSURER_QUERY),
        (S.INSURER_QUERY, S.CLAIM_SENT),
        (S.CLAIM_SENT, S.PAID),
        (S.PAID, S.CLOSED),
        # the insurer finally refuses: closed with amount paid 0 and a reason
        (S.CLAIM_SENT, S.CLOSED),
        (S.INSURER_QUERY, S.CLOSED),
    }
    | {(status, S.CANCELLED) for status in OPEN_STATUSES}
)

CLAIM_LETTER_FLAG_AFTER = timedelta(hours=36)
CLAIM_LETTER_DUE_AFTER = timedelta(hours=48)
INSURER_SILENCE_REMINDER = timedelta(days=14)


def allowed_next(status: CaseStatus) -> list[CaseStatus]:
    """The statuses a case in `status` may move to, in lifecycle order."""
    return [to for to in CaseStatus if (status, to) in TRANSITIONS]


def is_allowed(current: CaseStatus, target: CaseStatus) -> bool:
    return (current, target) in TRANSITIONS


class DeadlineState(StrEnum):
    NONE = "none"  # letter sent, or case no longer open
    OK = "ok"
    FLAGGED = "flagged"  # 36 h passed without a claim letter
    OVERDUE = "overdue"  # 48 h passed without a claim letter


def claim_letter_due(received_at: datetime) -> datetime:
    """When the claim letter must be out (48 h after intake)."""
    return received_at + CLAIM_LETTER_DUE_AFTER


def claim_letter_deadline(
    *, status: CaseStatus, received_at: datetime, claim_letter_sent_at: datetime | None, at: datetime
) -> DeadlineState:
    """Traffic light of the 48-hour promise, computed (never stored)."""
    if claim_letter_sent_at is not None or status not in OPEN_STATUSES:
        return DeadlineState.NONE
    age = at - received_at
    if age >= CLAIM_LETTER_DUE_AFTER:
        return DeadlineState.OVERDUE
    if age >= CLAIM_LETTER_FLAG_AFTER:
        return DeadlineState.FLAGGED
    return DeadlineState.OK
