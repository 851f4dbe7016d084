"""The client's last name on the case (`cases.client_name_key`), for the board's name search.

The board finds "möll" among a million cases by one range of an index on the case row itself, which also
holds the status, the page order and the filters it counts by; looking the name up in `persons` first and
then its cases by client took a join of ~10,000 rows and, on PostgreSQL, reading their table pages.

The key is the last name lower-cased by Python (SQLite's lower() only folds A–Z, so "Özdemir" would stay
"Özdemir"), cut to the column's size. A session hook keeps it current whichever service writes: a new case
or a case given another client takes its client's key; a client's new last name (a correction, an erasure)
is written to all of its cases in the same flush. Bulk writers that bypass the ORM (the demo seed, the
migration) write `name_key(last_name)` themselves.
"""

from __future__ import annotations

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, attributes

from db.models import Case, Person

KEY_LENGTH = Case.__table__.c.client_name_key.type.length


def name_key(last_name: str) -> str:
    """What the board's name search compares a prefix of the search text (lower-cased) with."""
    return last_name.strip().lower()[:KEY_LENGTH]


def _derive(session: Session, flush_context, instances) -> None:
    """before_flush: the key of every new or re-assigned case, and of every case of a renamed client."""
    pending = {p.id: p for p in session.new if isinstance(p, Person) and p.id is not None}
    unresolved: dict[int, list[Case]] = {}
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case) and (obj in session.new or _changed(obj, "client_id", "client")):
            client = obj.__dict__.get("client") or pending.get(obj.client_id)
            if client is not None:
                obj.client_name_key = name_key(client.last_name)
            elif obj.client_id is not None:
                unresolved.setdefault(obj.client_id, []).append(obj)
        elif isinstance(obj, Person) and obj not in session.new and _changed(obj, "last_name"):
            session.execute(update(Case.__table__).where(Case.__table__.c.client_id == obj.id)
                            .values(client_name_key=name_key(obj.last_name)))
    if unresolved:
        stmt = select(Person.id, Person.last_name).where(Person.id.in_(unresolved))
        for person_id, last_name in session.execute(stmt):
            for obj in unresolved[person_id]:
                obj.client_name_key = name_key(last_name)


def _changed(obj, *names: str) -> bool:
    return any(attributes.get_history(obj, name).has_changes() for name in names)


event.listen(Session, "before_flush", _derive)
