"""The communication templates and sentences without a database: every new template is complete for the editor,
the broker's and partner's mails can carry nothing they must not see, and every status change has both
sentences for them or is deliberately not told."""

import pytest

from core.client_portal import client_requestable
from core.enums import CaseStatus, DocumentKind
from core.lifecycle import TRANSITIONS
from core.notify import BROKER, BUSINESS_CHANGES, PARTNER, business_sentences
from core.templates import (
    DEFAULTS,
    EXAMPLES,
    PLACEHOLDERS,
    check_template,
    describe,
    template_name,
)
from db.models import Case

NEW = ("insurer_silence", "document_requested", "status_update_broker", "status_update_partner")
S = CaseStatus


@pytest.mark.parametrize("key", NEW)
def test_new_template_has_valid_text_a_german_name_and_described_placeholders_with_examples(key):
    subject, body = DEFAULTS[key]
    check_template(key, subject=subject, body=body)
    assert template_name(key) and template_name(key) != key
    assert all(describe(p) and p in EXAMPLES for p in PLACEHOLDERS[key])


@pytest.mark.parametrize("key", ["status_update_broker", "status_update_partner"])
def test_business_templates_offer_no_amounts_and_no_other_party(key):
    assert not {"betrag", "forderung", "betrieb", "makler", "sachbearbeiter", "status_link"} & set(PLACEHOLDERS[key])


@pytest.mark.parametrize("key", ["status_update_broker", "status_update_partner"])
def test_business_templates_say_result_and_next_step_with_the_case_link(key):
    assert all("{" + name + "}" in DEFAULTS[key][1] for name in ("ergebnis", "naechster_schritt", "fall_link"))


def test_insurer_silence_and_deadline_warning_are_different_texts():
    assert DEFAULTS["insurer_silence"] != DEFAULTS["deadline_warning"]
    assert "14 Tagen" in DEFAULTS["insurer_silence"][1] and "nach" in DEFAULTS["insurer_silence"][1]


@pytest.mark.parametrize("recipient", [BROKER, PARTNER])
@pytest.mark.parametrize(("src", "dst"), sorted(TRANSITIONS))
@pytest.mark.parametrize("paid_cents", [0, 40_000])
def test_each_transition_has_both_sentences_or_is_not_told(recipient, src, dst, paid_cents):
    said = business_sentences(recipient, previous=src, to=dst, case=Case(amount_paid_cents=paid_cents))
    told = (recipient, src, dst) in BUSINESS_CHANGES
    assert (said is not None) == told
    assert said is None or all(sentence.endswith(".") for sentence in said)


def test_only_the_broker_hears_of_insurer_queries_and_their_answers():
    told = {(who, dst) for who, _src, dst in BUSINESS_CHANGES}
    assert (BROKER, S.INSURER_QUERY) in told and (PARTNER, S.INSURER_QUERY) not in told
    assert (BROKER, S.INSURER_QUERY, S.CLAIM_SENT) in BUSINESS_CHANGES
    assert (PARTNER, S.INSURER_QUERY, S.CLAIM_SENT) not in BUSINESS_CHANGES


def test_nobody_hears_of_the_review_step():
    assert not any(dst == S.REVIEW for _who, _src, dst in BUSINESS_CHANGES)


def test_the_client_is_asked_only_for_its_own_documents_in_a_fixed_order():
    asked = client_requestable(["photo", DocumentKind.LETTER, "registration", "claim_letter", "photo", "unknown"])
    assert asked == [DocumentKind.REGISTRATION, DocumentKind.PHOTO]
