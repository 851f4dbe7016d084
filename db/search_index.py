"""Names of the full-text search objects that live outside the models (see db.models.documents).

The SQLite FTS5 table `document_search` and its shadow tables, its triggers, and the PostgreSQL GIN index on
`to_tsvector('german', text)` are created by the migration `document_search`. `include_name` keeps Alembic's
autogenerate from proposing to drop them (db/migrations/env.py and the migration test use it).

A later migration that rebuilds `document_versions` on SQLite (a batch operation that copies the table) drops
the triggers with the old table: it must create them again (`SQLITE_TRIGGERS`) and rebuild the index;
tests/integration/test_document_search.py checks both at the head revision.
"""

from __future__ import annotations

FTS_TABLE = "document_search"
PG_INDEX = "ix_document_versions_search"
#: The FTS5 table's shadow tables (SQLite creates them with the virtual table).
FTS_SHADOW_TABLES = frozenset(f"{FTS_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config", "content"))

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='document_versions', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')"
)
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON document_versions BEGIN
  INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
END""",
    f"""CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON document_versions BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
END""",
    f"""CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF text ON document_versions BEGIN
  INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
END""",
)
SQLITE_REBUILD = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"
PG_CREATE = f"CREATE INDEX {PG_INDEX} ON document_versions USING gin (to_tsvector('german'::regconfig, text))"


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic `include_name`: False for the search objects that are not in the models."""
    if type_ == "table":
        return name not in {FTS_TABLE} | FTS_SHADOW_TABLES
    if type_ == "index":
        return name != PG_INDEX
    return True
