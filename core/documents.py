"""Case documents (§9): encrypted storage without orphan files, versions, downloads.

The upload checks by content and the previews are pure and live in core.upload_checks; their names are
re-exported here. Files are Fernet-encrypted under `DATA_DIR/documents` with a generated name; the original name
lives only in the database row. A file is written inside the caller's transaction and deleted again if that
transaction does not commit (see `_track_written_file`), so a rolled-back upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.fernet import InvalidToken
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from core import upload_checks, webhooks
from core.audit import log_access
from core.crypto import fernet
from core.enums import DocumentKind
from core.errors import NotFound, SchadenportalError
from core.events import append_event
from core.i18n import t
from core.ocr import ExtractionStatus
from core.permissions import Action, Actor, can, require
from core.settings import Settings
from core.tasks import close_tasks_of_kind
from core.timeutil import now
from core.upload_checks import (
    ALLOWED_EXTENSIONS,
    MAX_NAME_CHARS,
    MAX_PIXELS,
    MAX_TEXT_CHARS,
    PREVIEW_MAX_PX,
    Detected,
    display_name,
    preview_png,
    sniff_mime,
)
from db.models import Case, CaseEvent, Document, DocumentVersion, User

__all__ = [
    "ALLOWED_EXTENSIONS", "MAX_NAME_CHARS", "MAX_PIXELS", "MAX_TEXT_CHARS", "PREVIEW_MAX_PX", "Detected",
    "DocumentUnavailable", "DocumentVersionView", "DocumentView", "DownloadedFile", "detect_upload", "display_name",
    "documents_dir", "download_document", "list_documents", "preview_png", "sniff_mime", "stored_file",
    "sweep_orphan_files", "upload_document",
]

log = logging.getLogger(__name__)

_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")
_FILES_KEY = "sp_document_files"  # session.info: [(path, transaction it was written in)]


def detect_upload(data: bytes, filename: str, *, max_bytes: int) -> Detected:
    """core.upload_checks.detect_upload with this module's MAX_TEXT_CHARS (read per call, so it can be lowered)."""
    return upload_checks.detect_upload(data, filename, max_bytes=max_bytes, max_text_chars=MAX_TEXT_CHARS)


class DocumentUnavailable(SchadenportalError):
    """The stored file is missing or does not match its checksum; nothing is delivered."""


@dataclass(frozen=True)
class DocumentVersionView:
    id: int
    document_id: int
    case_number: str
    kind: DocumentKind
    version: int
    original_name: str
    name: str
    mime: str
    size: int
    uploaded_at: datetime
    uploaded_by: str
    extraction: ExtractionStatus = ExtractionStatus.TEXT_LAYER  # where the searchable text comes from


@dataclass(frozen=True)
class DocumentView:
    id: int
    kind: DocumentKind
    title: str
    versions: tuple[DocumentVersionView, ...]  # newest first

    @property
    def latest(self) -> DocumentVersionView:
        return self.versions[0]


@dataclass(frozen=True)
class DownloadedFile:
    filename: str
    mime: str
    data: bytes


# --- storage: encrypted files, deleted again if the transaction does not commit ---------------


def documents_dir(settings: Settings) -> Path:
    """Where the encrypted files live."""
    return settings.data_dir / "documents"


def store_encrypted(session: Session, *, settings: Settings, data: bytes, folder: Path | None = None) -> str:
    """Encrypt and write the bytes under a generated name in `folder` (default: the documents folder), tracked by
    the session's transaction (deleted again if it does not commit)."""
    folder = folder or documents_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    token = fernet(settings.encryption_key).encrypt(data)
    stored_name = secrets.token_hex(16) + ".bin"
    path = folder / stored_name
    _track_written_file(session, path)  # before writing: a failed write is cleaned up too
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(token)
        fh.flush()
        os.fsync(fh.fileno())
    return stored_name


def _track_written_file(session: Session, path: Path) -> None:
    """Remember a file written in the current (innermost) transaction; hook the session events once.

    - after_commit of the outermost transaction: the files are kept (forgotten here);
    - after_soft_rollback of a transaction or savepoint: the files written inside it are deleted;
    - after_transaction_end of the outermost transaction: whatever is still tracked was not committed
      (rollback, or a session closed without commit) and is deleted.
    """
    if _FILES_KEY not in session.info:
        session.info[_FILES_KEY] = []
        event.listen(session, "after_commit", _forget_committed_files)
        event.listen(session, "after_soft_rollback", _delete_rolled_back_files)
        event.listen(session, "after_transaction_end", _delete_uncommitted_files)
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info[_FILES_KEY].append((path, transaction))


def _forget_committed_files(session: Session) -> None:
    if not session.in_nested_transaction():  # a released savepoint commits nothing yet
        session.info[_FILES_KEY].clear()


def _delete_rolled_back_files(session: Session, previous_transaction: SessionTransaction) -> None:
    def inside(tx: SessionTransaction | None) -> bool:
        while tx is not None:
            if tx is previous_transaction:
                return True
            tx = tx.parent
        return False

    entries = session.info[_FILES_KEY]
    _delete_files([path for path, tx in entries if inside(tx)])
    entries[:] = [(path, tx) for path, tx in entries if not inside(tx)]


def _delete_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        entries = session.info[_FILES_KEY]
        _delete_files([path for path, _tx in entries])
        entries.clear()


def _delete_files(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # never raise from a rollback; sweep_orphan_files catches it later
            log.exception("could not delete the uncommitted document file %s", path.name)


def sweep_orphan_files(session: Session, *, settings: Settings, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored files no version refers to (left by a crash mid-upload); returns how many."""
    folder = documents_dir(settings)
    if not folder.is_dir():
        return 0
    known = set(session.scalars(select(DocumentVersion.stored_name)))
    cutoff = (now() - older_than).timestamp()
    removed = 0
    for path in folder.iterdir():
        if _STORED_NAME.match(path.name) and path.name not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- services ----------------------------------------------------------------------------------


def upload_document(
    session: Session, *, actor: Actor, settings: Settings, case_number: str, kind: DocumentKind, filename: str,
    data: bytes, title: str = "",
) -> DocumentVersionView:
    """Check the file, store it encrypted as the next version of the case's document of that kind."""
    number = case_number.strip().upper()
    case = session.scalar(
        select(Case).where(Case.number == number).with_for_update(of=Case).execution_options(populate_existing=True)
    )
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    require(actor, Action.UPLOAD_DOCUMENT, case)
    kind = DocumentKind(kind)
    detected = detect_upload(data, filename, max_bytes=settings.upload_max_mb * 1024 * 1024)
    document = session.scalar(select(Document).where(Document.case_id == case.id, Document.kind == kind))
    if document is None:
        document = Document(case_id=case.id, kind=kind, title=title.strip()[:200])
        session.add(document)
        session.flush()
    elif title.strip():
        document.title = title.strip()[:200]
    last = session.scalar(select(DocumentVersion.version).where(DocumentVersion.document_id == document.id)
                          .order_by(DocumentVersion.version.desc()).limit(1))
    version = DocumentVersion(
        document_id=document.id, version=(last or 0) + 1,
        stored_name=store_encrypted(session, settings=settings, data=data), original_name=detected.original_name,
        mime=detected.mime, size=detected.size, sha256=hashlib.sha256(data).hexdigest(), text=detected.text,
        extraction_status=detected.extraction, uploaded_by_id=actor.user_id, uploaded_at=now(),
    )
    session.add(version)
    append_event(
        session, case=case, actor=actor, action="document_uploaded",
        details={"kind": str(kind), "version": version.version, "name": detected.original_name, "size": detected.size},
    )
    webhooks.emit(session, event="document.uploaded", case=case, data={"kind": str(kind), "version": version.version})
    session.flush()
    return _version_view(version, document, case.number, actor.display_name)


def add_document(
    session: Session, *, actor: Actor, settings: Settings, number: str, kind: DocumentKind, filename: str,
    data: bytes,
) -> DocumentVersionView:
    """Upload a document; the "document missing" task of its kind is done with it."""
    version = upload_document(session, actor=actor, settings=settings, case_number=number, kind=kind,
                              filename=filename, data=data)
    case = session.scalar(select(Case).where(Case.number == version.case_number))
    close_tasks_of_kind(session, actor=actor, case=case, kind=f"document:{kind.value}")
    return version


def list_documents(session: Session, *, actor: Actor, case_number: str) -> list[DocumentView]:
    """The case's documents the actor may download, each with all versions newest first."""
    case = session.scalar(select(Case).where(Case.number == case_number.strip().upper()))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    kinds = _downloadable_kinds(actor, case)
    if not kinds:
        return []
    rows = session.execute(
        select(Document, DocumentVersion, User.display_name)
        .join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .outerjoin(User, User.id == DocumentVersion.uploaded_by_id)
        .where(Document.case_id == case.id, Document.kind.in_(kinds))
        .order_by(Document.id, DocumentVersion.version.desc())
    ).all()
    by_event = _uploaders_from_events(session, case) if any(name is None for *_, name in rows) else {}
    grouped: dict[int, tuple[Document, list[DocumentVersionView]]] = {}
    for document, version, user_name in rows:
        uploader = user_name or by_event.get((str(document.kind), version.version), "")
        grouped.setdefault(document.id, (document, []))[1].append(
            _version_view(version, document, case.number, uploader)
        )
    return [
        DocumentView(id=doc.id, kind=doc.kind, title=doc.title, versions=tuple(versions))
        for doc, versions in grouped.values()
    ]


def download_document(session: Session, *, actor: Actor, settings: Settings, version_id: int) -> DownloadedFile | None:
    """The decrypted, checksum-verified file, logged; None and a logged refusal if not allowed.

    Like core.cases.open_case, a refusal returns None so the caller can commit the refusal log entry.
    """
    row = session.execute(
        select(DocumentVersion, Document, Case)
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(DocumentVersion.id == version_id)
    ).first()
    if row is None or row.Document.kind not in _downloadable_kinds(actor, row.Case):
        log_access(session, actor=actor, action="refused", object_type="document", object_ref=str(version_id))
        return None
    version = row.DocumentVersion
    data = _read_decrypted(settings, version.stored_name)
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise DocumentUnavailable(t("doc.corrupt"))
    log_access(session, actor=actor, action="download", object_type="document", object_ref=str(version_id))
    return DownloadedFile(filename=display_name(version.original_name, version.mime), mime=version.mime, data=data)


def stored_file(settings: Settings, *, stored_name: str, sha256: str, folder: Path | None = None) -> bytes:
    """The decrypted bytes of a stored file (default: a document version's), checked against its checksum."""
    data = _read_decrypted(settings, stored_name, folder)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DocumentUnavailable(t("doc.corrupt"))
    return data


def _downloadable_kinds(actor: Actor, case: Case) -> frozenset[DocumentKind]:
    if can(actor, Action.DOWNLOAD_DOCUMENT, case):
        return frozenset(DocumentKind)
    if can(actor, Action.DOWNLOAD_REPORT, case):  # brokers: the appraisal report for their client
        return frozenset({DocumentKind.REPORT})
    return frozenset()


def _read_decrypted(settings: Settings, stored_name: str, folder: Path | None = None) -> bytes:
    if not _STORED_NAME.match(stored_name or ""):
        raise DocumentUnavailable(t("doc.corrupt"))
    try:
        token = ((folder or documents_dir(settings)) / stored_name).read_bytes()
    except FileNotFoundError:
        raise DocumentUnavailable(t("doc.missing")) from None
    try:
        return fernet(settings.encryption_key).decrypt(token)
    except InvalidToken:
        raise DocumentUnavailable(t("doc.corrupt")) from None


def _uploaders_from_events(session: Session, case: Case) -> dict[tuple[str, int], str]:
    """Who uploaded which (kind, version), from the events: for uploads without a user (client link, system)."""
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "document_uploaded")
    )
    return {(str(e.details.get("kind")), int(e.details.get("version", 0))): e.actor_name for e in events}


def _version_view(version: DocumentVersion, document: Document, case_number: str, uploader: str) -> DocumentVersionView:
    return DocumentVersionView(
        id=version.id, document_id=document.id, case_number=case_number, kind=document.kind,
        version=version.version, original_name=version.original_name,
        name=display_name(version.original_name, version.mime), mime=version.mime, size=version.size,
        uploaded_at=version.uploaded_at, uploaded_by=uploader,
        extraction=version.extraction_status or ExtractionStatus.TEXT_LAYER,
    )
