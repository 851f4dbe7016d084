"""Hostile uploads are parsed in a limited child process: refused within the limits, the parent unaffected."""

import io
import os
import resource
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from core import sandbox
from core.documents import detect_upload, preview_png
from core.errors import ValidationError
from core.i18n import t
from core.ocr import ExtractionStatus, ocr_available
from tests.unit.test_upload_validation import make_image, make_pdf

LIMIT = 20 * 1024 * 1024


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A real RGBA PNG of zeros: a few hundred KB that decode to width × height × 4 bytes. Built row by row,
    so the test process itself never holds the decoded picture."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 4 * width)  # filter byte + pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def pdf_with_huge_stream(raw_chunks) -> bytes:
    """A one-page PDF whose content stream is ~1 MB compressed and hundreds of MB inflated."""
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(chunk) for chunk in raw_chunks) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def long_pdf(pages: int) -> bytes:
    """A valid PDF with many pages: reading its text takes seconds of CPU."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for page in range(pages):
        pdf.drawString(72, 760, f"Seite {page} von {pages}")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def own_children() -> set[int]:
    """Live (not zombie) processes whose parent is this test process (other tests in the same process may have
    servers running: compare with the set from before)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def limits(monkeypatch):
    """Set the check limits for one test."""

    def apply(**values):
        monkeypatch.setattr(sandbox, "CHECK_LIMITS", sandbox.Limits(**{
            "memory_mb": 1024, "cpu_seconds": 20, "wall_seconds": 30.0, **values}))

    return apply


def refused(data: bytes, filename: str) -> str:
    with pytest.raises(ValidationError) as info:
        detect_upload(data, filename, max_bytes=LIMIT)
    assert info.value.field == "file"
    return str(info.value)


def test_image_bomb_over_the_pixel_cap_is_refused_without_decoding():
    bomb = png_bomb(20_000, 20_000)  # 1.6 GB decoded
    assert len(bomb) < 2 * 1024 * 1024
    before = max_rss_mb()
    assert refused(bomb, "bombe.png") == t("doc.image_too_many_pixels", megapixels=50)
    assert max_rss_mb() - before < 50


def test_image_bomb_under_the_pixel_cap_hits_the_memory_limit_and_is_refused(limits):
    limits(memory_mb=220)
    bomb = png_bomb(7000, 7000)  # 49 megapixels: allowed by count, 196 MB decoded
    before = max_rss_mb()
    started = time.monotonic()
    assert refused(bomb, "bombe.png") == t("doc.unprocessable")
    assert time.monotonic() - started < 30
    assert max_rss_mb() - before < 50  # the picture was decoded (tried) in the child only
    assert resource.getrlimit(resource.RLIMIT_AS) == (resource.RLIM_INFINITY, resource.RLIM_INFINITY)


def test_endless_parse_is_stopped_at_the_wall_clock_limit_and_the_child_killed(limits):
    data = long_pdf(4000)
    limits(wall_seconds=1.0)
    running = own_children()
    started = time.monotonic()
    assert refused(data, "lang.pdf") == t("doc.timeout")
    assert time.monotonic() - started < 8
    assert own_children() <= running


def test_parse_over_the_cpu_limit_is_refused(limits):
    data = long_pdf(4000)
    limits(cpu_seconds=1)
    with pytest.raises(sandbox.SandboxFailure) as info:
        sandbox.run_isolated("inspect", data, limits=sandbox.CHECK_LIMITS, mime="application/pdf", max_chars=10**6)
    assert info.value.reason == "cpu"
    assert refused(data, "lang.pdf") == t("doc.unprocessable")


def test_the_same_file_is_accepted_within_the_normal_limits():
    detected = detect_upload(long_pdf(300), "lang.pdf", max_bytes=LIMIT)
    assert "Seite 299 von 300" in detected.text
    assert detected.extraction == ExtractionStatus.TEXT_LAYER


def test_pdf_with_a_huge_content_stream_gets_no_preview_and_the_parent_stays_small():
    data = pdf_with_huge_stream(b"0 0 m 100 100 l S\n" * 50_000 for _ in range(400))  # ~360 MB of operators
    assert len(data) < 3 * 1024 * 1024
    before, running = max_rss_mb(), own_children()
    started = time.monotonic()
    assert preview_png(data, "application/pdf") is None
    assert time.monotonic() - started < sandbox.CHECK_LIMITS.wall_seconds + 5
    assert max_rss_mb() - before < 50
    assert own_children() <= running


def test_truncated_pdf_with_a_forged_end_marker_is_refused():
    data = make_pdf("Rechnung 4711")
    assert refused(data[: len(data) // 2] + b"\n%%EOF\n", "rechnung.pdf") == t("doc.pdf_broken")


def test_truncated_image_is_refused():
    data = make_image("PNG", (300, 200))
    assert refused(data[: len(data) // 3], "foto.png") == t("doc.image_broken")


def test_scanned_pdf_without_text_layer_is_marked_for_ocr_or_as_unavailable():
    scan = io.BytesIO()
    Image.new("L", (200, 100), 255).save(scan, "PDF")
    detected = detect_upload(scan.getvalue(), "scan.pdf", max_bytes=LIMIT)
    waiting = ExtractionStatus.PENDING if ocr_available() else ExtractionStatus.OCR_UNAVAILABLE
    assert (detected.text, detected.extraction) == ("", waiting)


def test_the_child_gets_no_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KEY", "geheim")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db/x")
    env = sandbox._child_env()
    assert "ENCRYPTION_KEY" not in env and "DATABASE_URL" not in env
    assert env["OMP_THREAD_LIMIT"] == "1"


def test_preview_bytes_come_back_intact():
    picture = preview_png(make_image("PNG", (300, 200)), "image/png")
    assert picture.startswith(b"\x89PNG\r\n\x1a\n")


def test_unknown_operations_are_not_run():
    with pytest.raises(ValueError):
        sandbox.run_isolated("eval", b"print(1)", limits=sandbox.CHECK_LIMITS)
