"""Upload checks (§9), pure: the type is decided by content, every refusal is a German ValidationError.

`detect_upload` accepts a PDF, JPEG, PNG or HEIC (name, size, magic bytes, and that it opens); `preview_png`
renders a small PNG of an image or a PDF's first page. No database, no files: core.documents stores and serves.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import pypdf
import pypdfium2 as pdfium
from PIL import Image, ImageOps

from core.errors import ValidationError
from core.i18n import t

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # decompression-bomb guard for images
MAX_TEXT_CHARS = 200_000
MAX_NAME_CHARS = 255
PREVIEW_MAX_PX = 1200
ALLOWED_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/heic": (".heic", ".heif", ".hif"),
}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"heif"})
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Recognised but refused: (magic prefix, catalog key of what it is).
_FORBIDDEN_MAGIC = (
    (b"MZ", "doc.what_exe"), (b"\x7fELF", "doc.what_elf"), (b"PK\x03\x04", "doc.what_zip"),
    (b"PK\x05\x06", "doc.what_zip"), (b"#!", "doc.what_script"),
)
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}
)
_pdfium_lock = threading.Lock()  # PDFium is not thread-safe; Streamlit runs sessions in threads


@dataclass(frozen=True)
class Detected:
    """An accepted upload: its type by content, its names, size and extracted text."""

    mime: str
    name: str  # display and download name: the basename with an extension that fits the content
    original_name: str  # the basename as given (kept as metadata)
    size: int
    text: str


# --- checking an upload (pure) ----------------------------------------------------------------


def detect_upload(data: bytes, filename: str, *, max_bytes: int, max_text_chars: int = MAX_TEXT_CHARS) -> Detected:
    """Accept a PDF, JPEG, PNG or HEIC judged by its content, or raise ValidationError (field "file")."""
    original = _check_filename(filename)
    if not data:
        raise _refusal("doc.empty")
    if len(data) > max_bytes:
        raise _refusal("doc.too_large", limit=f"{max_bytes / 1024 / 1024:g}".replace(".", ","))
    mime = sniff_mime(data)
    text = ""
    if mime == "application/pdf":
        text = _check_pdf(data, max_chars=max_text_chars)
    elif mime in ("image/jpeg", "image/png"):
        _check_image(data, "JPEG" if mime == "image/jpeg" else "PNG")
    return Detected(mime=mime, name=display_name(original, mime), original_name=original, size=len(data), text=text)


def sniff_mime(data: bytes) -> str:
    """The MIME type from the magic bytes; ValidationError for anything not allowed."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    if _is_heif(data):
        return "image/heic"
    for magic, what in _FORBIDDEN_MAGIC:
        if data.startswith(magic):
            raise _refusal("doc.type_forbidden", what=t(what))
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head:
        raise _refusal("doc.type_forbidden", what=t("doc.what_svg"))
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        raise _refusal("doc.type_forbidden", what=t("doc.what_html"))
    raise _refusal("doc.type_unknown")


def display_name(original: str, mime: str) -> str:
    """The name to show and download: the original, plus the right extension if its own does not fit."""
    allowed = ALLOWED_EXTENSIONS.get(mime, ())
    if not allowed or PurePosixPath(original).suffix.lower() in allowed:
        return original
    return original + allowed[0]


def _refusal(key: str, **values: object) -> ValidationError:
    return ValidationError(t(key, **values), field="file")


def _check_filename(filename: str) -> str:
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        raise _refusal("doc.name_empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):  # incl. NUL and bidi overrides
        raise _refusal("doc.name_control")
    if any(part in (".", "..") for part in re.split(r"[/\\]", name)):
        raise _refusal("doc.name_parent")
    if "/" in name or "\\" in name:
        raise _refusal("doc.name_separator")
    if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        raise _refusal("doc.name_reserved", name=name)
    if len(name) > MAX_NAME_CHARS:
        raise _refusal("doc.name_too_long", max=MAX_NAME_CHARS)
    return name


def _is_heif(data: bytes) -> bool:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[:4], "big")
    return 16 <= box_size <= len(data) and data[8:12] in _HEIF_BRANDS


def _check_pdf(data: bytes, *, max_chars: int) -> str:
    """The text layer of a PDF that opens and has pages (capped); refuses broken or truncated ones."""
    if b"%%EOF" not in data[-1024:]:  # cut off at the end: the trailer is missing
        raise _refusal("doc.pdf_broken")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _refusal("doc.pdf_encrypted")
        pages = reader.pages
        if len(pages) == 0:
            raise _refusal("doc.pdf_no_pages")
        parts: list[str] = []
        length = 0
        for page in pages:
            if length >= max_chars:
                break
            part = page.extract_text() or ""
            parts.append(part)
            length += len(part) + 1
    except ValidationError:
        raise
    except Exception:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError, RecursionError, ...)
        raise _refusal("doc.pdf_broken") from None
    return "\n".join(parts)[:max_chars].replace("\x00", "")


def _check_image(data: bytes, expected_format: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.format != expected_format:
                    raise _refusal("doc.image_broken")
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise _refusal("doc.image_too_many_pixels", megapixels=MAX_PIXELS // 1_000_000)
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                im.load()  # verify() does not decode; a JPEG cut off in its data only shows here
    except ValidationError:
        raise
    except Exception:
        raise _refusal("doc.image_broken") from None


# --- previews (pure) --------------------------------------------------------------------------


def preview_png(data: bytes, mime: str) -> bytes | None:
    """A PNG of at most 1200 px for a PNG/JPEG or the first page of a PDF; None for HEIC or on failure."""
    try:
        if mime in ("image/png", "image/jpeg"):
            image = _open_image_for_preview(data)
        elif mime == "application/pdf":
            image = _render_pdf_first_page(data)
        else:
            return None
        image.thumbnail((PREVIEW_MAX_PX, PREVIEW_MAX_PX))
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        return out.getvalue()
    except Exception:
        log.warning("preview failed for a %s file", mime, exc_info=True)
        return None


def _open_image_for_preview(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > MAX_PIXELS:
            raise ValueError("too many pixels")
        image.draft("RGB", (PREVIEW_MAX_PX, PREVIEW_MAX_PX))  # JPEG: decode at a reduced size
        return ImageOps.exif_transpose(image)


def _render_pdf_first_page(data: bytes) -> Image.Image:
    with _pdfium_lock:
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            width, height = page.get_size()
            scale = min(PREVIEW_MAX_PX / max(width, height, 1.0), 4.0)
            image = page.render(scale=scale).to_pil()
            image.load()
            return image.copy()  # detached from PDFium's buffer before the document closes
        finally:
            pdf.close()
