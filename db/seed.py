"""Deterministic demo data (§6 `seed-demo`): the demo logins, partners, brokers, insurers and N cases.

Everything is written in one transaction. Cases are made in chunks of CHUNK:
1. intake, in order (one random stream from `seed`): time received, case number, damage type, the client's
   city, and the fair assignment (§7), which needs the orders of every earlier case;
2. the rest of each case (own random stream per chunk, so chunks can be built in worker processes and the
   result does not depend on how many): client, vehicle, lifecycle (§4), hash-chained events, queries,
   calls, survey;
3. bulk writing with the driver's executemany, values already as the column types bind them (SQLAlchemy's
   per-row parameter processing took half the time). Cases and clients get their ids here; the other rows
   are referenced by nothing and get theirs from the database.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import os
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import NamedTuple

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import kpi_store
from core.auth import hash_password
from core.cases import DEFAULT_PARTNER_KIND
from core.client_names import name_key
from core.enums import CaseStatus, DamageType, PartnerKind, Role
from core.errors import ValidationError
from core.events import GENESIS_HASH, event_hash
from core.permissions import SYSTEM
from core.timeutil import BERLIN, berlin_midnight_utc, iso_week
from db import demo_data as dd
from db.demo_data import DAY, HOUR, between, office_time, pick, weighted
from db.models import (
    Assignment,
    Broker,
    Case,
    CaseCallback,
    CaseEvent,
    Counter,
    Insurer,
    InsurerQuery,
    KpiCaseFacts,
    KpiQueryFacts,
    Partner,
    Person,
    SurveyAnswer,
    User,
)

CHUNK = 5_000
PARALLEL_FROM = 20_000  # fewer cases are built in-process (starting workers costs more than it saves)
DEFAULT_DEMO_CASES = 400
S = CaseStatus
# plain strings in the hot loop (an enum's .value is a descriptor call)
RECEIVED, REVIEW, CLAIM_SENT, QUERY, PAID, CLOSED, CANCELLED = (
    s.value for s in (S.RECEIVED, S.REVIEW, S.CLAIM_SENT, S.INSURER_QUERY, S.PAID, S.CLOSED, S.CANCELLED)
)

#: The columns written per bulk table, in the order rows are built, in foreign-key order. Nullable columns
#: that stay empty are left out; a new NOT NULL column without a server default makes the seed fail loudly.
COLUMNS: dict[type, tuple[str, ...]] = {
    Person: ("id", "first_name", "last_name", "email", "phone", "street", "postal_code", "city", "legal_basis",
             "legal_basis_at", "created_at"),
    Case: ("id", "number", "status", "damage_type", "partner_kind", "insurer_id", "broker_id", "client_id",
           "client_name_key",
           "partner_id", "clerk_id", "policy_number", "insurer_claim_number", "plate", "vin", "incident_date",
           "incident_description", "postal_code", "received_at", "review_started_at", "claim_letter_sent_at",
           "paid_at", "closed_at", "cancelled_at", "status_reason", "amount_claimed_cents", "amount_paid_cents",
           "deductible_cents", "throughput_hours", "legal_hold", "source", "last_event_hash", "event_count",
           "updated_at", "version"),
    Assignment: ("case_id", "partner_id", "iso_week", "origin", "reason", "candidates", "assigned_at",
                 "accepted_at", "decline_reason"),
    CaseEvent: ("case_id", "seq", "at", "actor_id", "actor_name", "actor_role", "action", "details", "prev_hash",
                "hash"),
    InsurerQuery: ("case_id", "subject", "received_at", "due_at", "answered_at"),
    CaseCallback: ("case_id", "at", "caller", "status_at_call", "logged_by_id"),
    SurveyAnswer: ("case_id", "score", "comment", "answered_at"),
    KpiCaseFacts: tuple(c.name for c in KpiCaseFacts.__table__.columns),
    KpiQueryFacts: tuple(c.name for c in KpiQueryFacts.__table__.columns),
}


@dataclass(frozen=True)
class SeedReport:
    users: int
    partners: int
    brokers: int
    insurers: int
    cases: int
    events: int
    seconds: float


#: (username, role, display name), in the order the login page lists them.
DEMO_LOGINS: list[tuple[str, Role, str]] = [
    ("admin", Role.ADMIN, "Sabine Krüger"),
    ("manager", Role.MANAGER, "Thomas Berger"),
    ("staff", Role.STAFF, "Julia Neumann"),
    ("lawyer", Role.LAWYER, "Dr. Markus Hoffmann"),
    ("broker1", Role.BROKER, "Stefan Vogel"),
    ("glas1", Role.PARTNER, "Mehmet Yılmaz"),
    ("glas2", Role.PARTNER, "Katrin Schulz"),
    ("gutachter1", Role.PARTNER, "Dipl.-Ing. Peter Hansen"),
    ("gutachter2", Role.PARTNER, "Dr. Anja Albrecht"),
    ("werkstatt1", Role.PARTNER, "Frank Schmidt"),
    ("werkstatt2", Role.PARTNER, "Nicole Wolf"),
]
#: The partner (kind, n-th of that kind) each partner login belongs to.
PARTNER_LOGINS = {
    "glas1": (PartnerKind.GLASS, 0), "glas2": (PartnerKind.GLASS, 1),
    "gutachter1": (PartnerKind.APPRAISER, 0), "gutachter2": (PartnerKind.APPRAISER, 1),
    "werkstatt1": (PartnerKind.WORKSHOP, 0), "werkstatt2": (PartnerKind.WORKSHOP, 1),
}


def seed_demo(
    engine: Engine, *, cases: int, seed: int = 1, password: str = "demo1234", today: date | None = None,
    workers: int | None = None,
) -> SeedReport:
    """Fill an empty database with deterministic demo data; refuses a database that already has cases.

    `workers` forked processes build the cases (default: up to 4 from PARALLEL_FROM cases on when the
    calling process is single-threaded); the data is the same whatever their number.
    """
    started = time.perf_counter()
    if cases < 0:
        raise ValidationError("Die Anzahl der Fälle darf nicht negativ sein.", field="cases")
    today = today or datetime.now(BERLIN).date()
    if workers is None:  # forking a threaded process (the running app) is unsafe, so not by default
        big = cases >= PARALLEL_FROM and threading.active_count() == 1
        workers = min(4, os.cpu_count() or 1) if big else 1
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1  # spawn would re-run the caller's __main__ (python -m core is not guarded)
    hashes = [hash_password(password) for _ in DEMO_LOGINS]  # slow (argon2): before taking the write lock
    with engine.begin() as conn:
        _refuse_unless_empty(conn)
        world = _insert_master_data(conn, hashes, since=berlin_midnight_utc(today - timedelta(days=400)))
        writer = _Writer(conn)
        intake = _Intake(random.Random(seed), world, today, first_case_id=writer.first_id[Case])
        person_offset = writer.first_id[Person] - writer.first_id[Case]
        setup = _Setup(world, today, seed, conn.dialect.name == "sqlite", person_offset)
        events = 0
        with _sqlite_cache(conn, mib=256):  # the indexes get rows all over the file
            for chunk in _built(setup, intake.chunks(cases), workers):
                writer.write(chunk)
                events += len(chunk[CaseEvent])
        _finish(conn, intake)
        kpi_store.summarise(Session(bind=conn))  # the facts came with the cases; the sums are set-based
    with engine.connect() as conn:  # planner statistics for the bulk-loaded tables (PostgreSQL's autovacuum may be
        conn.exec_driver_sql("ANALYZE")  # off; SQLite has none). Committed: SQLite's connection begins a transaction
        conn.commit()  # of its own even in AUTOCOMMIT mode (db.engine), and that was rolled back on return
    return SeedReport(
        users=len(DEMO_LOGINS), partners=len(dd.PARTNERS), brokers=len(dd.BROKERS), insurers=len(dd.INSURERS),
        cases=cases, events=events, seconds=time.perf_counter() - started,
    )


def ensure_demo_data(
    engine: Engine, *, password: str, cases: int = DEFAULT_DEMO_CASES, seed: int = 1
) -> SeedReport | None:
    """Seed a completely empty database (no users, no cases); leave any other database as it is."""
    if not _is_blank(engine):
        return None
    try:
        return seed_demo(engine, cases=cases, seed=seed, password=password)
    except (ValidationError, IntegrityError):
        if _is_blank(engine):
            raise
        return None  # another process seeded it at the same moment


def _is_blank(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.scalar(select(Case.id).limit(1)) is None and conn.scalar(select(User.id).limit(1)) is None


def _refuse_unless_empty(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":  # intakes and other seeders wait until this transaction ends
        conn.execute(text("LOCK TABLE cases IN SHARE ROW EXCLUSIVE MODE"))
    if conn.scalar(select(Case.id).limit(1)) is not None:
        raise ValidationError("Die Datenbank enthält bereits Fälle; seed-demo braucht eine leere Datenbank.")
    taken = conn.scalars(select(User.username).where(User.username.in_([u for u, _, _ in DEMO_LOGINS]))).all()
    if taken:
        raise ValidationError(
            f"Die Datenbank enthält bereits Demo-Logins ({', '.join(sorted(taken))}); "
            "seed-demo braucht eine leere Datenbank."
        )


# --- master data -------------------------------------------------------------------------------


class _World(NamedTuple):
    users: dict[str, tuple[int, str, str]]  # username -> actor (user id, display name, role)
    partners: list[tuple[int, PartnerKind, str, frozenset[str], int]]  # (id, kind, name, prefixes, capacity)
    brokers: list[tuple[int, str]]  # (id, name)
    insurers: list[tuple[int, str, str]]  # (id, name, claim-number prefix)


def _insert_one(conn: Connection, model: type, values: dict) -> int:
    return conn.execute(insert(model).returning(model.id), values).scalar_one()


def _insert_master_data(conn: Connection, hashes: list[str], *, since: datetime) -> _World:
    rng = random.Random(0)  # the same partners and IBANs whatever the seed
    partners, by_kind = [], defaultdict(list)
    for kind, name, street, postal, city, mail, (first, last), capacity, commission in dd.PARTNERS:
        pid = _insert_one(conn, Partner, {
            "name": name, "kind": kind, "street": street, "postal_code": postal, "city": city,
            "regions": dd.regions(first, last), "email": mail,
            "phone": f"0{between(rng, 30, 89)} {between(rng, 1_000_000, 9_999_999)}", "iban": dd.iban(rng),
            "weekly_capacity": capacity, "commission_bp": commission, "created_at": since,
        })
        partners.append((pid, kind, name, frozenset(f"{p:02d}" for p in range(first, last + 1)), capacity))
        by_kind[kind].append(pid)
    brokers = [
        (_insert_one(conn, Broker, {"name": n, "company": c, "email": m, "phone": p, "created_at": since}), n)
        for n, c, m, p, _ in dd.BROKERS
    ]
    known = dict(conn.execute(select(Insurer.name, Insurer.id)).all())
    insurers = []
    for name, mail, prefix, _ in dd.INSURERS:  # an insurer already on the list is reused
        iid = known.get(name) or _insert_one(conn, Insurer, {"name": name, "email": mail, "created_at": since})
        insurers.append((iid, name, prefix))
    users = {}
    for (username, role, display), pw_hash in zip(DEMO_LOGINS, hashes):
        kind_n = PARTNER_LOGINS.get(username)
        uid = _insert_one(conn, User, {
            "username": username, "display_name": display, "email": f"{username}@demo.schadenportal.de",
            "role": role, "password_hash": pw_hash, "password_changed_at": since, "created_at": since,
            "partner_id": by_kind[kind_n[0]][kind_n[1]] if kind_n else None,
            "broker_id": brokers[0][0] if username == "broker1" else None,
        })
        users[username] = (uid, display, role.value)
    return _World(users, partners, brokers, insurers)


def _finish(conn: Connection, intake: _Intake) -> None:
    """Counters continue after the highest number per year; partners remember their last order."""
    existing = dict(conn.execute(select(Counter.name, Counter.value)).all())
    for year, value in sorted(intake.numbers.items()):
        name = f"case:{year}"
        if name in existing:
            conn.execute(update(Counter).where(Counter.name == name).values(value=max(value, existing[name])))
        else:
            conn.execute(insert(Counter), {"name": name, "value": value})
    for pid, at in sorted(intake.fair.last.items()):
        conn.execute(update(Partner).where(Partner.id == pid).values(last_assigned_at=_utc(at)))
    if conn.dialect.name == "postgresql":  # ids given here: move the sequences past them
        for name in ("persons", "cases"):
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), m) FROM (SELECT max(id) AS m FROM {name}) t "
                "WHERE m IS NOT NULL"
            ))


# --- writing -----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1)


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _tally(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _sqlite_text(ts: int) -> str:
    """How UTCDateTime stores an instant on SQLite: naive UTC text, `2026-03-01 09:30:00.000000`."""
    return (_EPOCH + timedelta(seconds=ts)).isoformat(" ", "microseconds")


class _Writer:
    """executemany of ready rows, table by table; hands out the first free case and client ids."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.sql = {
            model: f"INSERT INTO {model.__tablename__} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
            for model, cols in COLUMNS.items()
        }
        self.first_id = {model: (conn.scalar(select(func.max(model.id))) or 0) + 1 for model in (Case, Person)}

    def write(self, chunk: dict[type, list]) -> None:
        for model, rows in chunk.items():
            if rows:
                self.conn.exec_driver_sql(self.sql[model], rows)


@contextmanager
def _sqlite_cache(conn: Connection, *, mib: int) -> Iterator[None]:
    """A bigger SQLite page cache for this connection while the block runs (restored afterwards)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{mib * 1024}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


# --- step 1: intake and fair assignment (§7), in order ---------------------------------------------

_DAMAGE = ([DamageType.GLASS, DamageType.ACCIDENT, DamageType.OTHER], [50, 85, 100])


class _Fairness:
    """Under capacity first; then fewest orders this ISO week, least recently assigned, lowest id."""

    def __init__(self, world: _World) -> None:
        self.capacity = {p[0]: p[4] for p in world.partners}
        self.serving: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pid, kind, _, prefixes, _ in world.partners:
            for prefix in prefixes:
                self.serving[(kind.value, prefix)].append(pid)
        self.counts: dict[tuple[int, str], int] = defaultdict(int)
        self.last: dict[int, int] = {}

    def assign(self, kind: PartnerKind, prefix: str, ts: int) -> tuple[int, str, list[dict], str]:
        """(partner id, ISO week, candidates with their counts, German reason)."""
        week = iso_week(_utc(ts))
        ids = self.serving[(kind.value, prefix)]
        candidates = [{"partner_id": p, "count": self.counts[(p, week)]} for p in ids]
        under = [c for c in candidates if c["count"] < self.capacity[c["partner_id"]]]
        pool = under or candidates
        best = min(pool, key=lambda c: (c["count"], self.last.get(c["partner_id"], -1), c["partner_id"]))
        year, wk = week.split("-W")
        kw = f"KW {int(wk)}/{year}"
        if len(ids) == 1:
            reason = f"Einziger Betrieb für PLZ-Bereich {prefix}; {best['count']} Aufträge in {kw}"
        else:
            reason = f"Wenigste Aufträge in {kw} ({best['count']}) unter {len(ids)} Betrieben für PLZ-Bereich {prefix}"
            if sum(c["count"] == best["count"] for c in pool) > 1:
                reason += "; bei Gleichstand der am längsten nicht beauftragte Betrieb"
        if not under:
            reason = "Alle Betriebe haben ihre Wochenkapazität erreicht. " + reason
        self.counts[(best["partner_id"], week)] += 1
        self.last[best["partner_id"]] = ts
        return best["partner_id"], week, candidates, reason + "."


class _Arrival(NamedTuple):
    case_id: int
    received: int  # epoch seconds
    offset: int  # Berlin UTC offset of that day, seconds
    number: str
    damage: DamageType
    city: int  # index into demo_data.CITIES
    assigned: int
    partner_id: int
    week: str
    candidates: list[dict]
    reason: str


class _Intake:
    def __init__(self, rng: random.Random, world: _World, today: date, *, first_case_id: int) -> None:
        self.rng, self.today, self.next_id = rng, today, first_case_id
        self.fair = _Fairness(world)
        self.numbers: dict[int, int] = defaultdict(int)  # highest case number per Berlin year

    def chunks(self, n: int) -> Iterator[list[_Arrival]]:
        rng, batch = self.rng, []
        for received, offset, year in dd.arrivals(rng, n, self.today):
            self.numbers[year] += 1
            damage = weighted(rng, *_DAMAGE)
            city = dd.city_index(rng)
            assigned = received + between(rng, 30, 180)  # the partner is chosen right after intake
            choice = self.fair.assign(DEFAULT_PARTNER_KIND[damage], dd.CITIES[city][0][:2], assigned)
            batch.append(_Arrival(self.next_id, received, offset, f"SP-{year}-{self.numbers[year]:06d}", damage,
                                  city, assigned, *choice))
            self.next_id += 1
            if len(batch) == CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch


# --- step 2: the rest of each case, chunk by chunk (in worker processes for big seeds) --------------


class _Setup(NamedTuple):
    world: _World
    today: date
    seed: int
    sqlite: bool
    person_offset: int  # client id = case id + person_offset


def _built(setup: _Setup, arrivals: Iterator[list[_Arrival]], workers: int) -> Iterator[dict[type, list]]:
    """Rows per table for each chunk, in order; at most workers + 1 chunks in flight."""
    if workers <= 1:
        builder = _Builder(setup)
        for job in enumerate(arrivals):
            yield builder.build(*job)
        return
    with multiprocessing.get_context("fork").Pool(workers, _start_worker, (setup,)) as pool:
        pending: deque = deque()
        for job in enumerate(arrivals):
            pending.append(pool.apply_async(_build_in_worker, job))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


_worker_builder: _Builder | None = None


def _start_worker(setup: _Setup) -> None:
    global _worker_builder
    _worker_builder = _Builder(setup)


def _build_in_worker(chunk_no: int, arrivals: list[_Arrival]) -> dict[type, list]:
    return _worker_builder.build(chunk_no, arrivals)


_CALLERS = (["client", "broker", "partner", "insurer"], [60, 80, 95, 100])
_ROADS = (1, 2, 3, 5, 7, 8, 9, 24, 45, 81, 93)


class _Builder:
    def __init__(self, setup: _Setup) -> None:
        world = setup.world
        self.setup = setup
        self.horizon = int(berlin_midnight_utc(setup.today).timestamp())  # nothing happens once `today` began
        self.dt = _sqlite_text if setup.sqlite else _utc  # instants as UTCDateTime binds them
        self.day = date.isoformat if setup.sqlite else (lambda d: d)
        self.partner_names = {p[0]: p[2] for p in world.partners}
        self.clerks = [world.users["staff"], world.users["lawyer"]]
        self.system = (SYSTEM.user_id, SYSTEM.display_name, SYSTEM.role.value)
        # a case a broker submits is created by the broker (by broker1's login for the first agency)
        self.broker_actors = {bid: (None, name, Role.BROKER.value) for bid, name in world.brokers}
        self.broker_actors[world.brokers[0][0]] = world.users["broker1"]
        self.insurer_cum = list(accumulate(i[3] for i in dd.INSURERS))
        self.broker_cum = list(accumulate(b[4] for b in dd.BROKERS))
        self.details_json: dict[tuple, str] = {}

    def build(self, chunk_no: int, arrivals: list[_Arrival]) -> dict[type, list]:
        rng = random.Random(f"{self.setup.seed}/{chunk_no}")
        out: dict[type, list] = {model: [] for model in COLUMNS}
        for arrival in arrivals:
            self._case(rng, out, arrival)
        out[InsurerQuery] = [tuple(q) for q in out[InsurerQuery]]
        return out

    def _case(self, rng: random.Random, out: dict[type, list], a: _Arrival) -> None:
        world, dt, r = self.setup.world, self.dt, a.received
        client = dd.person(rng, dd.CITIES[a.city])
        person_id = a.case_id + self.setup.person_offset
        out[Person].append((person_id, client["first_name"], client["last_name"], client["email"], client["phone"],
                            client["street"], client["postal_code"], client["city"], "contract", dt(r), dt(r)))
        insurer_id, insurer_name, prefix = weighted(rng, world.insurers, self.insurer_cum)
        broker_id = weighted(rng, world.brokers, self.broker_cum)[0] if rng.random() < 0.7 else None
        clerk = self.clerks[0] if rng.random() < (0.75 if a.damage == DamageType.GLASS else 0.55) else self.clerks[1]
        incident = (_utc(r + a.offset) - timedelta(days=pick(rng, (0, 0, 1, 1, 2, 3, 4, 6)))).date()
        case = {
            "id": a.case_id, "number": a.number, "status": RECEIVED, "damage_type": a.damage.value,
            "partner_kind": DEFAULT_PARTNER_KIND[a.damage].value, "insurer_id": insurer_id, "broker_id": broker_id,
            "client_id": person_id, "client_name_key": name_key(client["last_name"]), "partner_id": a.partner_id,
            "clerk_id": clerk[0],
            "policy_number": f"{between(rng, 100, 999)}-{between(rng, 1_000_000, 9_999_999)}",
            "insurer_claim_number": f"{prefix}-{a.number[5:7]}-{between(rng, 1_000_000, 9_999_999)}",
            "plate": dd.plate(rng, dd.CITIES[a.city][2]), "vin": dd.vin(rng), "incident_date": self.day(incident),
            "incident_description": pick(rng, dd.DESCRIPTIONS[a.damage]).format(
                city=client["city"], road=pick(rng, _ROADS)),
            "postal_code": client["postal_code"], "received_at": dt(r), "review_started_at": None,
            "claim_letter_sent_at": None, "paid_at": None, "closed_at": None, "cancelled_at": None,
            "status_reason": "", "amount_claimed_cents": None, "amount_paid_cents": None,
            "deductible_cents": pick(rng, (15_000, 30_000)) if a.damage == DamageType.GLASS else None,
            "throughput_hours": None, "legal_hold": False, "source": "demo", "version": 1,
        }
        chain = _Chain(self, out[CaseEvent], a.case_id, a.number)
        chain.add(r, self.broker_actors[broker_id] if broker_id else clerk, "case_created",
                  {"damage_type": a.damage.value, "insurer": insurer_name})
        accepted = office_time(rng, a.assigned + between(rng, 300, 6 * HOUR), a.offset)
        out[Assignment].append((a.case_id, a.partner_id, a.week, "auto", a.reason, json.dumps(a.candidates),
                                dt(a.assigned), dt(accepted) if accepted < self.horizon else None, ""))
        chain.add(a.assigned, self.system, "partner_assigned",
                  {"partner_id": a.partner_id, "partner": self.partner_names[a.partner_id], "iso_week": a.week,
                   "origin": "auto"})
        timeline = [(r, RECEIVED)]
        for at, step, data in dd.plan_steps(rng, r, a.offset, a.damage, self.horizon):
            self._apply(out, case, chain, clerk, client, timeline, at, step, data)
        calls_from = len(out[CaseCallback])
        self._callbacks(rng, out, a, clerk[0], timeline, chain.last)
        case["status"] = timeline[-1][1]
        case["event_count"], case["last_event_hash"], case["updated_at"] = chain.seq, chain.prev, dt(chain.last)
        out[Case].append(tuple(case[c] for c in COLUMNS[Case]))
        self._kpi_facts(out, case, r, [row[3] for row in out[CaseCallback][calls_from:]])

    def _kpi_facts(self, out, case: dict, received: int, call_stages: list[str]) -> None:
        """The case's KPI store rows (core.kpi_store.case_facts), written with the case like the app does."""
        def at(epoch: int | None) -> datetime | None:
            return None if epoch is None else _utc(epoch)

        inp = kpi_store.CaseInput(
            case["id"], _utc(received), case["status"], case["damage_type"], case["insurer_id"], case["partner_kind"],
            case["postal_code"], case["clerk_id"], at(case.get("_letter")), at(case.get("_paid")),
            case["amount_paid_cents"], case["amount_claimed_cents"], case["partner_id"], case.get("_score"),
            _tally(call_stages),
            [(_utc(q), _utc(ans)) for q, ans in case.get("_queries", []) if ans is not None],
        )
        facts = kpi_store.case_facts(inp)
        out[KpiCaseFacts].append(self._db_row(KpiCaseFacts, facts))
        out[KpiQueryFacts] += [self._db_row(KpiQueryFacts, q) for q in kpi_store.query_facts(inp, facts)]

    def _db_row(self, model: type, values: dict) -> tuple:
        def db(v):
            if isinstance(v, datetime):
                return self.dt(int(v.timestamp()))
            if isinstance(v, date):
                return self.day(v)
            return v

        return tuple(db(values[c]) for c in COLUMNS[model])

    def _apply(self, out, case, chain, clerk, client, timeline, at: int, step: str, data: dict) -> None:
        dt, case_id = self.dt, case["id"]

        def status(to: str, when: int, **extra) -> None:
            chain.add(when, clerk, "status_changed", {"from": timeline[-1][1], "to": to, **extra})
            timeline.append((when, to))

        if step == "review":
            case["review_started_at"] = dt(at)
            status(REVIEW, at)
        elif step == "claim_sent":
            case["claim_letter_sent_at"], case["amount_claimed_cents"], case["_letter"] = dt(at), data["claimed"], at
            case["throughput_hours"] = (at - timeline[0][0]) / HOUR
            status(CLAIM_SENT, at)
        elif step == "query":
            out[InsurerQuery].append([case_id, data["subject"], dt(at), dt(at + 7 * DAY), None])
            case.setdefault("_queries", []).append([at, None])
            chain.add(at, clerk, "insurer_query", {"subject": data["subject"]})
            status(QUERY, at + 1)
        elif step == "answer":
            out[InsurerQuery][-1][4] = dt(at)
            case["_queries"][-1][1] = at
            chain.add(at, clerk, "query_answered", {"subject": data["subject"]})
            status(CLAIM_SENT, at + 1)
        elif step == "pay":
            chain.add(at, clerk, "payment_recorded",
                      {"amount_claimed_cents": data["claimed"], "amount_paid_cents": data["paid"]})
            case["amount_paid_cents"], case["paid_at"], case["_paid"] = data["paid"], dt(at + 1), at + 1
            status(PAID, at + 1, amount_paid_cents=data["paid"])
        elif step == "close":
            case["closed_at"] = dt(at)
            status(CLOSED, at)
        elif step == "refuse":
            case["amount_paid_cents"], case["closed_at"], case["status_reason"] = 0, dt(at), data["reason"]
            status(CLOSED, at, reason=data["reason"], amount_paid_cents=0)
        elif step == "cancel":
            case["cancelled_at"], case["status_reason"] = dt(at), data["reason"]
            status(CANCELLED, at, reason=data["reason"])
        elif step == "survey":
            out[SurveyAnswer].append((case_id, data["score"], data["comment"], dt(at)))
            case["_score"] = data["score"]
            chain.add(at, (None, f"{client['first_name']} {client['last_name']}", Role.CLIENT.value),
                      "survey_answered", {"score": data["score"]})

    def _callbacks(self, rng, out, a: _Arrival, clerk_id: int, timeline, last: int) -> None:
        """0–3 inbound status calls while the case was open; slow cases (late letter, queries) get more."""
        slow = any(s == QUERY for _, s in timeline) or (len(timeline) > 2 and timeline[2][0] - a.received > 48 * HOUR)
        n = weighted(rng, (0, 1, 2, 3), (20, 55, 85, 100) if slow else (55, 85, 95, 100))
        if not n:
            return
        start = a.received + 600
        end = min(last if timeline[-1][1] in (CLOSED, CANCELLED) else last + 10 * DAY, self.horizon - 1)
        stamps = [t for t, _ in timeline]
        for t in sorted(office_time(rng, between(rng, start, max(start, end)), a.offset) for _ in range(n)):
            if t < end:
                status = timeline[bisect.bisect_right(stamps, t) - 1][1]
                out[CaseCallback].append((a.case_id, self.dt(t), weighted(rng, *_CALLERS), status, clerk_id))


class _Chain:
    """A case's event rows, hashed exactly as core.events.append_event does."""

    def __init__(self, builder: _Builder, rows: list, case_id: int, number: str) -> None:
        self.b, self.rows, self.case_id, self.number = builder, rows, case_id, number
        self.seq, self.prev, self.last = 0, GENESIS_HASH, 0

    def add(self, ts: int, actor: tuple[int | None, str, str], action: str, details: dict) -> None:
        if ts <= self.last:
            raise AssertionError("events must be strictly increasing in time")
        self.seq += 1
        digest = event_hash(prev_hash=self.prev, case_number=self.number, seq=self.seq, at=_utc(ts),
                            actor_name=actor[1], actor_role=actor[2], action=action, details=details)
        key = tuple(details.items())  # most details repeat (status pairs, subjects): encode those once
        encoded = self.b.details_json.get(key)
        if encoded is None:
            encoded = json.dumps(details)
            if len(self.b.details_json) < 50_000:
                self.b.details_json[key] = encoded
        self.rows.append((self.case_id, self.seq, self.b.dt(ts), actor[0], actor[1], actor[2], action, encoded,
                          self.prev, digest))
        self.prev, self.last = digest, ts
