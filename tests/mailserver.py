"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) and helpers to read what it or the .eml transport got."""

from __future__ import annotations

import email
import socket
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


def parse(raw: bytes) -> EmailMessage:
    """A received or written mail, parsed."""
    return email.message_from_bytes(raw, policy=policy.default)


def only_eml(directory: Path) -> EmailMessage:
    """The one .eml file in `directory`, parsed (fails if there is not exactly one)."""
    [path] = directory.glob("*.eml")
    return parse(path.read_bytes())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping each mail with its envelope recipients; stops and restarts on one port."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.port, self.controller = free_port(), None

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), parse(envelope.content)))
        return "250 OK"

    @property
    def message_ids(self) -> list[str]:
        return [mail["Message-ID"] for _, mail in self.received]

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def localhost_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (cert.pem, key.pem) for TLS tests."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
