"""Text recognition (§9): Tesseract for photos and for PDF pages without a text layer.

`ocr_available()` says whether the `tesseract` program with the German model is installed (the search page and
the case's documents say so when it is not). `recognise_text` is the sandbox operation (core.sandbox, run in
the limited child process): it renders scanned PDF pages with PDFium (at most OCR_MAX_PAGES) and runs the
`tesseract` CLI on each picture. The worker step that uses it is core.text_extraction.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import warnings
from enum import StrEnum

TESSERACT = "tesseract"  # the program (a name on PATH or a path)
OCR_LANGUAGE = "deu"
OCR_MAX_PAGES = 10  # scanned PDF pages recognised per version
OCR_DPI = 300
OCR_MAX_SIDE_PX = 5000  # larger pictures are scaled down first (time, memory)
PAGE_TIMEOUT_S = 90


class ExtractionStatus(StrEnum):
    """Where a document version's searchable text comes from."""

    TEXT_LAYER = "text_layer"  # the PDF's own text
    PENDING = "pending"  # waits for OCR in the worker
    OCR = "ocr"  # recognised by Tesseract
    OCR_UNAVAILABLE = "ocr_unavailable"  # needs OCR, but Tesseract is not installed
    FAILED = "failed"  # could not be read (timeout, broken, format without OCR such as HEIC)


#: Types Tesseract can be given (after rendering, for PDFs).
OCR_MIMES = frozenset({"application/pdf", "image/png", "image/jpeg"})


def ocr_available(program: str | None = None) -> bool:
    """True if Tesseract and its German model are installed."""
    return _probe(program or TESSERACT)


@functools.lru_cache(maxsize=8)
def _probe(program: str) -> bool:
    path = shutil.which(program)
    if path is None:
        return False
    try:
        result = subprocess.run([path, "--list-langs"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    langs = (result.stdout + result.stderr).decode("utf-8", "replace").split()
    return result.returncode == 0 and OCR_LANGUAGE in langs


# --- inside the sandbox child -------------------------------------------------------------------


class OcrFailed(Exception):
    """Tesseract did not produce text for a picture."""


def recognise_text(data: bytes, *, mime: str, program: str, max_chars: int, max_pages: int = OCR_MAX_PAGES) -> dict:
    """Sandbox operation: the text of an image, or of a PDF (text layer per page, OCR for pages without)."""
    if mime in ("image/png", "image/jpeg"):
        text = _tesseract(_prepared_image(data), program)
        return {"text": _clean(text)[:max_chars], "ocr_pages": 1}
    if mime != "application/pdf":
        raise OcrFailed(f"no OCR for {mime}")
    pages, ocr_pages = _pdf_pages(data, program=program, max_chars=max_chars, max_pages=max_pages)
    return {"text": "\n".join(pages)[:max_chars].replace("\x00", ""), "ocr_pages": ocr_pages}


def _pdf_pages(data: bytes, *, program: str, max_chars: int, max_pages: int) -> tuple[list[str], int]:
    import pypdf
    import pypdfium2 as pdfium

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    document = pdfium.PdfDocument(data)
    try:
        texts: list[str] = []
        length = ocr_pages = 0
        for number, page in enumerate(reader.pages):
            if length >= max_chars:
                break
            try:
                part = (page.extract_text() or "").strip()
            except Exception:  # noqa: BLE001 - an unreadable text layer is recognised instead
                part = ""
            if not part and ocr_pages < max_pages:
                part = _clean(_tesseract(_render_page(document, number), program))
                ocr_pages += 1
            texts.append(part)
            length += len(part) + 1
        return texts, ocr_pages
    finally:
        document.close()


def _render_page(document, number: int) -> bytes:
    page = document[number]
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, OCR_MAX_SIDE_PX / max(width, height, 1.0))
    image = page.render(scale=scale, grayscale=True).to_pil()
    return _png(image if image.mode == "L" else image.convert("L"))


def _prepared_image(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    from core.upload_checks import MAX_PIXELS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > MAX_PIXELS:
            raise OcrFailed("too many pixels")
        image.draft("L", (OCR_MAX_SIDE_PX, OCR_MAX_SIDE_PX))  # JPEG: decode at a reduced size
        image = ImageOps.exif_transpose(image).convert("L")
    image.thumbnail((OCR_MAX_SIDE_PX, OCR_MAX_SIDE_PX))
    return _png(image)


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _tesseract(picture: bytes, program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise OcrFailed("tesseract not installed")
    result = subprocess.run([path, "stdin", "stdout", "-l", OCR_LANGUAGE, "--psm", "3"], input=picture,
                            capture_output=True, timeout=PAGE_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise OcrFailed(f"tesseract exit status {result.returncode}")
    return result.stdout.decode("utf-8", "replace")


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\x0c", "\n").replace("\x00", "").splitlines())
    return "\n".join(line for line in lines if line)
