"""The endpoints: submit (the intake form's rules), list with paging, status, timeline, upload; errors as JSON."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from sqlalchemy import func, select

from core import board, documents
from core.enums import DocumentKind, Role
from core.i18n import t
from core.idempotency import IDEMPOTENCY_WINDOW, key_digest
from core.permissions import SYSTEM
from core.timeutil import now
from db.engine import unit_of_work
from db.models import ApiIdempotencyKey, Case, DocumentVersion
from tests.factories import make_broker, make_case, make_user
from tests.unit.test_upload_validation import make_pdf

PDF = make_pdf("Rechnung Nr. 4711")
VALID = {
    "damage_type": "glass", "insurer": "HUK-COBURG", "incident_date": (date.today() - timedelta(days=2)).isoformat(),
    "client_last_name": "Muster", "client_first_name": "Erika", "client_postal_code": "10115",
    "client_email": "erika@example.de", "plate": "b-ab 1234", "amount_claimed_cents": 123456,
}


def case_count(world) -> int:
    with unit_of_work(world.engine) as s:
        return s.scalar(select(func.count(Case.id)))


def test_a_valid_submission_opens_the_case_for_the_brokers_agency(world):
    response = world.client("broker_a").post("/v1/cases", json=VALID)
    body = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/cases/{body['number']}"
    assert (body["status"], body["status_label"]) == ("received", t("CaseStatus.received"))
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == body["number"]))
        shown = [r.number for r in board.list_board(s, actor=SYSTEM, filters=board.BoardFilter(text=body["number"])).rows]
        assert (case.broker_id, case.plate, case.amount_claimed_cents, case.source) == (
            world.broker_a, "B-AB 1234", 123456, "broker")
    assert shown == [body["number"]]


def test_a_second_submission_names_the_first_as_possible_duplicate(world):
    client = world.client("broker_a")
    first = client.post("/v1/cases", json={**VALID, "insurer_claim_number": "DUP-1"}).json()["number"]
    second = client.post("/v1/cases", json={**VALID, "insurer_claim_number": "DUP-1"}).json()
    assert first in second["possible_duplicates"]


def keyed(client, key: str, body: dict):
    return client.post("/v1/cases", json=body, headers={"Idempotency-Key": key})


def own_key_client(world):
    """Broker A with a new API key of its own (its own rate limit; idempotency keys count per API key)."""
    return world.client(world.new_key("broker_a"))


def test_the_same_submission_sent_again_with_its_idempotency_key_gets_the_first_answer_and_no_second_case(world):
    key, body = f"order-{uuid.uuid4()}", {**VALID, "insurer_claim_number": f"IK-{uuid.uuid4().hex[:8]}"}
    client, before = own_key_client(world), case_count(world)
    first = keyed(client, key, body)
    again = keyed(client, key, dict(reversed(body.items())))  # the same fields in another order
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert (again.headers["idempotent-replayed"], "idempotent-replayed" in first.headers) == ("true", False)
    assert case_count(world) == before + 1
    other = keyed(world.client("broker_b"), key, body)  # keys are per API key: broker B's is another submission
    assert other.status_code == 201 and other.json()["number"] != first.json()["number"]
    with unit_of_work(world.engine) as s:  # only digests are stored, never the key itself
        rows = s.scalars(select(ApiIdempotencyKey)).all()
        assert key_digest(key) in {r.key_hash for r in rows} and key not in {r.key_hash for r in rows}
        assert {r.response["number"] for r in rows} >= {first.json()["number"], other.json()["number"]}


def test_an_idempotency_key_used_for_another_body_or_not_a_key_is_refused_and_writes_nothing(world):
    key, client = f"order-{uuid.uuid4()}", own_key_client(world)
    assert keyed(client, key, {**VALID, "insurer_claim_number": "IK-A"}).status_code == 201
    before = case_count(world)
    reused = keyed(client, key, {**VALID, "insurer_claim_number": "IK-B"})
    assert reused.status_code == 422
    assert reused.json()["error"]["fields"] == {"Idempotency-Key": t("api.idempotency_key_reused")}
    for bad in ("mit Leerzeichen", "x" * 256, ""):
        response = keyed(client, bad, VALID)
        assert response.status_code == 422, bad
        assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"], bad
    assert case_count(world) == before


def test_a_failed_submission_leaves_its_key_free_and_a_key_expires_after_24_hours(world):
    key, client = f"order-{uuid.uuid4()}", own_key_client(world)
    wrong = keyed(client, key, {**VALID, "client_postal_code": "1"})
    assert wrong.status_code == 422 and "client_postal_code" in wrong.json()["error"]["fields"]
    first = keyed(client, key, VALID)  # the corrected submission with the same key opens the case
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    world.clock.pinned = now() + IDEMPOTENCY_WINDOW + timedelta(minutes=1)
    later = keyed(client, key, VALID)  # a day later the key is free again: a new submission
    assert later.status_code == 201 and later.json()["number"] != first.json()["number"]
    with unit_of_work(world.engine) as s:  # the expired row went
        assert [r.case_id for r in s.scalars(select(ApiIdempotencyKey).where(
            ApiIdempotencyKey.key_hash == key_digest(key)))] == [s.scalar(select(Case.id).where(
                Case.number == later.json()["number"]))]


def test_two_identical_submissions_at_the_same_moment_open_one_case(world):
    key, body = f"order-{uuid.uuid4()}", {**VALID, "insurer_claim_number": f"IK-{uuid.uuid4().hex[:8]}"}
    key_client, before = own_key_client(world), case_count(world)
    plaintext = key_client.headers["authorization"].removeprefix("Bearer ")
    start = threading.Barrier(4)

    def send(_):  # four connections (httpx clients are not shared between threads here), one API key
        client = world.client(plaintext)
        start.wait()
        return keyed(client, key, body)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["number"] for a in answers}) == 1
    assert sum("idempotent-replayed" in a.headers for a in answers) == 3
    assert case_count(world) == before + 1


def test_an_invalid_submission_gets_every_wrong_field_in_german_and_writes_nothing(world):
    before = case_count(world)
    wrong = {**VALID, "client_postal_code": "123", "plate": "XYZ", "client_email": "kein-at",
             "incident_date": (date.today() + timedelta(days=3)).isoformat(), "damage_type": "flood"}
    response = world.client("broker_a").post("/v1/cases", json=wrong)
    error = response.json()["error"]
    assert response.status_code == 422
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"client_postal_code", "plate", "client_email", "incident_date", "damage_type"}
    assert error["fields"]["client_postal_code"] == "Die Postleitzahl muss fünfstellig sein (z. B. 10115)."
    assert error["fields"]["incident_date"] == "Das Datum darf nicht in der Zukunft liegen."
    assert case_count(world) == before


def test_type_errors_of_the_body_are_german_json_too(world):
    before = case_count(world)
    response = world.client("broker_a").post("/v1/cases", json={**VALID, "amount_claimed_cents": -5,
                                                                "client_last_name": None, "extra": 1})
    fields = response.json()["error"]["fields"]
    assert response.status_code == 422
    assert fields == {"amount_claimed_cents": t("api.err_min", min=0), "client_last_name": t("api.err_string"),
                      "extra": t("api.err_extra")}
    assert case_count(world) == before


def test_invalid_json_is_a_json_error(world):
    response = world.client("broker_a").post("/v1/cases", content=b"{kaputt",
                                             headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"body": t("api.err_json")}


def test_the_list_pages_through_the_own_cases_with_the_total(world):
    agency = make_broker(world.engine, "Büro Paging")
    world.users["api_paging"] = make_user(world.engine, "api_paging", Role.BROKER, broker_id=agency)
    numbers = [make_case(world.engine, broker_id=agency, last_name=f"Kunde{i}") for i in range(5)]
    client = world.client(world.new_key("api_paging"))
    pages = [client.get("/v1/cases", params={"page": p, "per_page": 2}).json() for p in (1, 2, 3, 4)]
    assert [(p["total"], p["pages"], p["page"]) for p in pages] == [(5, 3, 1), (5, 3, 2), (5, 3, 3), (5, 3, 4)]
    assert [c["number"] for p in pages for c in p["items"]] == list(reversed(numbers))
    assert pages[0]["items"][0]["client_name"] == "Erika Kunde4"


def test_paging_parameters_out_of_range_are_422_with_the_field(world):
    response = world.client("broker_a").get("/v1/cases", params={"page": 0, "per_page": 1000})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"page": t("api.err_min", min=1),
                                                  "per_page": t("api.err_max", max=100)}


def test_status_and_timeline_of_an_own_case(world):
    client = world.client("broker_a")
    case = client.get(f"/v1/cases/{world.case_a}")
    timeline = client.get(f"/v1/cases/{world.case_a.lower()}/timeline")
    assert case.status_code == timeline.status_code == 200
    assert (case.json()["number"], case.json()["status"], case.json()["client_name"]) == (
        world.case_a, "received", "Erika Eigen")
    events = timeline.json()["events"]
    assert events[0]["action"] == "case_created"
    assert events[0]["label"] == t("event.case_created")


def test_a_valid_pdf_is_stored_as_a_new_document_version(world):
    client = world.client("broker_a")
    response = client.post(f"/v1/cases/{world.case_a}/documents", data={"kind": "invoice"},
                           files={"file": ("Rechnung.pdf", PDF, "application/octet-stream")})
    body = response.json()
    assert response.status_code == 201
    assert (body["case_number"], body["kind"], body["version"], body["mime"], body["size"]) == (
        world.case_a, "invoice", 1, "application/pdf", len(PDF))
    with unit_of_work(world.engine) as s:
        [doc] = [d for d in documents.list_documents(s, actor=SYSTEM, case_number=world.case_a)
                 if d.kind == DocumentKind.INVOICE]
    assert doc.latest.original_name == "Rechnung.pdf"


def test_a_bad_file_is_422_and_leaves_no_file_and_no_row(world):
    def stored():
        folder = documents.documents_dir(world.settings)
        with unit_of_work(world.engine) as s:
            rows = s.scalar(select(func.count(DocumentVersion.id)))
        return (sorted(folder.iterdir()) if folder.exists() else []), rows

    before = stored()
    response = world.client("broker_a").post(f"/v1/cases/{world.case_a}/documents", data={"kind": "photo"},
                                             files={"file": ("foto.jpg", b"MZ\x90\x00" + b"\x00" * 100, "image/jpeg")})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"file"}
    assert stored() == before


def test_an_unknown_document_kind_is_422(world):
    response = world.client("broker_a").post(f"/v1/cases/{world.case_a}/documents", data={"kind": "selfie"},
                                             files={"file": ("r.pdf", PDF, "application/pdf")})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"kind"}


def test_a_file_over_the_upload_limit_is_413(world):
    too_big = PDF + b"\x00" * (world.settings.upload_max_mb * 1024 * 1024)
    response = world.client("broker_a").post(f"/v1/cases/{world.case_a}/documents", data={"kind": "invoice"},
                                             files={"file": ("gross.pdf", too_big, "application/pdf")})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_an_unreadable_body_is_a_json_400(world):
    response = world.client("broker_a").post("/v1/cases", content=b"\xd8\xbd\x1b\xff",
                                             headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "bad_request", "message": t("api.err_unreadable"), "fields": {}}


def test_an_oversized_json_body_is_refused_before_it_is_read(world):
    before = case_count(world)
    response = world.client("broker_a").post("/v1/cases", json={**VALID, "incident_description": "x" * 300_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert case_count(world) == before


def test_an_unknown_address_and_a_wrong_method_are_json(world):
    client = world.client("broker_a")
    missing, method = client.get("/v2/nichts"), client.delete("/v1/cases")
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, t("api.err_route"))
    assert (method.status_code, method.json()["error"]["code"]) == (405, "method_not_allowed")
    assert method.headers["allow"] == "GET, POST"


def test_the_openapi_document_and_the_docs_are_served(world):
    client = world.client()
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/v1/cases", "/v1/cases/{number}", "/v1/cases/{number}/timeline",
                                  "/v1/cases/{number}/documents"}
    assert client.get("/docs").status_code == 200
