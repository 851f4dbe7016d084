"""Parsing and matching of inbound mail (pure): German subjects and file names, HTML bodies, case and claim
numbers, the query word list, the sender check and the message key."""

from email.message import EmailMessage

import pytest

from core.mail_matching import (
    MAX_ATTACHMENTS,
    case_numbers,
    claim_tokens,
    html_to_text,
    is_insurer_query,
    message_key,
    parse_mail,
    sender_matches,
)


def build(subject="Schreiben", body="Text", html=None, attachments=(), message_id="<1@huk.example>",
          sender="Schadenabteilung <schaden@huk.example>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0100"
    if html is None:
        msg.set_content(body)
    else:
        msg.set_content(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes()


def test_a_german_subject_and_attachment_name_are_decoded():
    raw = build(subject="Rückfrage zur Schadenmeldung – Größe", attachments=[("Gutachten Müller.pdf", b"%PDF-1.4")])
    assert b"=?utf-8?" in raw and b"filename*=" in raw  # really RFC 2047 and RFC 2231 encoded
    mail = parse_mail(raw)
    assert (mail.subject, [a.filename for a in mail.attachments]) == (
        "Rückfrage zur Schadenmeldung – Größe", ["Gutachten Müller.pdf"])


def test_sender_date_and_message_id_are_read():
    mail = parse_mail(build(sender="Schadenabteilung <Schaden@HUK.example>"))
    assert (mail.sender, mail.sender_name, mail.message_id) == ("schaden@huk.example", "Schadenabteilung",
                                                                "<1@huk.example>")
    assert mail.sent_at.isoformat() == "2026-12-04T09:00:00+00:00"


def test_an_html_only_body_is_read_as_text_without_scripts_or_tags():
    mail = parse_mail(build(html="<html><head><style>p{}</style></head><body><p>Zu SP-2026-000123</p>"
                                 "<script>alert(1)</script><p>Bitte&nbsp;melden</p></body></html>"))
    assert "SP-2026-000123" in mail.text and "Bitte\xa0melden" in mail.text
    assert "alert" not in mail.text and "<p>" not in mail.text


def test_html_to_text_keeps_line_breaks_between_blocks():
    assert html_to_text("<div>eins</div><div>zwei</div>").split() == ["eins", "zwei"]


def test_attachment_bytes_are_kept_as_sent():
    data = bytes(range(256))
    [attachment] = parse_mail(build(attachments=[("a.pdf", data)])).attachments
    assert attachment.data == data


def test_attachments_beyond_the_limit_are_counted_not_kept():
    mail = parse_mail(build(attachments=[(f"{i}.pdf", b"x") for i in range(MAX_ATTACHMENTS + 3)]))
    assert (len(mail.attachments), mail.refused_parts) == (MAX_ATTACHMENTS, 3)


def test_the_message_key_is_the_hash_of_the_message_id_or_of_the_raw_message():
    with_id = build(body="eins")
    assert parse_mail(with_id).key == parse_mail(build(body="zwei")).key  # same Message-ID: same message
    without = build(message_id=None)
    assert parse_mail(without).key == message_key("", without) != message_key("", without + b"x")


def test_case_numbers_are_found_in_any_case_but_not_inside_longer_numbers():
    assert case_numbers("Ihr Zeichen sp-2026-000123 und SP-2025-000001", "XSP-2026-0001234") == {
        "SP-2026-000123", "SP-2025-000001"}


def test_claim_tokens_need_a_digit_and_stop_before_punctuation():
    assert claim_tokens("Schadennummer: KS-2026/4711. Mit freundlichen Grüßen") == {"KS-2026/4711"}


@pytest.mark.parametrize("text", [
    "Rückfrage zu Ihrem Schreiben", "Es fehlen noch fehlende Unterlagen", "Bitte reichen Sie die Rechnung nach.",
    "Die Unterlagen fehlen leider", "Wir benötigen noch folgende Nachweise",
    "Bitte reichen Sie uns bis zum 10.12. die Reparaturrechnung und die Fotos nach",
])
def test_query_phrases_make_an_insurer_query(text):
    assert is_insurer_query("", text)


@pytest.mark.parametrize("text", ["Wir haben den Betrag überwiesen.", "Anbei die Abrechnung.",
                                  "Bitte reichen Sie die Rechnung ein."])
def test_other_letters_are_no_query(text):
    assert not is_insurer_query("Ihr Schadenfall", text)


def test_a_known_address_matches_in_any_case():
    assert sender_matches("Erika@Example.org", known={"erika@example.org"}, insurer_address="")


def test_the_insurers_domain_matches_any_address_of_it():
    assert sender_matches("sachbearbeitung@huk.example", known=set(), insurer_address="schaden@huk.example")


def test_a_freemail_domain_does_not_match_by_domain():
    assert not sender_matches("betrug@gmail.com", known=set(), insurer_address="versicherung@gmail.com")


def test_an_unknown_sender_or_none_does_not_match():
    assert not sender_matches("x@evil.example", known={"erika@example.org"}, insurer_address="schaden@huk.example")
    assert not sender_matches("", known={""}, insurer_address="")


def test_imap_settings_come_from_the_environment_and_the_password_stays_out_of_repr(tmp_path):
    from core.settings import Settings

    settings = Settings.load(env={"DATA_DIR": str(tmp_path), "IMAP_HOST": "imap.example.de", "IMAP_USER": "eingang",
                                  "IMAP_PASSWORD": "geheim-42", "IMAP_SECURITY": "STARTTLS", "IMAP_PORT": "143"},
                             secrets_path=tmp_path / "none.toml")
    assert (settings.imap.host, settings.imap.port, settings.imap.security, settings.imap.folder) == (
        "imap.example.de", 143, "starttls", "INBOX")
    assert settings.imap.configured and "geheim-42" not in repr(settings)


def test_an_unknown_imap_security_is_refused(tmp_path):
    from core.errors import ConfigurationError
    from core.settings import Settings

    with pytest.raises(ConfigurationError, match="IMAP_SECURITY"):
        Settings.load(env={"DATA_DIR": str(tmp_path), "IMAP_SECURITY": "tls"}, secrets_path=tmp_path / "none.toml")
