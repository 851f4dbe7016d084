"""Backup and restore on SQLite and PostgreSQL: round trip of every row and document, online backup, refusals."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from core import backup, documents, kpi_store
from core.backup import BackupError, create_backup, restore_backup
from core.cli import main
from core.enums import DocumentKind
from core.events import verify_chain
from core.i18n import t
from core.permissions import SYSTEM
from core.settings import Settings
from db.engine import make_engine, read_only, unit_of_work
from db.migrate import alembic_config, is_at_head, upgrade_to_head
from db.models import Case, DocumentVersion
from db.seed import seed_demo
from tests.conftest import _pg_admin, pg_url
from tests.factories import make_case
from tests.unit.test_upload_validation import make_image, make_pdf

SEED_CASES = 300


# --- fixtures -----------------------------------------------------------------------------------


def _settings(url: str, data_dir: Path, tmp_path: Path) -> Settings:
    return Settings.load(env={"DATABASE_URL": url, "DATA_DIR": str(data_dir)}, secrets_path=tmp_path / "none.toml")


@pytest.fixture
def target(request, tmp_path, database_url):
    """Settings of an empty target of the source's dialect: a new SQLite file, or a new PostgreSQL database
    created with plain CREATE DATABASE (as on a new machine: not migrated)."""
    created: list[str] = []

    def make(*, migrated: bool = False) -> Settings:
        name = f"t{len(created)}"
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / name / 'target.db'}"
        else:
            dbname = f"sp_restore_{uuid.uuid4().hex[:12]}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{dbname}"'))
            admin.dispose()
            created.append(dbname)
            url = pg_url(dbname)
        if migrated:
            engine = make_engine(url)
            upgrade_to_head(engine)
            engine.dispose()
        return _settings(url, tmp_path / name / "data", tmp_path)

    yield make
    if created:
        admin = _pg_admin()
        with admin.connect() as conn:
            for dbname in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


def upload(engine, settings, number: str, *, kind=DocumentKind.INVOICE, name="Rechnung.pdf", data=None) -> None:
    with unit_of_work(engine) as s:
        documents.upload_document(s, actor=SYSTEM, settings=settings, case_number=number, kind=kind, filename=name,
                                  data=data if data is not None else make_pdf(f"Rechnung {number}"))


@pytest.fixture
def world(engine, settings):
    """Demo data with a few hundred cases, and three document versions on two cases."""
    seed_demo(engine, cases=SEED_CASES, seed=7)
    with read_only(engine) as s:
        first, second = s.scalars(select(Case.number).order_by(Case.id).limit(2)).all()
    upload(engine, settings, first)
    upload(engine, settings, first, data=make_pdf("Rechnung, korrigiert"))
    upload(engine, settings, second, kind=DocumentKind.PHOTO, name="Foto.png", data=make_image("PNG"))
    return engine


# --- what is compared ---------------------------------------------------------------------------


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key (all columns where there is none)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            result = {}
            for name in sorted(insp.get_table_names()):
                pk = insp.get_pk_constraint(name)["constrained_columns"]
                order = ", ".join(f'"{c}"' for c in pk) if pk else ", ".join(
                    str(i + 1) for i in range(len(insp.get_columns(name))))
                result[name] = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{name}" ORDER BY {order}'))]
            return result
    finally:
        engine.dispose()


def document_hashes(settings: Settings) -> dict[str, str]:
    folder = documents.documents_dir(settings)
    if not folder.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def state(settings: Settings) -> tuple[dict, dict]:
    return table_rows(settings.database_url), document_hashes(settings)


def manifest_of(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return json.loads(tar.extractfile(backup.MANIFEST).read())


def seed_other(settings: Settings) -> None:
    """A different small world in a target, so that an unchanged target can be told from a restored one."""
    engine = make_engine(settings.database_url)
    upgrade_to_head(engine)
    number = make_case(engine, last_name="Anders")
    upload(engine, settings, number, data=make_pdf("Ziel-Rechnung"))
    engine.dispose()


# --- round trip ---------------------------------------------------------------------------------


def test_round_trip_restores_every_row_and_every_document(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    report = create_backup(settings, output=archive)
    dest = target()
    restored = restore_backup(dest, archive=archive)

    source_rows, source_docs = state(settings)
    target_rows, target_docs = state(dest)
    assert report.tables["cases"] == SEED_CASES and len(source_rows["case_events"]) > SEED_CASES
    assert target_rows.keys() == source_rows.keys()
    for name, rows in source_rows.items():
        assert target_rows[name] == rows, name
    assert len(source_docs) == 3 and target_docs == source_docs
    assert restored.migrated_to is None and restored.documents == 3


def test_manifest_lists_revision_counts_and_every_hash(world, settings, engine, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    manifest = manifest_of(archive)
    with read_only(engine) as s:
        revision = s.scalar(text("SELECT version_num FROM alembic_version"))
        cases = s.scalar(text("SELECT count(*) FROM cases"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        db_hash = hashlib.sha256(tar.extractfile(manifest["database"]["member"]).read()).hexdigest()
    assert manifest["format"] == backup.FORMAT and manifest["format_version"] == backup.FORMAT_VERSION
    assert manifest["alembic_revision"] == revision and manifest["tables"]["cases"] == cases == SEED_CASES
    assert manifest["dialect"] == engine.dialect.name and manifest["database"]["sha256"] == db_hash
    assert {n: d["sha256"] for n, d in manifest["documents"].items()} == document_hashes(settings)
    assert names[-1] == backup.MANIFEST and len(names) == 1 + 1 + 3
    assert archive.stat().st_mode & 0o777 == 0o600  # personal data: readable by the owner only


def test_restored_documents_decrypt_with_the_same_key(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    dest = target()
    restore_backup(dest, archive=archive)
    engine = make_engine(dest.database_url)
    with read_only(engine) as s:
        versions = s.execute(select(DocumentVersion.stored_name, DocumentVersion.sha256)).all()
    engine.dispose()
    assert len(versions) == 3
    for stored_name, sha in versions:
        assert hashlib.sha256(documents.stored_file(dest, stored_name=stored_name, sha256=sha)).hexdigest() == sha


def test_backup_while_another_thread_keeps_writing_is_one_consistent_state(settings, engine, target, tmp_path):
    """SQLite: the online backup API in WAL mode; PostgreSQL: pg_dump of an exported snapshot."""
    number = make_case(engine)
    upload(engine, settings, number)
    stop, errors, written = threading.Event(), [], []
    writer_engine = make_engine(settings.database_url)

    def writer() -> None:
        try:
            while not stop.is_set():
                number = make_case(writer_engine, last_name=f"Online{len(written)}")
                if len(written) % 5 == 0:
                    upload(writer_engine, settings, number, data=make_pdf(f"Online {number}"))
                written.append(number)
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        _wait_for(lambda: len(written) >= 10)
        before = len(written)
        archive = tmp_path / "online.tar"
        create_backup(settings, output=archive)
        during = len(written)
        _wait_for(lambda: len(written) >= during + 10)
    finally:
        stop.set()
        thread.join()
        writer_engine.dispose()
    assert errors == []

    dest = target()
    restore_backup(dest, archive=archive)
    source_rows, target_rows = table_rows(settings.database_url), table_rows(dest.database_url)
    restored_cases = len(target_rows["cases"])
    assert 1 + before <= restored_cases < 1 + len(written)  # writes before and after the snapshot
    assert manifest_of(archive)["tables"]["cases"] == restored_cases
    for name in ("case_events", "document_versions"):  # append-only: each restored row is the source's row
        source_by_id = {r[0]: r for r in source_rows[name]}
        assert all(source_by_id[r[0]] == r for r in target_rows[name]), name
    assert {r[0] for r in target_rows["cases"]} == {r[0] for r in source_rows["cases"][:restored_cases]}
    restored = make_engine(dest.database_url)
    with unit_of_work(restored) as s:
        assert all(verify_chain(s, case=case).ok for case in s.scalars(select(Case)))
        referenced = set(s.scalars(select(DocumentVersion.stored_name)))
    with unit_of_work(restored) as s:
        assert kpi_store.verify(s) == []
    restored.dispose()
    assert referenced <= document_hashes(dest).keys()


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- refusals: nothing changes ------------------------------------------------------------------


def test_restore_refuses_a_target_with_data_unless_forced(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    dest = target()
    seed_other(dest)
    before = state(dest)
    with pytest.raises(BackupError, match="--force"):
        restore_backup(dest, archive=archive)
    assert state(dest) == before
    restore_backup(dest, archive=archive, force=True)
    assert state(dest) == state(settings)


def test_restore_into_a_migrated_empty_target_is_allowed(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    dest = target(migrated=True)
    restore_backup(dest, archive=archive)
    assert state(dest) == state(settings)


def test_truncated_archive_is_refused_and_the_target_stays_unchanged(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    broken = tmp_path / "abgeschnitten.tar"
    broken.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    dest = target()
    seed_other(dest)
    before = state(dest)
    with pytest.raises(BackupError, match="beschädigt oder unvollständig"):
        restore_backup(dest, archive=broken, force=True)
    assert state(dest) == before
    assert [p.name for p in dest.data_dir.iterdir()] == ["documents"]  # no staging left behind


def test_a_changed_document_fails_its_hash_and_the_target_stays_unchanged(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(backup.DOC_PREFIX))
    data = bytearray(archive.read_bytes())
    data[member.offset_data + 10] ^= 0x01  # one bit inside the encrypted file; the tar itself stays readable
    archive.write_bytes(bytes(data))
    dest = target()
    seed_other(dest)
    before = state(dest)
    with pytest.raises(BackupError, match=f"Prüfsumme stimmt nicht: {member.name}"):
        restore_backup(dest, archive=archive, force=True)
    assert state(dest) == before


def test_a_changed_database_copy_fails_its_hash(world, settings, target, tmp_path):
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    with tarfile.open(archive) as tar:
        member = tar.getmember(manifest_of(archive)["database"]["member"])
    data = bytearray(archive.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    dest = target()
    with pytest.raises(BackupError, match="Prüfsumme stimmt nicht: database"):
        restore_backup(dest, archive=archive)
    assert not dest.data_dir.joinpath("documents").exists()
    if dest.database_url.startswith("sqlite"):
        assert not Path(backup._sqlite_path(dest.database_url)).exists()
    else:
        assert table_rows(dest.database_url) == {}


def test_backup_fails_when_a_referenced_document_file_is_missing(world, settings, engine, tmp_path):
    with read_only(engine) as s:
        stored_name = s.scalar(select(DocumentVersion.stored_name).order_by(DocumentVersion.id).limit(1))
    (documents.documents_dir(settings) / stored_name).unlink()
    archive = tmp_path / "sicherung.tar"
    with pytest.raises(BackupError, match=stored_name):
        create_backup(settings, output=archive)
    assert list(tmp_path.glob("*sicherung.tar*")) == []


def test_restore_from_an_older_revision_migrates_to_head(settings, target, tmp_path):
    """A backup of a database at the previous revision restored into a target already at head (extra tables)."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    if settings.database_url.startswith("sqlite"):
        old_url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        old_url = target().database_url  # a new, empty database
    old_engine = make_engine(old_url)
    with old_engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, previous)
    old_engine.dispose()
    archive = tmp_path / "alt.tar"
    report = create_backup(_settings(old_url, tmp_path / "old-data", tmp_path), output=archive)
    assert report.revision == previous
    dest = target(migrated=True)
    restored = restore_backup(dest, archive=archive)
    engine = make_engine(dest.database_url)
    assert restored.migrated_to == head and is_at_head(engine)
    engine.dispose()


def test_a_postgresql_backup_is_not_restored_into_sqlite(world, settings, engine, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("needs a PostgreSQL source")
    archive = tmp_path / "pg.tar"
    create_backup(settings, output=archive)
    dest = _settings(f"sqlite:///{tmp_path / 'ziel.db'}", tmp_path / "ziel", tmp_path)
    with pytest.raises(BackupError, match="postgresql-Sicherung lässt sich nicht in eine sqlite-Datenbank"):
        restore_backup(dest, archive=archive)
    assert not (tmp_path / "ziel.db").exists()


def test_backup_without_pg_dump_says_so(settings, engine, tmp_path, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_dump is PostgreSQL's")
    monkeypatch.setenv("PATH", str(tmp_path / "leer"))
    with pytest.raises(BackupError, match="pg_dump wurde nicht gefunden"):
        create_backup(settings, output=tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists()


def test_sqlite_restore_refuses_while_the_app_has_the_database_open(settings, engine, target, tmp_path):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL restores inside one transaction while the app may be connected")
    make_case(engine)
    archive = tmp_path / "sicherung.tar"
    create_backup(settings, output=archive)
    dest = target()
    seed_other(dest)
    before = state(dest)
    app = make_engine(dest.database_url)
    with app.connect() as conn:  # like a running app: an open connection in WAL mode
        conn.execute(text("SELECT count(*) FROM cases"))
        with pytest.raises(BackupError, match="noch geöffnet"):
            restore_backup(dest, archive=archive, force=True)
    app.dispose()
    assert state(dest) == before


# --- command line -------------------------------------------------------------------------------


def test_cli_backup_and_restore(world, settings, target, tmp_path, monkeypatch, capsys):
    archive = tmp_path / "cli.tar"
    monkeypatch.setenv("SECRETS_PATH", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    assert main(["backup", "-o", str(archive)]) == 0
    assert f"{SEED_CASES} Fälle, 3 Dokumentdateien" in capsys.readouterr().out
    dest = target()
    monkeypatch.setenv("DATABASE_URL", dest.database_url)
    monkeypatch.setenv("DATA_DIR", str(dest.data_dir))
    assert main(["restore", str(archive)]) == 0
    assert main(["restore", str(archive)]) == 1
    assert t("restore.target_not_empty") in capsys.readouterr().err
    garbage = tmp_path / "kaputt.tar"
    garbage.write_bytes(os.urandom(4096))
    assert main(["restore", "--force", str(garbage)]) == 1
    assert "beschädigt oder unvollständig" in capsys.readouterr().err
    assert state(dest) == state(settings)


def test_restore_of_a_missing_file_names_it(settings, target, tmp_path):
    with pytest.raises(BackupError, match="nicht gefunden: .*fehlt.tar"):
        restore_backup(target(), archive=tmp_path / "fehlt.tar")

