"""QR code images (TOTP enrolment)."""

from io import BytesIO

import qrcode


def qr_png(text: str) -> bytes:
    """A PNG of a QR code encoding `text`."""
    image = qrcode.make(text, box_size=6, border=2)
    buf = BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
