"""Client links (pure): signed, expiring, purpose-bound tokens; markers in mails become fresh links at send time."""

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from core.client_links import (
    LinkPurpose,
    LinkState,
    client_fingerprint,
    make_token,
    read_token,
    status_link_marker,
    survey_link_marker,
)
from core.outbox import complete_links
from core.settings import Settings
from core.timeutil import now
from db.models import Case, Person

FP = client_fingerprint(case_number="SP-2026-000007", email="erika@example.org")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.load(env={"DATA_DIR": str(tmp_path), "BASE_URL": "https://portal.example/"},
                         secrets_path=tmp_path / "none.toml")


def token(settings, purpose=LinkPurpose.STATUS, **kw) -> str:
    return make_token(settings, case_id=7, fingerprint=FP, purpose=purpose, **kw)


def a_case() -> Case:
    return Case(id=7, number="SP-2026-000007", client=Person(email="Erika@Example.org "))


def test_a_fresh_token_reads_back_its_case_and_fingerprint(settings):
    claims = read_token(settings, token=token(settings), purpose=LinkPurpose.STATUS)
    assert (claims.state, claims.case_id, claims.fingerprint) == (LinkState.VALID, 7, FP)


@pytest.mark.parametrize(("purpose", "days"), [(LinkPurpose.STATUS, 30), (LinkPurpose.SURVEY, 60)])
def test_a_link_works_for_its_validity_and_not_a_second_longer(settings, purpose, days):
    issued = now()
    tok = token(settings, purpose, at=issued)
    inside = read_token(settings, token=tok, purpose=purpose, at=issued + timedelta(days=days, seconds=-5))
    after = read_token(settings, token=tok, purpose=purpose, at=issued + timedelta(days=days, seconds=1))
    assert (inside.state, after.state) == (LinkState.VALID, LinkState.EXPIRED)


def test_an_expired_token_is_reported_as_expired_by_the_clock(settings):
    old = token(settings, at=now() - timedelta(days=31))
    assert read_token(settings, token=old, purpose=LinkPurpose.STATUS).state == LinkState.EXPIRED


def test_a_status_token_is_no_survey_token_and_vice_versa(settings):
    assert read_token(settings, token=token(settings), purpose=LinkPurpose.SURVEY).state == LinkState.INVALID
    survey = token(settings, LinkPurpose.SURVEY)
    assert read_token(settings, token=survey, purpose=LinkPurpose.STATUS).state == LinkState.INVALID


@pytest.mark.parametrize("position", [10, -5])
def test_a_tampered_token_is_invalid(settings, position):
    tok = token(settings)
    flipped = tok[:position] + ("A" if tok[position] != "A" else "B") + tok[position + 1:]
    assert read_token(settings, token=flipped, purpose=LinkPurpose.STATUS).state == LinkState.INVALID


def test_a_token_with_a_changed_case_id_but_the_old_signature_is_invalid(settings):
    header, _payload, signature = token(settings).split(".")
    other = jwt.encode({"p": "status", "cid": 8, "fp": FP, "exp": now() + timedelta(days=1)}, "x" * 32).split(".")[1]
    assert read_token(settings, token=f"{header}.{other}.{signature}", purpose=LinkPurpose.STATUS).state == (
        LinkState.INVALID)


def test_the_cookie_key_itself_does_not_sign_client_links(settings):
    forged = jwt.encode({"p": "status", "cid": 7, "fp": FP, "exp": now() + timedelta(days=1)},
                        settings.cookie_key, algorithm="HS256")
    assert read_token(settings, token=forged, purpose=LinkPurpose.STATUS).state == LinkState.INVALID


def test_another_cookie_key_invalidates_every_link(settings):
    other = replace(settings, cookie_key="another-cookie-key-0123456789abcdef-xyz")
    assert read_token(other, token=token(settings), purpose=LinkPurpose.STATUS).state == LinkState.INVALID


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJjaWQiOjd9."])
def test_garbage_is_invalid(settings, garbage):
    assert read_token(settings, token=garbage, purpose=LinkPurpose.STATUS).state == LinkState.INVALID


def test_the_fingerprint_ignores_case_and_spaces_of_the_address_but_changes_with_it():
    assert client_fingerprint(case_number="SP-1", email=" A@B.de") == client_fingerprint(case_number="SP-1",
                                                                                         email="a@b.de")
    assert client_fingerprint(case_number="SP-1", email="a@b.de") != client_fingerprint(case_number="SP-1",
                                                                                         email="c@b.de")


def test_complete_links_turns_markers_into_links_with_a_valid_token(settings):
    text = f"Stand: {status_link_marker(a_case())}\nUmfrage: {survey_link_marker(a_case())}\nFall: {{base_url}}/case"
    done = complete_links(text, settings)
    status_url, survey_url = (line.split(": ", 1)[1] for line in done.splitlines()[:2])
    assert status_url.startswith("https://portal.example/status?t=")
    assert survey_url.startswith("https://portal.example/umfrage?t=")
    assert done.splitlines()[2] == "Fall: https://portal.example/case" and "{" not in done
    status = read_token(settings, token=parse_qs(urlsplit(status_url).query)["t"][0], purpose=LinkPurpose.STATUS)
    survey = read_token(settings, token=parse_qs(urlsplit(survey_url).query)["t"][0], purpose=LinkPurpose.SURVEY)
    assert (status.state, status.case_id, status.fingerprint) == (LinkState.VALID, 7, FP)
    assert (survey.state, survey.case_id) == (LinkState.VALID, 7)


def test_text_that_only_looks_like_a_marker_stays_as_it_is(settings):
    text = "{client_link:status:7} {client_link:admin:7:0123456789abcdef}"
    assert complete_links(text, settings) == text
