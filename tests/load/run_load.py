"""Load and fault test (issue 8): many Chromium sessions against two replicas behind nginx on PostgreSQL, with
faults on demand; or the intake burst on SQLite. Prints throughput and p50/p95 per action and the checks.

    python -m tests.load.run_load --sessions 25 --minutes 5 --faults kill,pg,smtp
    python -m tests.load.run_load --sqlite --sessions 8 --minutes 1

Exit code 0 when every check passed. See README "Load and fault tests".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python tests/load/run_load.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import func, select

from core.chain_check import verify_chains
from core.enums import OutboxStatus, Role
from core.permissions import SYSTEM
from db.engine import read_only
from db.models import Assignment, Case, OutboxMessage, Partner
from tests.conftest import CHROMIUM_FLAGS
from tests.load import sessions as sim
from tests.load.stack import Stack, start_replicated, start_sqlite
from tests.unit.test_upload_validation import make_pdf

FAULTS = ("kill", "pg", "smtp")
SMTP_DOWN_SECONDS = 60
MAIL_DRAIN_TIMEOUT = 480  # the outbox retries after 1, 2, 4 … minutes


@dataclass
class Result:
    mode: str
    sessions: int
    seconds: float
    stats: sim.Stats
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.stats.errors and all(ok for ok, _ in self.checks.values())


def split(sessions: int, sqlite: bool) -> tuple[int, int, int]:
    """(clerks, partners, managers): a quarter partners, one manager, the rest clerks."""
    if sqlite:
        return sessions, 0, 0
    partners = max(1, sessions // 4)
    return max(1, sessions - partners - 1), partners, 1


async def _drive(stack: Stack, logins, *, seconds: float, faults: list[str], stats: sim.Stats, files: Path,
                 fault_log: list[str], checks: dict) -> float:
    from playwright.async_api import async_playwright

    engine = stack.engine()
    ctx = sim.Ctx(stack.base, stats, stop_at=float("inf"), engine=engine, files=files, run_id=uuid.uuid4().hex[:6])
    roles = {Role.STAFF: sim.clerk, Role.PARTNER: sim.partner, Role.MANAGER: sim.manager}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium",
                                           args=CHROMIUM_FLAGS)
        pages = []
        gate = asyncio.Semaphore(4)  # logins a few at a time: the first script runs are the heaviest

        async def open_session(user):
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE",
                                                ignore_https_errors=True)
            context.set_default_timeout(sim.STEP_TIMEOUT)
            page = await context.new_page()
            sim.watch_connection(page)
            async with gate:
                async def do_login(page, attempt):
                    if attempt == 2:
                        await asyncio.sleep(31)  # a TOTP time step is accepted once
                    await sim.login(page, ctx, user)
                if await sim.timed(page, ctx, user.username, "login", do_login) is not None:
                    pages.append((user, page))

        await asyncio.gather(*(open_session(u) for u in logins))
        started = time.monotonic()
        ctx.stop_at = started + seconds
        tasks = [roles[user.role](page, ctx, user, i) for i, (user, page) in enumerate(pages)]
        await asyncio.gather(*tasks, _faults(stack, faults, seconds, fault_log, stats))
        if stats.first_fault_at is not None:
            stuck = [u.username for u, _ in pages if stats.last_ok.get(u.username, 0) < stats.first_fault_at]
            checks["every session worked after the faults"] = (not stuck, (f"{len(pages) - len(stuck)} of "
                                                               f"{len(pages)} sessions; stuck: {stuck}"))
        elapsed = time.monotonic() - started
        await browser.close()
    engine.dispose()
    return elapsed


async def _faults(stack: Stack, faults: list[str], seconds: float, log: list[str], stack_stats: sim.Stats) -> None:
    """kill at 25 %, PostgreSQL restart at 45 %, SMTP away from 60 % for a minute (or less in a short run)."""
    plan = sorted((({"kill": 0.25, "pg": 0.45, "smtp": 0.6}[f]) * seconds, f) for f in faults)
    began = time.monotonic()
    for at, fault in plan:
        await asyncio.sleep(max(0.0, began + at - time.monotonic()))
        if stack_stats.first_fault_at is None:
            stack_stats.first_fault_at = time.monotonic()
        stamp = f"{time.monotonic() - began:5.0f} s"
        if fault == "kill":
            port = await asyncio.to_thread(stack.kill_replica)
            log.append(f"{stamp}: kill -9 replica :{port}")
        elif fault == "pg":
            t0 = time.monotonic()
            await asyncio.to_thread(stack.pg.restart)
            log.append(f"{stamp}: PostgreSQL restarted ({time.monotonic() - t0:.1f} s)")
        elif fault == "smtp":
            down = min(SMTP_DOWN_SECONDS, max(10.0, seconds * 0.35))
            await asyncio.to_thread(stack.smtp.stop)
            await asyncio.sleep(down)
            await asyncio.to_thread(stack.smtp.start)
            log.append(f"{stamp}: SMTP stopped for {down:.0f} s")


def check(stack: Stack, result: Result, *, mails: bool) -> None:
    """Every intake exactly once and complete; no case the clerks did not see; chains intact; fair; mails."""
    engine = stack.engine()
    stats, checks = result.stats, result.checks
    try:
        with read_only(engine) as s:
            rows = s.execute(select(Case.incident_description, Case.number, Case.partner_id, Case.event_count)
                             .where(Case.incident_description.like("LAST-%"))).all()
        per_marker = Counter(r.incident_description for r in rows)
        doubled = [m for m, n in per_marker.items() if n != 1]
        missing = [m for m in stats.intakes if m not in per_marker]
        unseen = [m for m in per_marker if m not in stats.intakes]
        checks["each intake exactly once"] = (not doubled and not missing,
                                              (f"{len(stats.intakes)} intakes, {len(doubled)} doubled, "
                                              f"{len(missing)} missing"))
        checks["no case the clerk did not see"] = (not unseen, f"{len(unseen)} unseen")
        half = [r.number for r in rows if r.partner_id is None or r.event_count < 2]
        checks["no half-written case"] = (not half, f"{len(half)} without partner/events")
        report = verify_chains(engine, actor=SYSTEM)
        checks["event chains intact"] = (report.ok, (f"{report.cases} cases, {report.events} events, "
                                                    f"{report.broken_count} broken"))
        with read_only(engine) as s:
            partners = list(s.scalars(select(Partner.id).where(Partner.name.like("Lastglas %"))))
            counts = s.execute(select(Assignment.iso_week, Assignment.partner_id, func.count())
                               .where(Assignment.declined_at.is_(None), Assignment.partner_id.in_(partners))
                               .group_by(Assignment.iso_week, Assignment.partner_id)).all()
        weeks: dict[str, dict[int, int]] = {}
        for week, pid, n in counts:
            weeks.setdefault(week, {})[pid] = n
        spreads = {w: max(c.get(p, 0) for p in partners) - min(c.get(p, 0) for p in partners)
                   for w, c in weeks.items()} if partners else {}
        if partners:
            checks["assignments fair (weekly spread <= 1)"] = (all(v <= 1 for v in spreads.values()),
                                                               f"spread per week {spreads}")
        if mails:
            checks["mails: nothing lost, nothing doubled"] = _mail_check(stack, engine)
    finally:
        engine.dispose()


def _mail_check(stack: Stack, engine) -> tuple[bool, str]:
    deadline = time.monotonic() + MAIL_DRAIN_TIMEOUT
    while True:
        with read_only(engine) as s:
            open_rows = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))))
        if not open_rows or time.monotonic() > deadline:
            break
        time.sleep(5)
    with read_only(engine) as s:
        queued = Counter(r for r, in s.execute(select(OutboxMessage.recipient)
                                               .where(OutboxMessage.recipient.like("last.%@kunde.example"))))
        failed = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status == OutboxStatus.FAILED))
    received = Counter(r for rcpts, _ in stack.smtp.received for r in rcpts if r.endswith("@kunde.example"))
    ids = stack.smtp.message_ids
    lost = sum(max(0, n - received[r]) for r, n in queued.items())
    doubled = sum(max(0, n - queued[r]) for r, n in received.items()) + len(ids) - len(set(ids))
    ok = not open_rows and not failed and not lost and not doubled and bool(queued)
    return ok, (f"{sum(queued.values())} client mails queued, {sum(received.values())} received, "
                f"{lost} lost, {doubled} doubled, {failed} failed, {open_rows} still queued")


def run(*, sessions: int, minutes: float, faults: list[str], sqlite: bool = False) -> Result:
    clerks, partners, managers = split(sessions, sqlite)
    stack, logins = start_sqlite(clerks=clerks) if sqlite else start_replicated(
        clerks=clerks, partners=partners, managers=managers)
    stats = sim.Stats()
    result = Result("SQLite, one process" if sqlite else "PostgreSQL, 2 replicas + nginx", sessions, 0.0, stats)
    try:
        files = stack.data_dir / "upload"
        files.mkdir(exist_ok=True)
        (files / "Rechnung.pdf").write_bytes(make_pdf("Rechnung", "Frontscheibe"))
        (files / "Abtretung.pdf").write_bytes(make_pdf("Abtretungserklärung", "unterschrieben"))
        drive = _drive(stack, logins, seconds=minutes * 60, faults=faults, stats=stats, files=files,
                       fault_log=result.faults, checks=result.checks)
        # A thread of its own: under pytest the e2e tests' sync Playwright may hold this thread's event loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            result.seconds = pool.submit(asyncio.run, drive).result()
        check(stack, result, mails=not sqlite)
        if sqlite:
            log = (stack.data_dir / "app.log").read_text()
            seen = stats.locked_seen + log.count("database is locked")
            result.checks["no 'database is locked'"] = (not seen and not stats.retries,
                                                        (f"{seen} on pages or in the app log, "
                                                        f"{sum(stats.retries.values())} actions repeated"))
    finally:
        stack.close()
    return result


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def table(result: Result) -> str:
    s = result.stats
    lines = [(f"{result.mode}: {result.sessions} sessions, {result.seconds:.0f} s, load average "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"),
             f"{'action':<16}{'done':>6}{'per min':>9}{'p50 s':>8}{'p95 s':>8}{'retried':>9}"]
    for name in ("login", "intake", "status change", "accept order", "invoice upload", "order list", "KPI page"):
        d = s.durations.get(name, [])
        if not d and not s.retries.get(name):
            continue
        rate = len(d) / result.seconds * 60 if name != "login" and result.seconds else 0
        lines.append(f"{name:<16}{len(d):>6}{rate:>9.1f}{pct(d, 50) if d else 0:>8.2f}"
                     f"{pct(d, 95) if d else 0:>8.2f}{s.retries.get(name, 0):>9}")
    lines.append(f"user-visible errors: {len(s.errors)}; 'database unavailable' notices: {s.db_notices}; "
                 f"intakes taken from the duplicate warning after a fault: {s.reused_by_duplicate_warning}")
    lines += [f"  error: {who} {action}: {msg}" for who, action, msg in s.errors[:20]]
    lines += [f"fault {f}" for f in result.faults]
    lines += [f"[{'ok' if ok else 'FAIL'}] {name}: {detail}" for name, (ok, detail) in result.checks.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=25, help="browser sessions (default 25)")
    parser.add_argument("--minutes", type=float, default=5.0, help="duration of the load (default 5)")
    parser.add_argument("--faults", default="", help="comma-separated: kill,pg,smtp")
    parser.add_argument("--sqlite", action="store_true", help="the intake burst on SQLite (one process)")
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown or (args.sqlite and faults):
        parser.error(f"faults: {', '.join(FAULTS)} (not with --sqlite)")
    result = run(sessions=args.sessions, minutes=args.minutes, faults=faults, sqlite=args.sqlite)
    print(table(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
