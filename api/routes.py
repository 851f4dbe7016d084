"""The endpoints under /v1. Each calls the same core services as the pages; each write is one transaction."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    Query,
    Request,
    Response,
    UploadFile,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import schemas
from api.deps import api_caller
from api.errors import ApiError, case_not_found, from_core
from api.schemas import ErrorResponse
from core import api_cases, idempotency, intake
from core.api_keys import ApiCaller
from core.audit import log_access
from core.cases import get_case as get_case_row
from core.cases import open_case
from core.documents import add_document
from core.enums import DocumentKind
from core.errors import SchadenportalError
from core.i18n import label, t
from core.timeline import event_details, event_label, role_label
from core.timeutil import now, to_berlin
from db.engine import unit_of_work

T = TypeVar("T")
MAX_NUMBER = 32  # the case number column's length

router = APIRouter(prefix="/v1", tags=["Fälle"])
Caller = Annotated[ApiCaller, Depends(api_caller)]
_AUTH_ERRORS = {401: {"model": ErrorResponse, "description": "Kein oder ungültiger API-Schlüssel"},
                429: {"model": ErrorResponse, "description": "Zu viele Anfragen (Header Retry-After)"},
                422: {"model": ErrorResponse, "description": "Ungültige Angaben (fields: je Feld eine Meldung)"}}
_CASE_ERRORS = {**_AUTH_ERRORS, 404: {"model": ErrorResponse,
                                      "description": "Fall unbekannt oder nicht Ihrer (dieselbe Antwort)"}}
_BODY_ERRORS = {400: {"model": ErrorResponse, "description": "Inhalt nicht lesbar (kein JSON bzw. Formular)"},
                413: {"model": ErrorResponse, "description": "Anfrage oder Datei zu groß"}}


def _write(request: Request, work: Callable[[Session], T]) -> T:
    """Run one write in one transaction; core errors become API errors."""
    try:
        with unit_of_work(request.app.state.engine) as session:
            return work(session)
    except SchadenportalError as exc:
        raise from_core(exc) from None


def _case_number(request: Request, caller: ApiCaller, number: str) -> str:
    """The case number as given; one that no case can have is refused (and logged) like any unknown one."""
    clean = number.strip().upper()
    if clean and len(clean) <= MAX_NUMBER and clean.isprintable():
        return clean
    _log_refusal(request, caller, "".join(ch for ch in number if ch.isprintable()))
    raise case_not_found()


def _log_refusal(request: Request, caller: ApiCaller, number: str) -> None:
    with unit_of_work(request.app.state.engine) as session:
        log_access(session, actor=caller.actor, action="refused", object_type="case", object_ref=number)


@router.post("/cases", status_code=201, response_model=schemas.CaseCreated, responses={**_AUTH_ERRORS, **_BODY_ERRORS},
             summary="Fall melden")
def submit_case(body: schemas.CaseSubmission, request: Request, response: Response, caller: Caller,
                idempotency_key: Annotated[str | None, Header(
                    alias=idempotency.HEADER, max_length=idempotency.MAX_KEY_LENGTH,
                    description="Optional: ein eigener Schlüssel je Meldung. Dieselbe Meldung mit demselben Schlüssel "
                                "(z. B. nach einer Zeitüberschreitung erneut gesendet) bekommt 24 Stunden lang die "
                                "erste Antwort (Header Idempotent-Replayed: true) statt eines zweiten Falls.")] = None):
    """Opens a case with the rules of the intake form (all wrong fields at once, German messages)."""
    form = intake.IntakeForm(**{**body.model_dump(exclude={"amount_claimed_cents"}),
                                "amount_claimed": _amount_text(body.amount_claimed_cents)})
    payload = body.model_dump(mode="json")
    replayed = False

    def work(session: Session) -> schemas.CaseCreated:
        nonlocal replayed
        data = intake.validate_intake(form, today=to_berlin(now()).date())
        if idempotency_key is not None:
            earlier = idempotency.reserve(session, api_key_id=caller.key_id, key=idempotency_key, payload=payload,
                                          at=request.app.state.clock())
            if earlier is not None:
                replayed = True
                return schemas.CaseCreated(**earlier)
        duplicates = intake.find_duplicates(session, actor=caller.actor, plate=data.plate,
                                            incident_date=data.incident_date,
                                            insurer_claim_number=data.insurer_claim_number)
        result = intake.take_in_case(session, actor=caller.actor, settings=request.app.state.settings, form=form)
        row = get_case_row(session, number=result.number)
        created = schemas.CaseCreated(number=result.number, status=row.status, status_label=label(row.status),
                                      clerk=result.clerk, missing_documents=result.missing_documents,
                                      possible_duplicates=[d.number for d in duplicates])
        if idempotency_key is not None:
            idempotency.remember(session, api_key_id=caller.key_id, key=idempotency_key, case_id=row.id,
                                 response=created.model_dump(mode="json"))
        return created

    try:
        created = _write(request, work)
    except IntegrityError:  # the same key was being used by a request at the same moment: it has finished now
        created = _write(request, work)
    response.headers["Location"] = f"/v1/cases/{created.number}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return created


def _amount_text(cents: int | None) -> str:
    """Cents as the form's amount text (`1234,56`), so the intake rules read it as they read the form."""
    return "" if cents is None else f"{cents // 100},{cents % 100:02d}"


@router.get("/cases", response_model=schemas.CaseList, responses=_AUTH_ERRORS, summary="Eigene Fälle auflisten")
def list_cases(
    request: Request, caller: Caller,
    page: Annotated[int, Query(ge=1, le=100_000, description="Seite, ab 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=api_cases.MAX_PER_PAGE, description="Fälle je Seite")] = 20,
):
    """Your cases (an admin key: all), newest first, with the total."""
    found = _write(request, lambda s: api_cases.list_own_cases(s, actor=caller.actor, page=page, per_page=per_page))
    return schemas.CaseList(
        items=[schemas.CaseSummaryOut(number=c.number, status=c.status, status_label=label(c.status),
                                      damage_type=c.damage_type, received_at=c.received_at, deadline=c.deadline,
                                      client_name=c.client, plate=c.plate, insurer=c.insurer)
               for c in found.items],
        page=found.page, per_page=found.per_page, total=found.total, pages=math.ceil(found.total / found.per_page),
    )


def _open(request: Request, caller: ApiCaller, number: str):
    number = _case_number(request, caller, number)
    view = _write(request, lambda s: open_case(s, actor=caller.actor, number=number))  # logs view or refusal
    if view is None:
        raise case_not_found()
    return view


@router.get("/cases/{number}", response_model=schemas.CaseDetail, responses=_CASE_ERRORS, summary="Stand eines Falls")
def get_case(number: str, request: Request, caller: Caller):
    """Status and facts of one of your cases."""
    v = _open(request, caller, number)
    return schemas.CaseDetail(
        number=v.number, status=v.status, status_label=label(v.status), damage_type=v.damage_type, insurer=v.insurer,
        policy_number=v.policy_number, insurer_claim_number=v.insurer_claim_number, client_name=v.client_name,
        plate=v.plate, vin=v.vin, incident_date=v.incident_date, incident_description=v.incident_description,
        partner=v.partner, clerk=v.clerk, received_at=v.received_at, claim_due_at=v.claim_due_at, deadline=v.deadline,
        claim_letter_sent_at=v.claim_letter_sent_at, amount_claimed_cents=v.amount_claimed_cents,
        amount_paid_cents=v.amount_paid_cents, paid_at=v.paid_at, closed_at=v.closed_at, status_reason=v.status_reason,
    )


@router.get("/cases/{number}/timeline", response_model=schemas.Timeline, responses=_CASE_ERRORS,
            summary="Verlauf eines Falls")
def get_timeline(number: str, request: Request, caller: Caller):
    """Everything that happened in one of your cases, oldest first (as on the case page)."""
    v = _open(request, caller, number)
    return schemas.Timeline(number=v.number, events=[
        schemas.TimelineEvent(at=e.at, actor=e.actor, role=role_label(e.role), action=e.action,
                              label=event_label(e.action), text=event_details(e.details), details=e.details)
        for e in v.events
    ])


@router.post("/cases/{number}/documents", status_code=201, response_model=schemas.DocumentUploaded,
             responses={**_CASE_ERRORS, **_BODY_ERRORS},
             summary="Dokument hochladen")
def upload_document(
    number: str, request: Request, caller: Caller,
    kind: Annotated[DocumentKind, Form(description="Dokumentart")],
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG oder HEIC; die Art zählt nach dem Inhalt")],
):
    """A new version of the case's document of that kind (checked like an upload on the case page)."""
    number = _case_number(request, caller, number)
    max_mb = request.app.state.settings.upload_max_mb
    data = file.file.read(max_mb * 1024 * 1024 + 1)
    if len(data) > max_mb * 1024 * 1024:
        message = t("doc.too_large", limit=f"{max_mb:g}")
        raise ApiError(413, message, fields={"file": message})
    try:
        version = _write(request, lambda s: add_document(
            s, actor=caller.actor, settings=request.app.state.settings, number=number, kind=kind,
            filename=file.filename or "", data=data))
    except ApiError as exc:
        if exc.status == 404:
            _log_refusal(request, caller, number)
            raise case_not_found() from None
        raise
    return schemas.DocumentUploaded(case_number=version.case_number, kind=version.kind, version=version.version,
                                    name=version.name, mime=version.mime, size=version.size,
                                    uploaded_at=version.uploaded_at)

