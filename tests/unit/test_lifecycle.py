"""Every allowed and every forbidden status pair of §4, and the claim-letter deadline."""

from datetime import UTC, datetime, timedelta

import pytest

from core.enums import CaseStatus as S
from core.lifecycle import (
    TRANSITIONS,
    DeadlineState,
    allowed_next,
    claim_letter_deadline,
    is_allowed,
)

ALLOWED = {
    (S.RECEIVED, S.REVIEW), (S.REVIEW, S.CLAIM_SENT), (S.CLAIM_SENT, S.INSURER_QUERY),
    (S.INSURER_QUERY, S.CLAIM_SENT), (S.CLAIM_SENT, S.PAID), (S.PAID, S.CLOSED), (S.CLAIM_SENT, S.CLOSED),
    (S.INSURER_QUERY, S.CLOSED), (S.RECEIVED, S.CANCELLED), (S.REVIEW, S.CANCELLED),
    (S.CLAIM_SENT, S.CANCELLED), (S.INSURER_QUERY, S.CANCELLED), (S.PAID, S.CANCELLED),
}
ALL_PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("src", "dst"), sorted(ALLOWED))
def test_allowed_transition(src, dst):
    assert is_allowed(src, dst)


@pytest.mark.parametrize(("src", "dst"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_forbidden_transition(src, dst):
    assert not is_allowed(src, dst)


def test_table_is_exactly_the_brief():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize("terminal", [S.CLOSED, S.CANCELLED])
def test_terminal_statuses_have_no_next_step(terminal):
    assert allowed_next(terminal) == []


def test_allowed_next_in_lifecycle_order():
    assert allowed_next(S.CLAIM_SENT) == [S.INSURER_QUERY, S.PAID, S.CLOSED, S.CANCELLED]


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(0, DeadlineState.OK), (35.9, DeadlineState.OK), (36, DeadlineState.FLAGGED), (47.9, DeadlineState.FLAGGED),
     (48, DeadlineState.OVERDUE), (200, DeadlineState.OVERDUE)],
)
def test_claim_letter_deadline_by_age(hours, expected):
    at = T0 + timedelta(hours=hours)
    assert claim_letter_deadline(status=S.REVIEW, received_at=T0, claim_letter_sent_at=None, at=at) == expected


def test_deadline_ends_with_the_letter():
    at = T0 + timedelta(hours=100)
    state = claim_letter_deadline(status=S.CLAIM_SENT, received_at=T0, claim_letter_sent_at=T0, at=at)
    assert state == DeadlineState.NONE


def test_cancelled_case_has_no_deadline():
    at = T0 + timedelta(hours=100)
    assert claim_letter_deadline(status=S.CANCELLED, received_at=T0, claim_letter_sent_at=None, at=at) == DeadlineState.NONE
