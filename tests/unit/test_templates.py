"""Templates without a database: filling, the checks before saving, the refusal of a missing value."""

import pytest

from core.errors import ValidationError
from core.i18n import t
from core.templates import (
    DEFAULTS,
    EXAMPLES,
    PLACEHOLDERS,
    TemplateError,
    check_template,
    describe,
    fill,
    placeholders_in,
    render_text,
    template_name,
)

ORDER = {"betrieb": "Autoglas Nord", "fallnummer": "SP-2026-000001", "schadenart": "Glasschaden", "ort": "10115",
         "auftrag_link": "{base_url}/case?nr=SP-2026-000001"}


def refusal(key: str, subject: str, body: str) -> str:
    with pytest.raises(TemplateError) as err:
        check_template(key, subject=subject, body=body)
    return str(err.value)


def test_fill_replaces_placeholders_and_never_rereads_braces_in_values():
    assert fill("Fall {fallnummer} für {kunde}", {"fallnummer": "SP-1", "kunde": "{fallnummer}"}) == \
        "Fall SP-1 für {fallnummer}"


def test_fill_keeps_escaped_braces_as_single_braces():
    assert fill("{{fallnummer}} ist {fallnummer}", {"fallnummer": "SP-1"}) == "{fallnummer} ist SP-1"


def test_every_default_uses_only_its_allowed_placeholders():
    for key, (subject, body) in DEFAULTS.items():
        check_template(key, subject=subject, body=body)


def test_required_templates_exist_with_their_placeholders():
    assert {"upload_link"} <= set(PLACEHOLDERS["insurer_query"])
    assert {"umfrage_link"} <= set(PLACEHOLDERS["survey_invitation"])
    assert {"status", "naechster_schritt", "status_link"} <= set(PLACEHOLDERS["status_update"])
    assert "eintraege" in PLACEHOLDERS["digest"]
    assert {"claim_letter_sent", "payment_received", "order_assigned", "settlement_ready", "partner_approved",
            "partner_rejected", "task_due", "deadline_warning"} <= set(DEFAULTS)
    assert set(PLACEHOLDERS) == set(DEFAULTS)


def test_every_template_has_a_name_and_every_placeholder_a_description_and_an_example():
    for key, names in PLACEHOLDERS.items():
        assert template_name(key)
        for name in names:
            assert describe(name) and name in EXAMPLES


def test_unknown_placeholder_is_refused_naming_it_and_the_allowed_ones():
    message = refusal("order_assigned", "Auftrag {fallnummer}", "Hallo {betrieb}, {betrag} und {kunde}")
    assert message == t("tpl.unknown_placeholder", names="{betrag}, {kunde}",
                        allowed="{betrieb}, {fallnummer}, {schadenart}, {ort}, {auftrag_link}")


def test_placeholder_with_a_format_spec_is_refused():
    assert "{fallnummer:>20}" in refusal("order_assigned", "Auftrag {fallnummer:>20}", "Hallo")


def test_positional_placeholder_is_refused():
    assert "{0}" in refusal("order_assigned", "Auftrag {0}", "Hallo")


@pytest.mark.parametrize("body", ["Hallo {betrieb", "Hallo betrieb}", "Hallo {betrieb}}", "{"])
def test_unbalanced_braces_are_refused(body):
    assert refusal("order_assigned", "Auftrag", body) == t("tpl.braces")


def test_escaped_braces_are_accepted():
    check_template("order_assigned", subject="Auftrag {{intern}}", body="Hallo {betrieb}")


@pytest.mark.parametrize("subject", ["Auftrag\n{fallnummer}", "Auftrag\r\nBcc: x@evil.example", "Auftrag\u2028"])
def test_subject_with_a_line_break_is_refused(subject):
    assert refusal("order_assigned", subject, "Hallo") == t("tpl.subject_one_line")


@pytest.mark.parametrize(("subject", "body", "key"), [(" ", "Hallo", "tpl.subject_required"),
                                                      ("Auftrag", "\n \n", "tpl.body_required")])
def test_empty_subject_or_body_is_refused(subject, body, key):
    assert refusal("order_assigned", subject, body) == t(key)


def test_unknown_template_key_is_refused():
    assert refusal("no_such_template", "A", "B") == t("tpl.unknown_key")


def test_template_error_is_a_validation_error():
    assert issubclass(TemplateError, ValidationError)


def test_placeholders_in_lists_each_name_once_in_order():
    assert placeholders_in("{b} {a} {b} {{c}}") == ["b", "a"]


def test_render_text_refuses_a_missing_value_naming_template_and_placeholder():
    subject, body = DEFAULTS["settlement_ready"]
    with pytest.raises(TemplateError) as err:
        render_text("settlement_ready", subject=subject, body=body,
                    values={"betrieb": "Autoglas Nord", "monat": "Oktober 2026", "iban": "DE02"})
    assert str(err.value) == t("tpl.missing_value", template=template_name("settlement_ready"), names="{betrag}")
    assert "Im Textbaustein „Abrechnung fertig (an Partnerbetrieb)“ fehlt der Wert für {betrag}" in str(err.value)


def test_render_text_treats_none_as_missing():
    with pytest.raises(TemplateError):
        render_text("order_assigned", subject="Auftrag {fallnummer}", body="x", values={"fallnummer": None})


def test_render_text_fills_and_puts_the_subject_on_one_line():
    subject, body = DEFAULTS["order_assigned"]
    mail = render_text("order_assigned", subject=subject, body=body, values={**ORDER, "fallnummer": "SP-1\nBcc: x"})
    assert mail.subject == "Neuer Auftrag SP-1 Bcc: x"
    assert "Sie haben einen neuen Auftrag: SP-1\nBcc: x (Glasschaden, 10115)." in mail.body


def test_render_text_accepts_an_empty_value():
    mail = render_text("order_assigned", subject="Auftrag {fallnummer}", body="Ort: {ort}.",
                       values={"fallnummer": "SP-1", "ort": ""})
    assert mail.body == "Ort: ."
