"""Backup and restore (`python -m core backup -o FILE`, `python -m core restore FILE`).

One uncompressed tar file, written as a stream (documents are Fernet-encrypted already, so compressing gains
nothing): the database first (`database.sqlite3`: a copy made with SQLite's online backup API while the app
keeps writing; `database.pgdump`: `pg_dump -Fc` of an exported snapshot), then the encrypted document files as
they are (`documents/<stored name>`), then `manifest.json` (format, created_at, alembic revision, dialect, row
count per table and SHA-256 of the database and of every document). The counts, the revision and the list of
referenced documents come from the same snapshot as the database copy; files are copied after the snapshot, so
every document the snapshot refers to must be there (files written later may be in the backup too).

Restore streams the archive into a staging area and checks everything (manifest, every hash, the counts, the
revision) before it touches the target; a non-empty target is refused unless `force`. SQLite: the database file
is replaced atomically (temp file + os.replace) and must not be open (app and worker stopped). PostgreSQL:
`pg_restore --clean --if-exists --no-owner` renders the dump, and psql loads it in one transaction, together
with dropping tables that are newer than the backup. Documents: staging dir + rename. Then the migrations run
up to head if the backup is older. The encryption key is not part of the backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from core.documents import documents_dir
from core.errors import SchadenportalError
from core.i18n import t
from core.settings import Settings

FORMAT = "schadenportal-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
DOC_PREFIX = "documents/"
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 64 << 20
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")  # as core.documents generates them


class BackupError(SchadenportalError):
    """Backup or restore refused or failed; the target was not changed."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    dialect: str
    revision: str | None
    tables: dict[str, int]
    documents: int
    size: int
    seconds: float


@dataclass(frozen=True)
class RestoreReport:
    dialect: str
    revision: str | None
    migrated_to: str | None  # the head revision if the backup was older, else None
    tables: dict[str, int]
    documents: int
    seconds: float


@dataclass(frozen=True)
class _Snapshot:
    path: Path
    revision: str | None
    tables: dict[str, int]
    stored_names: frozenset[str]
    tool: str = ""


# --- helpers ------------------------------------------------------------------------------------


def dialect_of(url: str) -> str:
    """`sqlite` or `postgresql`; anything else is refused."""
    name = make_url(url).get_backend_name()
    if name not in DB_MEMBERS:
        raise BackupError(t("backup.dialect_unsupported", dialect=name))
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(t("backup.sqlite_memory"))
    return Path(database).resolve()


class _HashingReader:
    """A file wrapper that hashes and counts what is read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.sha, self.count = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha.update(data)
        self.count += len(data)
        return data


def _quote(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    """The ordinary tables (not SQLite's own, not full-text virtual tables and their shadow tables)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return [name for name, _sql in rows if not name.startswith("sqlite_") and name not in virtual
            and not any(name.startswith(v + "_") for v in virtual)]


def _pg_tables(conn: Connection) -> list[str]:
    return list(conn.scalars(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")))


def _read_state_sqlite(conn: sqlite3.Connection) -> tuple[str | None, dict[str, int], frozenset[str]]:
    tables = _sqlite_tables(conn)
    counts = {name: conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in tables}
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] \
        if "alembic_version" in tables else None
    names = frozenset(r[0] for r in conn.execute("SELECT stored_name FROM document_versions")) \
        if "document_versions" in tables else frozenset()
    return revision, counts, names


def _read_state_pg(conn: Connection) -> tuple[str | None, dict[str, int], frozenset[str]]:
    tables = _pg_tables(conn)
    counts = {name: conn.scalar(text(f"SELECT count(*) FROM {_quote(name)}")) for name in tables}
    revision = conn.scalar(text("SELECT version_num FROM alembic_version")) if "alembic_version" in tables else None
    names = frozenset(conn.scalars(text("SELECT stored_name FROM document_versions"))) \
        if "document_versions" in tables else frozenset()
    return revision, counts, names


# --- PostgreSQL client tools --------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(t("backup.tool_missing", tool=name))
    return path


def _conninfo(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying the password."""
    u = make_url(url)
    parts = {"dbname": u.database, "host": u.host, "port": str(u.port) if u.port else None, "user": u.username}
    parts.update({key: value if isinstance(value, str) else value[-1] for key, value in u.query.items()})
    conninfo = " ".join(f"{key}='{_libpq_escape(value)}'" for key, value in parts.items() if value)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    return conninfo, env


def _libpq_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _run(args: list[str], *, env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(t("backup.tool_failed", tool=what, reason=exc.strerror or str(exc))) from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip()[-1500:] or f"exit code {done.returncode}"
        raise BackupError(t("backup.tool_failed", tool=what, reason=reason))
    return done.stdout


def _tool_major(path: str, env: dict[str, str]) -> tuple[int, str]:
    out = _run([path, "--version"], env=env, what=Path(path).name).strip()
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise BackupError(t("backup.tool_failed", tool=Path(path).name, reason=out))
    return int(match.group(1)), match.group(0)


# --- backup -------------------------------------------------------------------------------------


@contextmanager
def _sqlite_snapshot(url: str, workdir: Path) -> Iterator[_Snapshot]:
    """A consistent copy of the live database via the online backup API (WAL: writers are not blocked)."""
    source = _sqlite_path(url)
    if not source.is_file():
        raise BackupError(t("backup.no_database", path=source))
    copy = workdir / DB_MEMBERS["sqlite"]
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # one step: a single read transaction, so the copy is one committed state
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        revision, counts, names = _read_state_sqlite(dst)
    except sqlite3.Error as exc:
        raise BackupError(t("backup.sqlite_failed", reason=str(exc))) from exc
    finally:
        dst.close()
        src.close()
    yield _Snapshot(path=copy, revision=revision, tables=counts, stored_names=names, tool=sqlite3.sqlite_version)


@contextmanager
def _pg_snapshot(url: str, workdir: Path) -> Iterator[_Snapshot]:
    """`pg_dump -Fc` of a snapshot exported by a repeatable-read transaction that also reads the counts."""
    from db.engine import make_engine

    pg_dump = _tool("pg_dump")
    conninfo, env = _conninfo(url)
    major, version = _tool_major(pg_dump, env)
    dump = workdir / DB_MEMBERS["postgresql"]
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                server = int(conn.scalar(text("SHOW server_version_num"))) // 10000
                if major < server:
                    raise BackupError(t("backup.tool_too_old", tool="pg_dump", version=version, server=server))
                snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
                revision, counts, names = _read_state_pg(conn)
                _run([pg_dump, "--format=custom", f"--file={dump}", f"--snapshot={snapshot}", "--no-password",
                      f"--dbname={conninfo}"], env=env, what="pg_dump")
    except BackupError:
        raise
    except Exception as exc:  # connection refused, wrong password, ...
        raise BackupError(t("backup.db_unreachable", reason=str(exc).splitlines()[0])) from exc
    finally:
        engine.dispose()
    yield _Snapshot(path=dump, revision=revision, tables=counts, stored_names=names, tool=f"pg_dump {version}")


def _add_file(tar: tarfile.TarFile, name: str, fh: BinaryIO) -> dict[str, object]:
    info = tarfile.TarInfo(name)
    info.size = os.fstat(fh.fileno()).st_size
    info.mtime = int(time.time())
    info.mode = 0o600
    reader = _HashingReader(fh)
    tar.addfile(info, reader)
    return {"sha256": reader.sha.hexdigest(), "size": info.size}


def create_backup(settings: Settings, *, output: Path) -> BackupReport:
    """Write the database, the document files and a manifest into one tar file (online; `output` atomically)."""
    started = time.perf_counter()
    dialect = dialect_of(settings.database_url)
    output = Path(output)
    if not output.parent.is_dir():
        raise BackupError(t("backup.output_dir_missing", path=output.parent))
    folder = documents_dir(settings)
    part = output.with_name(f".{output.name}.{secrets.token_hex(4)}.part")
    take = _sqlite_snapshot if dialect == "sqlite" else _pg_snapshot
    try:
        with tempfile.TemporaryDirectory(prefix="sp-backup-") as tmp, take(settings.database_url, Path(tmp)) as snap:
            missing = sorted(n for n in snap.stored_names if not (folder / n).is_file())
            if missing:
                raise BackupError(t("backup.documents_missing", n=len(missing), names=", ".join(missing[:5])))
            documents: dict[str, dict[str, object]] = {}
            with os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:  # personal data
                with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    with open(snap.path, "rb") as fh:
                        database = {"member": DB_MEMBERS[dialect], **_add_file(tar, DB_MEMBERS[dialect], fh)}
                    names = sorted(p.name for p in folder.iterdir() if _STORED_NAME.match(p.name)) \
                        if folder.is_dir() else []
                    for name in names:
                        try:
                            with open(folder / name, "rb") as fh:
                                documents[name] = _add_file(tar, DOC_PREFIX + name, fh)
                        except FileNotFoundError:  # deleted meanwhile (a rolled-back upload): fine unless referenced
                            continue
                    missing = sorted(snap.stored_names - documents.keys())
                    if missing:
                        raise BackupError(t("backup.documents_missing", n=len(missing),
                                            names=", ".join(missing[:5])))
                    manifest = {
                        "format": FORMAT, "format_version": FORMAT_VERSION,
                        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "alembic_revision": snap.revision, "dialect": dialect, "tool": snap.tool,
                        "tables": snap.tables, "database": database,
                        "referenced_documents": len(snap.stored_names), "documents": documents,
                    }
                    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
                    info = tarfile.TarInfo(MANIFEST)
                    info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
                    tar.addfile(info, _BytesReader(body))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(part, output)
    except OSError as exc:
        raise BackupError(t("backup.write_failed", path=output, reason=exc.strerror or str(exc))) from exc
    finally:
        part.unlink(missing_ok=True)
    return BackupReport(path=output, dialect=dialect, revision=snap.revision, tables=snap.tables,
                        documents=len(documents), size=output.stat().st_size,
                        seconds=time.perf_counter() - started)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


# --- restore: stage and verify ------------------------------------------------------------------


@dataclass(frozen=True)
class _Staged:
    manifest: dict
    database: Path
    documents: Path
    pg_tables: frozenset[str] = frozenset()  # tables in a PostgreSQL dump (from pg_restore --list)


def _copy_member(src: BinaryIO, dest: Path) -> dict[str, object]:
    reader = _HashingReader(src)
    with os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := reader.read(CHUNK):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return {"sha256": reader.sha.hexdigest(), "size": reader.count}


def _stage(archive: Path, *, dialect: str, database: Path, documents: Path) -> _Staged:
    """Stream the archive into the staging places and check it against its manifest; raise on any mismatch."""
    if not archive.is_file():
        raise BackupError(t("restore.not_found", path=archive))
    documents.mkdir()
    manifest_raw: bytes | None = None
    db_seen: dict[str, object] | None = None
    docs: dict[str, dict[str, object]] = {}
    try:
        with tarfile.open(archive, mode="r|") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    raise BackupError(t("restore.corrupt", reason=f"unerwarteter Eintrag {name!r}"))
                fh = tar.extractfile(member)
                if name == MANIFEST and manifest_raw is None and member.size <= MAX_MANIFEST_BYTES:
                    manifest_raw = fh.read()
                elif name in DB_MEMBERS.values() and db_seen is None:
                    if name != DB_MEMBERS[dialect]:
                        raise BackupError(t("restore.cross_dialect", backup=_dialect_of_member(name), target=dialect))
                    db_seen = _copy_member(fh, database)
                elif name.startswith(DOC_PREFIX) and _STORED_NAME.match(name[len(DOC_PREFIX):]) \
                        and name[len(DOC_PREFIX):] not in docs:
                    docs[name[len(DOC_PREFIX):]] = _copy_member(fh, documents / name[len(DOC_PREFIX):])
                else:
                    raise BackupError(t("restore.corrupt", reason=f"unerwarteter Eintrag {name!r}"))
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(t("restore.corrupt", reason=str(exc) or type(exc).__name__)) from exc
    if manifest_raw is None:
        raise BackupError(t("restore.corrupt", reason="manifest.json fehlt"))
    try:
        manifest = json.loads(manifest_raw)
    except ValueError as exc:
        raise BackupError(t("restore.corrupt", reason=f"manifest.json unlesbar ({exc})")) from exc
    if not isinstance(manifest, dict):
        raise BackupError(t("restore.corrupt", reason="manifest.json unlesbar"))
    if manifest.get("format") != FORMAT:
        raise BackupError(t("restore.corrupt", reason="keine Schadenportal-Sicherung"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(t("restore.format_version", version=manifest.get("format_version")))
    if manifest.get("dialect") != dialect:
        raise BackupError(t("restore.cross_dialect", backup=manifest.get("dialect"), target=dialect))
    expected_db = manifest.get("database") or {}
    if db_seen is None:
        raise BackupError(t("restore.corrupt", reason="die Datenbank fehlt"))
    if (db_seen["sha256"], db_seen["size"]) != (expected_db.get("sha256"), expected_db.get("size")):
        raise BackupError(t("restore.hash_mismatch", name=DB_MEMBERS[dialect]))
    expected_docs = manifest.get("documents") or {}
    for name in sorted(expected_docs.keys() | docs.keys()):
        if name not in docs:
            raise BackupError(t("restore.corrupt", reason=f"Dokument {name} fehlt"))
        if name not in expected_docs:
            raise BackupError(t("restore.corrupt", reason=f"Dokument {name} steht nicht im Manifest"))
        if (docs[name]["sha256"], docs[name]["size"]) != (expected_docs[name].get("sha256"),
                                                          expected_docs[name].get("size")):
            raise BackupError(t("restore.hash_mismatch", name=DOC_PREFIX + name))
    _check_revision(manifest.get("alembic_revision"))
    tables = frozenset()
    if dialect == "sqlite":
        _check_sqlite_copy(database, manifest)
    else:
        tables = _check_pg_dump(database)
    return _Staged(manifest=manifest, database=database, documents=documents, pg_tables=tables)


def _dialect_of_member(name: str) -> str:
    return next(d for d, member in DB_MEMBERS.items() if member == name)


def _check_revision(revision: str | None) -> None:
    """The backup's schema must be one this program knows (not from a newer version)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from db.migrate import alembic_config

    if revision is None:
        raise BackupError(t("restore.corrupt", reason="keine Schema-Revision im Manifest"))
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = script.get_revision(revision) is not None
    except (CommandError, RevisionError):  # an id this program does not know
        known = False
    if not known:
        raise BackupError(t("restore.unknown_revision", revision=revision))


def _check_sqlite_copy(path: Path, manifest: dict) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(t("restore.corrupt", reason="SQLite-Prüfung fehlgeschlagen"))
            revision, counts, names = _read_state_sqlite(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(t("restore.corrupt", reason=str(exc))) from exc
    if revision != manifest.get("alembic_revision") or counts != manifest.get("tables") \
            or not names <= (manifest.get("documents") or {}).keys():
        raise BackupError(t("restore.corrupt", reason="Datenbank und Manifest passen nicht zusammen"))


def _check_pg_dump(path: Path) -> frozenset[str]:
    """pg_restore must read the dump's table of contents; returns the tables in it."""
    listing = _run([_tool("pg_restore"), "--list", str(path)], env=dict(os.environ), what="pg_restore")
    return frozenset(m.group(1) for m in re.finditer(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing, re.MULTILINE))


# --- restore: the target ------------------------------------------------------------------------


def _target_has_data(settings: Settings, dialect: str) -> bool:
    """True if any table except alembic_version has a row, or the documents directory has a file."""
    folder = documents_dir(settings)
    if folder.is_dir() and any(folder.iterdir()):
        return True
    if dialect == "sqlite":
        path = _sqlite_path(settings.database_url)
        if not path.is_file() or path.stat().st_size == 0:
            return False
        try:
            conn = sqlite3.connect(path, timeout=30)
            try:
                return any(conn.execute(f"SELECT 1 FROM {_quote(name)} LIMIT 1").fetchone()
                           for name in _sqlite_tables(conn) if name != "alembic_version")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise BackupError(t("restore.target_unreadable", reason=str(exc))) from exc
    from db.engine import make_engine

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return any(conn.scalar(text(f"SELECT 1 FROM {_quote(name)} LIMIT 1"))
                       for name in _pg_tables(conn) if name != "alembic_version")
    except Exception as exc:
        raise BackupError(t("backup.db_unreachable", reason=str(exc).splitlines()[0])) from exc
    finally:
        engine.dispose()


def _claim_sqlite_target(path: Path) -> None:
    """Leave WAL mode on the old file (needs the only connection): refuses while the app or worker has it open."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(path, timeout=0)
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(t("restore.sqlite_in_use", path=path)) from exc
    if str(mode).lower() != "delete":
        raise BackupError(t("restore.sqlite_in_use", path=path))


def _swap_documents(staged: Path, target: Path) -> Path | None:
    """Put the staged documents in place; returns where the old directory went (to delete or to put back)."""
    old = None
    if target.exists():
        old = target.with_name(f".documents-old-{secrets.token_hex(4)}")
        os.rename(target, old)
    try:
        os.rename(staged, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    return old


def _undo_documents(target: Path, old: Path | None) -> None:
    shutil.rmtree(target, ignore_errors=True)
    if old is not None:
        os.rename(old, target)


def _load_pg(staged: _Staged, url: str, workdir: Path) -> None:
    """Render the dump with pg_restore, then load it with psql in one transaction (all or nothing)."""
    from db.engine import make_engine

    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    conninfo, env = _conninfo(url)
    script = workdir / "restore.sql"
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", f"--file={script}", str(staged.database)],
         env=env, what="pg_restore")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            extra = sorted(set(_pg_tables(conn)) - staged.pg_tables)  # newer than the backup: would block migrating
    finally:
        engine.dispose()
    args = [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--no-password"]
    if extra:
        args.append("--command=DROP TABLE IF EXISTS " + ", ".join(_quote(n) for n in extra) + " CASCADE")
    _run([*args, f"--file={script}", f"--dbname={conninfo}"], env=env, what="psql")


def restore_backup(settings: Settings, *, archive: Path, force: bool = False) -> RestoreReport:
    """Check the whole archive, then replace database and documents; refuses a target with data unless force."""
    from alembic.script import ScriptDirectory

    from db.engine import make_engine
    from db.migrate import alembic_config, is_at_head, upgrade_to_head

    started = time.perf_counter()
    dialect = dialect_of(settings.database_url)
    if not force and _target_has_data(settings, dialect):
        raise BackupError(t("restore.target_not_empty"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target_docs = documents_dir(settings)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=settings.data_dir))
    if dialect == "sqlite":
        target_db = _sqlite_path(settings.database_url)
        target_db.parent.mkdir(parents=True, exist_ok=True)
        staged_db = target_db.with_name(f".{target_db.name}.restore-{secrets.token_hex(4)}")
    else:
        staged_db = staging / DB_MEMBERS["postgresql"]
    try:
        staged = _stage(Path(archive), dialect=dialect, database=staged_db, documents=staging / "documents")
        if dialect == "sqlite":
            _claim_sqlite_target(target_db)
        old = _swap_documents(staged.documents, target_docs)
        try:
            if dialect == "sqlite":
                os.replace(staged_db, target_db)
                for suffix in ("-wal", "-shm", "-journal"):
                    Path(f"{target_db}{suffix}").unlink(missing_ok=True)
                _fsync_dir(target_db.parent)
            else:
                _load_pg(staged, settings.database_url, staging)
        except BaseException:
            _undo_documents(target_docs, old)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(target_docs.parent)
    except OSError as exc:
        raise BackupError(t("restore.write_failed", reason=exc.strerror or str(exc))) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        staged_db.unlink(missing_ok=True)
    manifest = staged.manifest
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        migrated = None
        if not is_at_head(engine):
            upgrade_to_head(engine)
            migrated = ScriptDirectory.from_config(alembic_config()).get_current_head()
    except Exception as exc:  # the data is restored; the app retries the migration at its start
        raise BackupError(t("restore.migrate_failed", reason=str(exc).splitlines()[0])) from exc
    finally:
        engine.dispose()
    return RestoreReport(dialect=dialect, revision=manifest.get("alembic_revision"), migrated_to=migrated,
                         tables=manifest.get("tables") or {}, documents=len(manifest.get("documents") or {}),
                         seconds=time.perf_counter() - started)


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
