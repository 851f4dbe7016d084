"""Upload checks (§9): the type is decided by content, every refusal is a German ValidationError.

`detect_upload` accepts a PDF, JPEG, PNG or HEIC (name, size, magic bytes, and that it opens); `preview_png`
renders a small PNG of an image or a PDF's first page. No database, no files: core.documents stores and serves.

Name, size and magic bytes are checked here; opening the file (pypdf, Pillow, PDFium) happens only in the
limited child process of core.sandbox (`inspect_content`, `render_preview` below run there), so a hostile file
costs at most the sandbox's limits and ends in a German refusal.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import unicodedata
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePosixPath

from core import sandbox
from core.errors import ValidationError
from core.i18n import t
from core.ocr import OCR_MIMES, ExtractionStatus, ocr_available

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # decompression-bomb guard for images
MAX_TEXT_CHARS = 200_000
MAX_NAME_CHARS = 255
PREVIEW_MAX_PX = 1200
PREVIEW_CACHE_SIZE = 32  # previews kept per process, by the file's SHA-256
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
_previews: OrderedDict[tuple[str, str], bytes | None] = OrderedDict()
_previews_lock = threading.Lock()


@dataclass(frozen=True)
class Detected:
    """An accepted upload: its type by content, its names, size and extracted text."""

    mime: str
    name: str  # display and download name: the basename with an extension that fits the content
    original_name: str  # the basename as given (kept as metadata)
    size: int
    text: str
    extraction: ExtractionStatus = ExtractionStatus.TEXT_LAYER  # where `text` comes from, or that OCR is due


# --- checking an upload (pure) ----------------------------------------------------------------


def detect_upload(data: bytes, filename: str, *, max_bytes: int, max_text_chars: int = MAX_TEXT_CHARS) -> Detected:
    """Accept a PDF, JPEG, PNG or HEIC judged by its content, or raise ValidationError (field "file").

    PDFs and images are opened in the sandbox; one that exhausts its time or memory is refused."""
    original = _check_filename(filename)
    if not data:
        raise _refusal("doc.empty")
    if len(data) > max_bytes:
        raise _refusal("doc.too_large", limit=f"{max_bytes / 1024 / 1024:g}".replace(".", ","))
    mime = sniff_mime(data)
    text, extraction = "", ExtractionStatus.FAILED  # HEIC: accepted, but nothing here can read it
    if mime in OCR_MIMES:
        try:
            found = sandbox.run_isolated("inspect", data, limits=sandbox.CHECK_LIMITS, mime=mime,
                                         max_chars=max_text_chars)
        except sandbox.SandboxFailure as exc:
            log.warning("upload refused by the sandbox: %s", exc)
            raise _refusal("doc.timeout" if exc.reason == "timeout" else
                           "doc.busy" if exc.reason == "busy" else "doc.unprocessable") from None
        text = found["text"]
        needs_ocr = mime != "application/pdf" or found["pages_without_text"] > 0
        extraction = (ExtractionStatus.TEXT_LAYER if not needs_ocr else
                      ExtractionStatus.PENDING if ocr_available() else ExtractionStatus.OCR_UNAVAILABLE)
    return Detected(mime=mime, name=display_name(original, mime), original_name=original, size=len(data), text=text,
                    extraction=extraction)


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


# --- inside the sandbox child (core.sandbox runs these) ----------------------------------------


def inspect_content(data: bytes, *, mime: str, max_chars: int) -> dict:
    """Sandbox operation: open the PDF or image (refusing it if broken); a PDF's text layer and the number of
    its pages without text (those need OCR)."""
    if mime == "application/pdf":
        text, pages_without_text = _check_pdf(data, max_chars=max_chars)
        return {"text": text, "pages_without_text": pages_without_text}
    _check_image(data, "JPEG" if mime == "image/jpeg" else "PNG")
    return {"text": "", "pages_without_text": 0}


def render_preview(data: bytes, *, mime: str) -> dict:
    """Sandbox operation: the preview PNG (see preview_png), or None."""
    if mime in ("image/png", "image/jpeg"):
        image = _open_image_for_preview(data)
    elif mime == "application/pdf":
        image = _render_pdf_first_page(data)
    else:
        return {"png": None}
    image.thumbnail((PREVIEW_MAX_PX, PREVIEW_MAX_PX))
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return {"png": out.getvalue()}


def _check_pdf(data: bytes, *, max_chars: int) -> tuple[str, int]:
    """The text layer of a PDF that opens and has pages (capped) and how many pages have no text;
    refuses broken or truncated ones."""
    import pypdf

    if b"%%EOF" not in data[-1024:]:  # cut off at the end: the trailer is missing
        raise _refusal("doc.pdf_broken")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _refusal("doc.pdf_encrypted")
        pages = reader.pages
        if len(pages) == 0:
            raise _refusal("doc.pdf_no_pages")
        if _has_active_content(reader):
            raise _refusal("doc.pdf_active")
        parts: list[str] = []
        length = without_text = 0
        for page in pages:
            if length >= max_chars:
                break
            part = page.extract_text() or ""
            without_text += not part.strip()
            parts.append(part)
            length += len(part) + 1
    except (ValidationError, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - pypdf raises many kinds (PdfReadError, ValueError, KeyError, ...)
        raise _refusal("doc.pdf_broken") from None
    return "\n".join(parts)[:max_chars].replace("\x00", ""), without_text


_ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch"})
_ACTIVE_PAGES_CHECKED = 200


def _has_active_content(reader) -> bool:
    """Whether the PDF would run something when opened or clicked: document or page additional actions (/AA),
    a JavaScript name tree, or an open action or link annotation (with its /Next chain) that is JavaScript or
    a program launch."""
    def active(action, depth: int = 0) -> bool:
        action = action.get_object() if action is not None else None
        if not hasattr(action, "get") or depth > 20:
            return depth > 20
        nexts = action.get("/Next")
        nexts = nexts.get_object() if nexts is not None else []
        chain = nexts if isinstance(nexts, list) else [nexts]
        return action.get("/S") in _ACTIVE_ACTIONS or any(active(n, depth + 1) for n in chain)

    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    if "/AA" in root or (names is not None and "/JavaScript" in names.get_object()):
        return True
    if active(root.get("/OpenAction")):
        return True
    for page in reader.pages[:_ACTIVE_PAGES_CHECKED]:
        if "/AA" in page:
            return True
        annots = page.get("/Annots")
        for annot in (annots.get_object() if annots is not None else []):
            annot = annot.get_object()
            if "/AA" in annot or active(annot.get("/A")):
                return True
    return False


def _check_image(data: bytes, expected_format: str) -> None:
    from PIL import Image

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
    except (ValidationError, MemoryError):
        raise
    except Image.DecompressionBombError:  # Pillow's own guard (over twice its pixel limit) fired first
        raise _refusal("doc.image_too_many_pixels", megapixels=MAX_PIXELS // 1_000_000) from None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a broken file
        raise _refusal("doc.image_broken") from None


# --- previews ---------------------------------------------------------------------------------


def preview_png(data: bytes, mime: str) -> bytes | None:
    """A PNG of at most 1200 px for a PNG/JPEG or the first page of a PDF; None for HEIC or on failure.

    Rendered in the sandbox; the last PREVIEW_CACHE_SIZE previews are kept by the file's SHA-256."""
    if mime not in OCR_MIMES:
        return None
    key = (hashlib.sha256(data).hexdigest(), mime)
    with _previews_lock:
        if key in _previews:
            _previews.move_to_end(key)
            return _previews[key]
    try:
        picture = sandbox.run_isolated("preview", data, limits=sandbox.CHECK_LIMITS, mime=mime)["png"]
    except (sandbox.SandboxFailure, ValidationError) as exc:
        log.warning("preview failed for a %s file: %s", mime, exc)
        return None  # not cached: a timeout on a busy machine may pass next time
    with _previews_lock:
        _previews[key] = picture
        while len(_previews) > PREVIEW_CACHE_SIZE:
            _previews.popitem(last=False)
    return picture


def _open_image_for_preview(data: bytes):
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > MAX_PIXELS:
            raise ValueError("too many pixels")
        image.draft("RGB", (PREVIEW_MAX_PX, PREVIEW_MAX_PX))  # JPEG: decode at a reduced size
        return ImageOps.exif_transpose(image)


def _render_pdf_first_page(data: bytes):
    import pypdfium2 as pdfium

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
