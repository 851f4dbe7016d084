"""Upload checks (§9): the type is decided by content, every refusal has its own German message."""

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image
from pypdf import PdfWriter
from reportlab.pdfgen import canvas

from core import documents
from core.documents import detect_upload, preview_png
from core.errors import ValidationError
from core.i18n import t

MB = 1024 * 1024
LIMIT = 20 * MB


def make_pdf(*lines: str, pages: int = 1) -> bytes:
    """A real PDF with a text layer, made with reportlab."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for page in range(pages):
        for i, line in enumerate(lines or ("Rechnung",)):
            pdf.drawString(72, 760 - 16 * i, f"{line} {page + 1}" if pages > 1 else line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_image(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    for x in range(0, size[0], 3):
        image.putpixel((x, x % size[1]), (0, 0, x % 255))
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def make_heic() -> bytes:
    """The start of an ISO-BMFF HEIC file: an `ftyp` box with brand heic, then an (empty) meta box."""
    ftyp = b"ftyp" + b"heic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 12) + b"meta" + b"\x00" * 4


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size (a decompression bomb needs no more to be refused)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def refusal(data: bytes, filename: str = "datei.pdf", max_bytes: int = LIMIT) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        detect_upload(data, filename, max_bytes=max_bytes)
    assert info.value.field == "file"
    return info.value


def forbidden(what_key: str) -> str:
    return t("doc.type_forbidden", what=t(what_key))


# --- refused by content -----------------------------------------------------------------------


def test_windows_executable_renamed_pdf_is_refused():
    assert str(refusal(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "rechnung.pdf")) == forbidden("doc.what_exe")


def test_elf_binary_renamed_pdf_is_refused():
    assert str(refusal(b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "rechnung.pdf")) == forbidden("doc.what_elf")


def test_html_page_is_refused():
    html = b"\xef\xbb\xbf\n<!DOCTYPE html><html><script>alert(1)</script></html>"
    assert str(refusal(html, "foto.png")) == forbidden("doc.what_html")


def test_svg_image_is_refused():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
    assert str(refusal(svg, "foto.svg")) == forbidden("doc.what_svg")


def test_zip_archive_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("rechnung.pdf", make_pdf("Rechnung"))
    assert str(refusal(buf.getvalue(), "rechnung.pdf")) == forbidden("doc.what_zip")


def test_shell_script_is_refused():
    assert str(refusal(b"#!/bin/sh\nrm -rf /\n", "foto.jpg")) == forbidden("doc.what_script")


def test_unknown_content_is_refused_whatever_the_extension():
    assert str(refusal(b"Nur ein bisschen Text, kein PDF.", "rechnung.pdf")) == t("doc.type_unknown")


def test_other_iso_bmff_files_such_as_mp4_are_refused():
    mp4 = struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64
    assert str(refusal(mp4, "foto.heic")) == t("doc.type_unknown")


def test_empty_file_is_refused():
    assert str(refusal(b"", "rechnung.pdf")) == t("doc.empty")


def test_file_over_the_limit_is_refused_naming_the_limit_in_mb():
    error = refusal(make_pdf("x") + b"\x00" * MB, "rechnung.pdf", max_bytes=MB)
    assert str(error) == t("doc.too_large", limit="1")
    assert "1 MB" in str(error)


def test_a_file_of_exactly_the_limit_is_accepted():
    data = make_image("PNG")
    assert detect_upload(data, "foto.png", max_bytes=len(data)).size == len(data)


def test_broken_pdf_is_refused():
    assert str(refusal(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nkaputt\n%%EOF\n")) == t("doc.pdf_broken")


def test_pdf_truncated_in_the_middle_is_refused():
    data = make_pdf("Rechnung 4711")
    assert str(refusal(data[: len(data) // 2])) == t("doc.pdf_broken")


def test_pdf_missing_only_its_last_bytes_is_refused():
    data = make_pdf("Rechnung 4711")
    assert str(refusal(data[:-5])) == t("doc.pdf_broken")


def test_pdf_without_pages_is_refused():
    buf = io.BytesIO()
    PdfWriter().write(buf)
    assert str(refusal(buf.getvalue())) == t("doc.pdf_no_pages")


def test_password_protected_pdf_is_refused():
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf("Geheim")))
    writer.encrypt(user_password="geheim", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    assert str(refusal(buf.getvalue())) == t("doc.pdf_encrypted")


def test_truncated_png_is_refused():
    data = make_image("PNG")
    assert str(refusal(data[: len(data) // 2], "foto.png")) == t("doc.image_broken")


def test_png_with_only_the_signature_is_refused():
    assert str(refusal(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "foto.png")) == t("doc.image_broken")


def test_truncated_jpeg_is_refused():
    data = make_image("JPEG")
    assert str(refusal(data[:-40], "foto.jpg")) == t("doc.image_broken")


def test_image_above_50_megapixels_is_refused():
    error = refusal(png_header_only(8000, 8000), "bombe.png")
    assert str(error) == t("doc.image_too_many_pixels", megapixels=50)


# --- refused by name --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "key"),
    [
        ("../x.pdf", "doc.name_parent"),
        ("..", "doc.name_parent"),
        ("a/b.pdf", "doc.name_separator"),
        ("a\\b.pdf", "doc.name_separator"),
        ("CON.pdf", "doc.name_reserved"),
        ("nul", "doc.name_reserved"),
        ("com1.rechnung.pdf", "doc.name_reserved"),
        ("a\x00.pdf", "doc.name_control"),
        ("rechnung\n.pdf", "doc.name_control"),
        ("rechnung\u202efdp.exe", "doc.name_control"),
        ("", "doc.name_empty"),
        ("   ", "doc.name_empty"),
        ("x" * 252 + ".pdf", "doc.name_too_long"),
    ],
    ids=repr,
)
def test_bad_file_names_are_refused_not_sanitised(filename, key):
    error = refusal(make_pdf("Rechnung"), filename)
    assert str(error) == t(key, name=filename.strip(), max=documents.MAX_NAME_CHARS)


def test_names_that_only_look_odd_are_accepted():
    for name in ("Rechnung..final.pdf", "console.pdf", "Schäden – Übersicht (2).pdf", ".pdf"):
        assert detect_upload(make_pdf("x"), name, max_bytes=LIMIT).original_name == name


def test_every_refusal_has_its_own_message():
    keys = [
        "doc.name_empty", "doc.name_control", "doc.name_parent", "doc.name_separator", "doc.name_reserved",
        "doc.name_too_long", "doc.empty", "doc.too_large", "doc.type_unknown", "doc.type_forbidden",
        "doc.pdf_broken", "doc.pdf_no_pages", "doc.pdf_encrypted", "doc.image_broken", "doc.image_too_many_pixels",
    ]
    messages = [t(key, name="x", max=1, limit=1, what="x", megapixels=1) for key in keys]
    assert len(set(messages)) == len(keys)


# --- accepted ---------------------------------------------------------------------------------


def test_real_pdf_is_accepted_with_its_text_extracted():
    data = make_pdf("Rechnung Nr. 4711", "Glasschaden Frontscheibe")
    detected = detect_upload(data, " Rechnung.pdf ", max_bytes=LIMIT)
    assert detected.mime == "application/pdf"
    assert "Rechnung Nr. 4711" in detected.text and "Glasschaden Frontscheibe" in detected.text
    assert (detected.name, detected.original_name) == ("Rechnung.pdf", "Rechnung.pdf")


def test_extracted_text_is_capped(monkeypatch):
    monkeypatch.setattr(documents, "MAX_TEXT_CHARS", 30)
    detected = detect_upload(make_pdf("Eine ziemlich lange Zeile Text", pages=5), "lang.pdf", max_bytes=LIMIT)
    assert len(detected.text) == 30


@pytest.mark.parametrize(("fmt", "mime", "filename"), [("PNG", "image/png", "foto.png"),
                                                        ("JPEG", "image/jpeg", "foto.JPG")])
def test_real_images_are_accepted_without_text(fmt, mime, filename):
    detected = detect_upload(make_image(fmt), filename, max_bytes=LIMIT)
    assert (detected.mime, detected.text, detected.name) == (mime, "", filename)


def test_heic_is_recognised_by_its_ftyp_box():
    detected = detect_upload(make_heic(), "IMG_0001.HEIC", max_bytes=LIMIT)
    assert (detected.mime, detected.name, detected.text) == ("image/heic", "IMG_0001.HEIC", "")


def test_type_comes_from_content_and_the_display_name_gets_a_fitting_extension():
    detected = detect_upload(make_image("JPEG"), "rechnung.pdf", max_bytes=LIMIT)
    assert detected.mime == "image/jpeg"
    assert (detected.original_name, detected.name) == ("rechnung.pdf", "rechnung.pdf.jpg")


# --- previews ---------------------------------------------------------------------------------


def test_preview_of_a_large_png_is_scaled_to_1200_px():
    preview = preview_png(make_image("PNG", (3000, 1000)), "image/png")
    assert Image.open(io.BytesIO(preview)).size == (1200, 400)


def test_preview_of_a_small_jpeg_keeps_its_size_as_png():
    preview = preview_png(make_image("JPEG", (300, 200)), "image/jpeg")
    image = Image.open(io.BytesIO(preview))
    assert (image.format, image.size) == ("PNG", (300, 200))


def test_preview_of_a_pdf_renders_its_first_page():
    image = Image.open(io.BytesIO(preview_png(make_pdf("Seite eins"), "application/pdf")))
    assert image.format == "PNG"
    assert max(image.size) == 1200 and image.size[0] < image.size[1]  # A4 portrait


@pytest.mark.parametrize(("data", "mime"), [(make_heic(), "image/heic"), (b"kaputt", "application/pdf"),
                                            (b"kaputt", "image/png"), (png_header_only(8000, 8000), "image/png")])
def test_no_preview_for_heic_or_unreadable_data(data, mime):
    assert preview_png(data, mime) is None
