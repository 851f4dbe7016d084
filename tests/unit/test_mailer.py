"""Building a mail from an outbox row, and the .eml transport: no database, no server."""

import email
import ssl
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from core.attachments import RenderedFile
from core.jobs import BACKOFF_CAP, backoff
from core.mailer import (
    EmlTransport,
    MailError,
    SmtpTransport,
    build_message,
    message_id_for,
    transport_for,
)
from core.settings import Settings, SmtpSettings
from tests.mailserver import SmtpServer, free_port, localhost_certificate

PDF = RenderedFile("Abtretungserklaerung-SP-2026-000001.pdf", "application/pdf", b"%PDF-1.4 test")
MID = "<outbox-7-0123456789abcdef@schadenportal.de>"


def build(**overrides):
    args = {"sender": "Schadenportal <noreply@schadenportal.de>", "recipient": "info@autoglas.example",
            "subject": "Neuer Auftrag SP-2026-000001", "body": "Guten Tag,\n\nbitte prüfen.\n", "attachments": [],
            "message_id": MID}
    return build_message(**{**args, **overrides})


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def test_umlauts_in_body_and_subject_survive_the_round_trip():
    mail = parsed(build(subject="Grüße für Jörg", body="Sehr geehrte Frau Müller,\n€ 1.234,56 – ÄÖÜß\n"))
    assert mail["Subject"] == "Grüße für Jörg"
    assert mail.get_body(("plain",)).get_content() == "Sehr geehrte Frau Müller,\n€ 1.234,56 – ÄÖÜß\n"


def test_message_is_seven_bit_clean_for_any_smtp_server():
    build(subject="Grüße", body="Jörg äöü €").as_bytes().decode("ascii")


def test_message_id_is_the_same_for_the_same_row_and_differs_between_rows():
    first = message_id_for(outbox_id=7, idempotency_key="order:3", sender="noreply@schadenportal.de")
    assert first == message_id_for(outbox_id=7, idempotency_key="order:3", sender="noreply@schadenportal.de")
    assert first != message_id_for(outbox_id=8, idempotency_key="order:4", sender="noreply@schadenportal.de")
    assert first.startswith("<outbox-7-") and first.endswith("@schadenportal.de>")


def test_message_carries_the_given_message_id_sender_and_recipient():
    mail = parsed(build())
    assert (mail["Message-ID"], mail["To"]) == (MID, "info@autoglas.example")
    assert mail["From"].addresses[0].addr_spec == "noreply@schadenportal.de"


def test_line_breaks_in_the_subject_add_no_header():
    mail = parsed(build(subject="Auftrag\r\nBcc: evil@example.org\nX-Evil: 1"))
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["Subject"] == "Auftrag Bcc: evil@example.org X-Evil: 1"


@pytest.mark.parametrize("recipient", [
    "info@autoglas.example\r\nBcc: evil@example.org", "info@autoglas.example\nBcc: evil@example.org",
    "info@autoglas.example, evil@example.org", "info@autoglas.example\x00", "",
])
def test_a_recipient_that_is_not_one_plain_address_is_refused(recipient):
    with pytest.raises(MailError):
        build(recipient=recipient)


def test_a_sender_with_a_line_break_is_refused():
    with pytest.raises(MailError):
        build(sender="noreply@schadenportal.de\r\nBcc: evil@example.org")


def test_international_domain_is_sent_in_its_ascii_form():
    assert parsed(build(recipient="info@glas-müller.de"))["To"] == "info@xn--glas-mller-feb.de"


def test_attachment_keeps_its_name_type_and_bytes():
    part = next(parsed(build(attachments=[PDF])).iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == (PDF.filename, "application/pdf")
    assert part.get_content() == PDF.data


def test_eml_transport_writes_one_file_named_after_the_message_id(tmp_path):
    EmlTransport(tmp_path / "mail").send(build(attachments=[PDF]))
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == ["outbox-7-0123456789abcdef@schadenportal.de.eml"]
    written = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert (written["Message-ID"], next(written.iter_attachments()).get_content()) == (MID, PDF.data)


def test_eml_transport_overwrites_its_own_file_when_the_row_is_sent_again(tmp_path):
    transport = EmlTransport(tmp_path)
    transport.send(build(body="erste Fassung"))
    transport.send(build(body="zweite Fassung"))
    [only] = list(tmp_path.iterdir())
    body = email.message_from_bytes(only.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert body.strip() == "zweite Fassung"


def test_eml_transport_leaves_no_temporary_file_when_writing_fails(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("core.mailer.os.replace", broken_replace)
    with pytest.raises(OSError):
        EmlTransport(tmp_path).send(build())
    assert list(tmp_path.iterdir()) == []


def load(tmp_path: Path, **env) -> Settings:
    return Settings.load(env={"DATA_DIR": str(tmp_path), **env}, secrets_path=tmp_path / "none.toml")


def test_without_smtp_host_mails_go_to_eml_files_under_the_data_dir(tmp_path):
    transport = transport_for(load(tmp_path))
    assert isinstance(transport, EmlTransport) and transport.directory == tmp_path.resolve() / "mail"


def test_with_smtp_host_mails_go_over_smtp(tmp_path):
    assert isinstance(transport_for(load(tmp_path, SMTP_HOST="mail.example.de")), SmtpTransport)


def test_backoff_doubles_from_one_minute_and_stops_at_six_hours():
    assert [backoff(n).total_seconds() / 60 for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert backoff(30) == BACKOFF_CAP


class TlsServer(SmtpServer):
    """The test SMTP server requiring STARTTLS and a login (apikey / geheim-42) before any mail."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.cert, key = localhost_certificate(tmp_path)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert, key)

    def start(self) -> None:
        def check(server, session, envelope, mechanism, data):
            return AuthResult(success=(data.login, data.password) == (b"apikey", b"geheim-42"))

        self.controller = Controller(self, hostname="localhost", port=self.port, tls_context=self.context,
                                     require_starttls=True, authenticator=check, auth_required=True,
                                     auth_require_tls=True)
        self.controller.start()


@pytest.fixture
def tls_server(tmp_path):
    server = TlsServer(tmp_path)
    server.start()
    yield server
    server.stop()


def smtp(server, **overrides) -> SmtpTransport:
    return SmtpTransport(SmtpSettings(**{"host": "localhost", "port": server.port, "security": "starttls",
                                         "user": "apikey", "password": "geheim-42", **overrides}))


def test_smtp_transport_logs_in_after_starttls_with_a_trusted_certificate(tls_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.cert))
    smtp(tls_server).send(build(attachments=[PDF]))
    assert tls_server.message_ids == [MID]


def test_smtp_transport_refuses_an_untrusted_certificate(tls_server):
    with pytest.raises(ssl.SSLCertVerificationError):
        smtp(tls_server).send(build())
    assert tls_server.received == []


def test_smtp_transport_to_a_closed_port_raises():
    with pytest.raises(ConnectionRefusedError):
        SmtpTransport(SmtpSettings(host="127.0.0.1", port=free_port(), security="none")).send(build())
