"""The worker's OCR step (§9): recognise the text of photos and scanned PDFs after the upload.

An upload stores the PDF text layer at once (core.upload_checks) and marks versions that need OCR `pending`
(or `ocr_unavailable` when Tesseract is not installed). Each worker round takes such versions one at a time
with a lease (`extraction_next_at`, `extraction_attempts` as the claim's token, like core.jobs), runs Tesseract
in the sandbox outside any transaction, and stores text and status in one short transaction, only if the claim
is still its own. The search index follows in that transaction (trigger on SQLite, expression index on
PostgreSQL). A timeout or crash is retried after a pause, and after MAX_ATTEMPTS the version is `failed`.
Versions waiting as `ocr_unavailable` are taken up again once Tesseract is installed. Versions of a client
whose data was erased (retention, §10) are never read again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core import documents, ocr, sandbox
from core.errors import SchadenportalError
from core.ocr import ExtractionStatus
from core.settings import Settings
from core.timeutil import now
from db.engine import unit_of_work
from db.models import Case, Document, DocumentVersion, Person

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
LEASE = timedelta(seconds=sandbox.OCR_LIMITS.wall_seconds + 300)
RETRY_AFTER = timedelta(minutes=15)
ROUND_BUDGET_S = 60.0  # no new version is started after this many seconds of a round
ROUND_LIMIT = 10  # versions per round at most


@dataclass(frozen=True)
class _Claim:
    version_id: int
    attempts: int
    stored_name: str
    sha256: str
    mime: str


@dataclass
class ExtractionReport:
    """What one round did."""

    recognised: int = 0
    failed: int = 0
    retrying: int = 0
    unavailable: int = 0  # marked `ocr_unavailable` because Tesseract is missing


def recognise_pending(engine: Engine, *, settings: Settings, limit: int = ROUND_LIMIT,
                      budget_s: float = ROUND_BUDGET_S) -> ExtractionReport:
    """One round: OCR for the versions waiting for it (or mark them unavailable without Tesseract)."""
    report = ExtractionReport()
    if not ocr.ocr_available():
        with unit_of_work(engine) as session:
            report.unavailable = session.execute(
                update(DocumentVersion).where(DocumentVersion.extraction_status == ExtractionStatus.PENDING)
                .values(extraction_status=ExtractionStatus.OCR_UNAVAILABLE, extraction_next_at=None)
            ).rowcount
        return report
    started = time.monotonic()
    for _ in range(limit):
        if time.monotonic() - started > budget_s:
            break
        with unit_of_work(engine) as session:
            claim = _claim_one(session, at=now())
        if claim is None:
            break
        outcome = _recognise(engine, claim, settings=settings)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _claim_one(session: Session, *, at: datetime) -> _Claim | None:
    """Take the oldest due version that needs OCR (a lease; the attempt number is the claim's token)."""
    due = (
        select(DocumentVersion)
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Case, Case.id == Document.case_id)
        .join(Person, Person.id == Case.client_id)
        .where(
            DocumentVersion.extraction_status.in_([ExtractionStatus.PENDING, ExtractionStatus.OCR_UNAVAILABLE]),
            DocumentVersion.mime.in_(ocr.OCR_MIMES),
            (DocumentVersion.extraction_next_at.is_(None)) | (DocumentVersion.extraction_next_at <= at),
            Person.pseudonymised_at.is_(None),  # erased personal data is not read back from the file
        )
        .order_by(DocumentVersion.id).limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=DocumentVersion)
    version = session.scalar(due)
    if version is None:
        return None
    attempts = version.extraction_attempts + 1
    taken = session.execute(
        update(DocumentVersion)
        .where(DocumentVersion.id == version.id, DocumentVersion.extraction_attempts == version.extraction_attempts)
        .values(extraction_status=ExtractionStatus.PENDING, extraction_attempts=attempts,
                extraction_next_at=at + LEASE)
    ).rowcount
    if taken != 1:
        return None
    return _Claim(version.id, attempts, version.stored_name, version.sha256, version.mime)


def _recognise(engine: Engine, claim: _Claim, *, settings: Settings) -> str:
    """Run the OCR for one claimed version and record the outcome; returns the report field to count."""
    try:
        data = documents.stored_file(settings, stored_name=claim.stored_name, sha256=claim.sha256)
        result = sandbox.run_isolated("ocr", data, limits=sandbox.OCR_LIMITS, mime=claim.mime,
                                      program=ocr.TESSERACT, max_chars=documents.MAX_TEXT_CHARS)
    except (sandbox.SandboxFailure, SchadenportalError) as exc:
        log.warning("OCR of document version %s failed (attempt %s): %s", claim.version_id, claim.attempts, exc)
        final = claim.attempts >= MAX_ATTEMPTS
        _finish(engine, claim, ExtractionStatus.FAILED if final else ExtractionStatus.PENDING,
                next_at=None if final else now() + RETRY_AFTER)
        return "failed" if final else "retrying"
    _finish(engine, claim, ExtractionStatus.OCR, text=result["text"])
    return "recognised"


def _finish(engine: Engine, claim: _Claim, status: ExtractionStatus, *, text: str | None = None,
            next_at: datetime | None = None) -> None:
    """Store the outcome if the claim is still ours (same attempt, still waiting) and the data not erased."""
    with unit_of_work(engine) as session:
        erased = session.scalar(
            select(Person.pseudonymised_at).join(Case, Case.client_id == Person.id)
            .join(Document, Document.case_id == Case.id).join(DocumentVersion, DocumentVersion.document_id == Document.id)
            .where(DocumentVersion.id == claim.version_id)
        )
        values: dict = {"extraction_status": status, "extraction_next_at": next_at}
        if text is not None and erased is None:
            values["text"] = text
        session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == claim.version_id, DocumentVersion.extraction_attempts == claim.attempts,
                   DocumentVersion.extraction_status == ExtractionStatus.PENDING)
            .values(**values)
        )
