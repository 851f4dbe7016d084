"""The monthly management report (Monatsbericht): a month's KPIs as PDF for managers, downloadable on the KPI
page and mailed to every manager by the worker from the 1st of the next month on.

Scope: cases received in the Berlin calendar month [1st, 1st of the next month), exactly as core.kpis and
core.kpi_series compute it; the comparison is the previous calendar month (not the period of equal length the
dashboard compares with). The mail carries a reference (`management_report`, `YYYY-MM`), so the PDF is rendered
when the mail is sent (core.attachments). Once per manager and month: the outbox idempotency key
`management-report:<YYYY-MM>:<user id>`; a manager who has none of it yet (also one who became manager later in
the month) gets the previous month's report at the next worker round. The digest preference does not apply: the
report is itself a once-a-month summary, not a single event mail a digest would replace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import PartnerKind, Role
from core.errors import ValidationError
from core.i18n import label, t
from core.kpi_series import Dashboard, FairnessRow, dashboard
from core.kpis import KpiFilter, compute_kpis
from core.outbox import app_link, enqueue_mail
from core.permissions import SYSTEM, Action, Actor, require
from core.timeutil import now, to_berlin
from db.models import OutboxMessage, User
from reports.management_report import (
    FairnessLine,
    InsurerLine,
    ManagementReportData,
    StageLine,
    WeekLine,
    format_count,
    format_hours,
)
from reports.management_report import (
    management_report_pdf as render_pdf,
)
from reports.settlement import month_label

log = logging.getLogger(__name__)

ATTACHMENT_KIND = "management_report"
TEMPLATE_KEY = "management_report"


def month_ref(month: date) -> str:
    """`2026-10` for any day of October 2026."""
    return f"{month.year:04d}-{month.month:02d}"


def parse_month_ref(ref: str) -> date:
    """The first day of the month `YYYY-MM`; a German ValidationError for anything else."""
    try:
        year, number = (int(part) for part in ref.strip().split("-"))
        return date(year, number, 1)
    except ValueError as exc:
        raise ValidationError(t("mreport.bad_month_ref", value=ref), field="month") from exc


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def month_filter(month: date) -> KpiFilter:
    """The KPI scope of a calendar month: Berlin dates [1st, 1st of the next month)."""
    return KpiFilter(month, next_month(month))


def _check_month(month: date, at: datetime) -> None:
    if month.day != 1:
        raise ValidationError(t("mreport.not_first_day", day=month.strftime("%d.%m.%Y")), field="month")
    if month > to_berlin(at).date():
        raise ValidationError(t("mreport.future_month", month=month_label(month_ref(month))), field="month")


def fairness_lines(rows: Sequence[FairnessRow]) -> tuple[FairnessLine, ...]:
    """Per partner kind and region over the month's ISO weeks: partners, orders, the largest weekly spread (and
    its week) and the mean weekly spread."""
    groups: dict[tuple[str, str], list[FairnessRow]] = {}
    for row in rows:
        groups.setdefault((row.kind, row.region), []).append(row)
    out = []
    for (kind, region), weeks in sorted(groups.items()):
        widest = max(weeks, key=lambda r: (r.spread, r.iso_week))
        out.append(FairnessLine(
            kind=label(PartnerKind(kind)), region=region or "–", partners=max(r.partners for r in weeks),
            orders=sum(r.orders for r in weeks), max_spread=widest.spread, max_spread_week=widest.iso_week,
            mean_spread=sum(r.spread for r in weeks) / len(weeks)))
    return tuple(out)


def report_data(board: Dashboard, *, month: date, previous: dict, generated_at: datetime) -> ManagementReportData:
    """What the PDF prints, from the dashboard tables of the month and the previous month's figures."""
    return ManagementReportData(
        month=month, current=board.current, previous=previous,
        weeks=tuple(WeekLine(
            week=w.week, cases=w.figures["cases"], throughput_median=w.figures["throughput_hours_median"],
            throughput_p90=w.figures["throughput_hours_p90"], within_48h_share=w.figures["within_48h_share"],
            nps=w.figures["nps"], nps_responses=w.figures["nps_responses"]) for w in board.weeks),
        insurers=tuple(InsurerLine(i.insurer, i.cases, i.paid, i.cut_rate, i.cut_case_share, i.success_rate)
                       for i in board.insurers),
        stages=tuple(StageLine(label(s.stage), s.calls, s.rate) for s in board.stages),
        fairness=fairness_lines(board.fairness), generated_at=generated_at,
    )


def management_report_pdf(session: Session, *, actor: Actor, month: date, at: datetime | None = None) -> bytes:
    """The Monatsbericht of `month` (the first day of a calendar month) as PDF bytes."""
    require(actor, Action.VIEW_KPIS)
    at = at or now()
    _check_month(month, at)
    flt = month_filter(month)
    board = dashboard(session, actor=actor, flt=flt, at=at)
    calendar_previous = month_filter(previous_month(month))
    previous = (board.previous if flt.previous() == calendar_previous
                else compute_kpis(session, actor=actor, flt=calendar_previous, at=at))
    return render_pdf(report_data(board, month=month, previous=previous, generated_at=at))


def attachment_spec(month: date) -> dict:
    """The outbox attachment reference of a month's report (rendered when the mail is sent)."""
    ref = month_ref(month)
    return {"kind": ATTACHMENT_KIND, "ref": ref, "filename": f"Monatsbericht-{ref}.pdf"}


def _key(ref: str, user_id: int) -> str:
    return f"management-report:{ref}:{user_id}"


def queue_monthly_reports(session: Session, *, at: datetime) -> int:
    """Queue last month's report for every active manager with an e-mail address who has not had it (the first
    run on or after the 1st queues them, later runs nothing); returns how many mails were queued now."""
    month = previous_month(to_berlin(at).date().replace(day=1))
    ref = month_ref(month)
    managers = session.scalars(select(User).where(
        User.role == Role.MANAGER, User.is_active.is_(True), User.email != "").order_by(User.id)).all()
    keys = {user.id: _key(ref, user.id) for user in managers}
    done = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_(list(keys.values()))))) if keys else set()
    waiting = [user for user in managers if keys[user.id] not in done]
    if not waiting:
        return 0
    figures = compute_kpis(session, actor=SYSTEM, flt=month_filter(month), at=at)
    common = {"monat": month_label(ref), "faelle": format_count(figures["cases"]),
              "durchlaufzeit": format_hours(figures["throughput_hours_median"]), "portal_link": app_link("/")}
    queued = 0
    for user in waiting:
        try:
            enqueue_mail(session, idempotency_key=keys[user.id], template_key=TEMPLATE_KEY, recipient=user.email,
                         values={**common, "empfaenger": user.display_name}, attachments=[attachment_spec(month)])
        except ValidationError:  # a stored address that is no address: skip it, do not block the others
            log.warning("management report for user %s: invalid e-mail address", user.id)
            continue
        queued += 1
    return queued
