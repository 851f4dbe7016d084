"""Case documents (§9): upload checks by content, encrypted storage without orphan files, versions, downloads.

Files are Fernet-encrypted under `DATA_DIR/documents` with a generated name; the original name lives only
in the database row. A file is written inside the caller's transaction and deleted again if that
transaction does not commit (see `_track_written_file`), so a rolled-back upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import threading
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

import pypdf
import pypdfium2 as pdfium
from cryptography.fernet import InvalidToken
from PIL import Image, ImageOps
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from core.audit import log_access
from core.crypto import fernet
from core.enums import DocumentKind
from core.errors import NotFound, SchadenportalError, ValidationError
from core.events import append_event
from core.i18n import t
from core.permissions import Action, Actor, can, require
from core.settings import Settings
from core.timeutil import now
from db.models import Case, CaseEvent, Document, DocumentVersion, User

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # decompression-bomb guard for images
MAX_TEXT_CHARS = 200_000
MAX_NAME_CHARS = 255
PREVIEW_MAX_PX = 1200
ALLOWED_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/heic": (".heic", ".heif", ".hif"),
}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"heif"})
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Recognised but refused: (magic prefix, catalog key of what it is).
_FORBIDDEN_MAGIC = (
    (b"MZ", "doc.what_exe"), (b"\x7fELF", "doc.what_elf"), (b"PK\x03\x04", "doc.what_zip"),
    (b"PK\x05\x06", "doc.what_zip"), (b"#!", "doc.what_script"),
)
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}
)
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")
_FILES_KEY = "sp_document_files"  # session.info: [(path, transaction it was written in)]
_pdfium_lock = threading.Lock()  # PDFium is not thread-safe; Streamlit runs sessions in threads


class DocumentUnavailable(SchadenportalError):
    """The stored file is missing or does not match its checksum; nothing is delivered."""


@dataclass(frozen=True)
class Detected:
    """An accepted upload: its type by content, its names, size and extracted text."""

    mime: str
    name: str  # display and download name: the basename with an extension that fits the content
    original_name: str  # the basename as given (kept as metadata)
    size: int
    text: str


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


# --- checking an upload (pure) ----------------------------------------------------------------


def detect_upload(data: bytes, filename: str, *, max_bytes: int) -> Detected:
    """Accept a PDF, JPEG, PNG or HEIC judged by its content, or raise ValidationError (field "file")."""
    original = _check_filename(filename)
    if not data:
        raise _refusal("doc.empty")
    if len(data) > max_bytes:
        raise _refusal("doc.too_large", limit=f"{max_bytes / 1024 / 1024:g}".replace(".", ","))
    mime = sniff_mime(data)
    text = ""
    if mime == "application/pdf":
        text = _check_pdf(data)
    elif mime in ("image/jpeg", "image/png"):
        _check_image(data, "JPEG" if mime == "image/jpeg" else "PNG")
    return Detected(mime=mime, name=display_name(original, mime), original_name=original, size=len(data), text=text)


def sniff_mime(data: bytes) -> str:
    """The MIME type from the magic bytes; ValidationError for anything not allowed."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    if _is_heif(data):
        return "image/heic"
    for magic, what in _FORBIDDEN_MAGIC:
        if data.startswith(magic):
            raise _refusal("doc.type_forbidden", what=t(what))
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head:
        raise _refusal("doc.type_forbidden", what=t("doc.what_svg"))
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        raise _refusal("doc.type_forbidden", what=t("doc.what_html"))
    raise _refusal("doc.type_unknown")


def display_name(original: str, mime: str) -> str:
    """The name to show and download: the original, plus the right extension if its own does not fit."""
    allowed = ALLOWED_EXTENSIONS.get(mime, ())
    if not allowed or PurePosixPath(original).suffix.lower() in allowed:
        return original
    return original + allowed[0]


def _refusal(key: str, **values: object) -> ValidationError:
    return ValidationError(t(key, **values), field="file")


def _check_filename(filename: str) -> str:
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        raise _refusal("doc.name_empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):  # incl. NUL and bidi overrides
        raise _refusal("doc.name_control")
    if any(part in (".", "..") for part in re.split(r"[/\\]", name)):
        raise _refusal("doc.name_parent")
    if "/" in name or "\\" in name:
        raise _refusal("doc.name_separator")
    if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        raise _refusal("doc.name_reserved", name=name)
    if len(name) > MAX_NAME_CHARS:
        raise _refusal("doc.name_too_long", max=MAX_NAME_CHARS)
    return name


def _is_heif(data: bytes) -> bool:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[:4], "big")
    return 16 <= box_size <= len(data) and data[8:12] in _HEIF_BRANDS


def _check_pdf(data: bytes) -> str:
    """The text layer of a PDF that opens and has pages (capped); refuses broken or truncated ones."""
    if b"%%EOF" not in data[-1024:]:  # cut off at the end: the trailer is missing
        raise _refusal("doc.pdf_broken")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _refusal("doc.pdf_encrypted")
        pages = reader.pages
        if len(pages) == 0:
            raise _refusal("doc.pdf_no_pages")
        parts: list[str] = []
        length = 0
        for page in pages:
            if length >= MAX_TEXT_CHARS:
                break
            part = page.extract_text() or ""
            parts.append(part)
            length += len(part) + 1
    except ValidationError:
        raise
    except Exception:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError, RecursionError, ...)
        raise _refusal("doc.pdf_broken") from None
    return "\n".join(parts)[:MAX_TEXT_CHARS].replace("\x00", "")


def _check_image(data: bytes, expected_format: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.format != expected_format:
                    raise _refusal("doc.image_broken")
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise _refusal("doc.image_too_many_pixels", megapixels=MAX_PIXELS // 1_000_000)
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                im.load()  # verify() does not decode; a JPEG cut off in its data only shows here
    except ValidationError:
        raise
    except Exception:
        raise _refusal("doc.image_broken") from None


# --- previews (pure) --------------------------------------------------------------------------


def preview_png(data: bytes, mime: str) -> bytes | None:
    """A PNG of at most 1200 px for a PNG/JPEG or the first page of a PDF; None for HEIC or on failure."""
    try:
        if mime in ("image/png", "image/jpeg"):
            image = _open_image_for_preview(data)
        elif mime == "application/pdf":
            image = _render_pdf_first_page(data)
        else:
            return None
        image.thumbnail((PREVIEW_MAX_PX, PREVIEW_MAX_PX))
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception:
        log.warning("preview failed for a %s file", mime, exc_info=True)
        return None


def _open_image_for_preview(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > MAX_PIXELS:
            raise ValueError("too many pixels")
        image.draft("RGB", (PREVIEW_MAX_PX, PREVIEW_MAX_PX))  # JPEG: decode at a reduced size
        return ImageOps.exif_transpose(image)


def _render_pdf_first_page(data: bytes) -> Image.Image:
    with _pdfium_lock:
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            width, height = page.get_size()
            scale = min(PREVIEW_MAX_PX / max(width, height, 1.0), 4.0)
            image = page.render(scale=scale).to_pil()
            image.load()
            return image.copy()  # detached from PDFium's buffer before the document closes
        finally:
            pdf.close()


# --- storage: encrypted files, deleted again if the transaction does not commit ---------------


def documents_dir(settings: Settings) -> Path:
    """Where the encrypted files live."""
    return settings.data_dir / "documents"


def _store_encrypted(session: Session, *, settings: Settings, data: bytes) -> str:
    """Encrypt and write the bytes under a generated name, tracked by the session's transaction."""
    folder = documents_dir(settings)
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
        stored_name=_store_encrypted(session, settings=settings, data=data), original_name=detected.original_name,
        mime=detected.mime, size=detected.size, sha256=hashlib.sha256(data).hexdigest(), text=detected.text,
        uploaded_by_id=actor.user_id, uploaded_at=now(),
    )
    session.add(version)
    append_event(
        session, case=case, actor=actor, action="document_uploaded",
        details={"kind": str(kind), "version": version.version, "name": detected.original_name, "size": detected.size},
    )
    session.flush()
    return _version_view(version, document, case.number, actor.display_name)


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


def _downloadable_kinds(actor: Actor, case: Case) -> frozenset[DocumentKind]:
    if can(actor, Action.DOWNLOAD_DOCUMENT, case):
        return frozenset(DocumentKind)
    if can(actor, Action.DOWNLOAD_REPORT, case):  # brokers: the appraisal report for their client
        return frozenset({DocumentKind.REPORT})
    return frozenset()


def _read_decrypted(settings: Settings, stored_name: str) -> bytes:
    if not _STORED_NAME.match(stored_name):
        raise DocumentUnavailable(t("doc.corrupt"))
    try:
        token = (documents_dir(settings) / stored_name).read_bytes()
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
    )
