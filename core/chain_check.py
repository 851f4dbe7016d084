"""Tamper evidence (§10): recompute every case's event chain and report the first broken link of each.

Cases are read in id order in batches, each batch in its own short read transaction with the identity map
cleared after every case, so memory stays flat however many cases there are (the list of broken cases is
capped at MAX_LISTED; the count is not). Each case is checked by core.events.verify_chain, the one definition
of a valid chain. Every run is in the access log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import load_only

from core.audit import log_access
from core.errors import NotFound
from core.events import verify_chain
from core.i18n import t
from core.permissions import Action, Actor, require
from db.engine import read_only, unit_of_work
from db.models import Case

BATCH_SIZE = 500
MAX_LISTED = 1_000
LOG_OBJECT = "event_chain"


@dataclass(frozen=True)
class BrokenChain:
    case_number: str
    seq: int | None  # the first event whose link or hash does not match (None: the chain's head is wrong)
    events: int  # events read up to and including that one


@dataclass(frozen=True)
class VerifyReport:
    cases: int
    events: int
    broken_count: int
    broken: tuple[BrokenChain, ...]  # the first MAX_LISTED broken cases, in case id order
    seconds: float

    @property
    def ok(self) -> bool:
        return self.broken_count == 0


def verify_chains(
    engine: Engine, *, actor: Actor, case_number: str | None = None, batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None, max_listed: int = MAX_LISTED,
) -> VerifyReport:
    """Verify every case's chain (or one case's); `progress(done, total)` after each batch. Logged."""
    require(actor, Action.VIEW_AUDIT_LOG)
    started = time.perf_counter()
    number = (case_number or "").strip().upper()
    with read_only(engine) as session:
        if number:
            first = session.scalar(select(Case.id).where(Case.number == number))
            if first is None:
                raise NotFound(t("verify.unknown_case", number=number))
            total, id_filter = 1, [Case.id == first]
        else:
            total, id_filter = session.scalar(select(func.count()).select_from(Case)) or 0, []
    cases = events = broken_count = 0
    broken: list[BrokenChain] = []
    last_id = 0
    while True:
        with read_only(engine) as session:  # a short read transaction per batch
            batch = session.scalars(
                select(Case).options(load_only(Case.id, Case.number, Case.last_event_hash, Case.event_count))
                .where(Case.id > last_id, *id_filter).order_by(Case.id).limit(batch_size)
            ).all()
            session.expunge_all()
            for case in batch:
                session.add(case)
                report = verify_chain(session, case=case)
                cases += 1
                events += report.events
                if not report.ok:
                    broken_count += 1
                    if len(broken) < max_listed:
                        broken.append(BrokenChain(case.number, report.first_broken_seq or None, report.events))
                session.expunge_all()  # the case's events do not pile up in the identity map
        if batch:
            last_id = batch[-1].id
        if progress is not None:
            progress(min(cases, total), total)
        if len(batch) < batch_size:
            break
    result = VerifyReport(cases, events, broken_count, tuple(broken), time.perf_counter() - started)
    with unit_of_work(engine) as session:
        log_access(session, actor=actor, action="verify", object_type=LOG_OBJECT, object_ref=number,
                   detail=f"cases={cases}; events={events}; broken={broken_count}")
    return result


def report_lines(report: VerifyReport) -> list[str]:
    """The result as German lines (the CLI prints them)."""
    lines = [t("verify.summary", cases=_thousands(report.cases), events=_thousands(report.events),
               seconds=f"{report.seconds:.1f}".replace(".", ","))]
    for item in report.broken:
        lines.append(broken_line(item))
    if report.broken_count > len(report.broken):
        lines.append(t("verify.more", n=_thousands(report.broken_count - len(report.broken))))
    lines.append(t("verify.ok") if report.ok else t("verify.broken", n=_thousands(report.broken_count)))
    return lines


def broken_line(item: BrokenChain) -> str:
    if item.seq is None:
        return t("verify.broken_head", number=item.case_number)
    return t("verify.broken_case", number=item.case_number, seq=item.seq)


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", ".")
