"""Parsing untrusted files in a child process with memory, CPU and time limits (§9, §10).

Uploads are parsed (PDF with pypdf/PDFium, images with Pillow, OCR with Tesseract) only in a child process:
`python -m core.sandbox` reads one request from stdin and writes one JSON answer to stdout. The child lowers
its own limits before it reads the file (`RLIMIT_AS` address space, `RLIMIT_CPU` seconds, no core files, no
file writes), and the parent kills the child's whole process group after a wall-clock timeout. So a
decompression bomb, a PDF with huge streams, a truncated file or an endless parse costs at most those limits;
the parent (the Streamlit server or the worker) never runs the parser itself and is not affected.

Why a subprocess and not `multiprocessing`: under `streamlit run` the main module is Streamlit's, which a
spawned child would import again, and forking a threaded server is unsafe. `subprocess.Popen` with
`start_new_session=True` (no `preexec_fn`, which is unsafe with threads) works the same in the server, the
worker, the CLI and the tests. The child gets a minimal environment: no database URL, no keys.

Wire format: stdin = one line of JSON `{"op": …, "params": {…}}`, then the file's bytes; stdout = one JSON
object: `{"ok": result}`, `{"refused": message, "field": …}` (a German ValidationError of the parser) or
`{"error": kind}`. Bytes in a result are sent as `{"$b64": …}`.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationError
from core.settings import ROOT

log = logging.getLogger(__name__)

#: The operations a child may run: name -> "module:function(data: bytes, **params) -> JSON-able dict".
OPERATIONS = {
    "inspect": "core.upload_checks:inspect_content",
    "preview": "core.upload_checks:render_preview",
    "ocr": "core.ocr:recognise_text",
}
MAX_PARALLEL = 2  # children at once per process (each may use up to its memory limit)
MAX_ANSWER_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one child may use: address space (MB), CPU seconds, wall-clock seconds."""

    memory_mb: int
    cpu_seconds: int
    wall_seconds: float


#: Checking an upload and rendering a preview (the user waits for it).
CHECK_LIMITS = Limits(memory_mb=1024, cpu_seconds=20, wall_seconds=30.0)
#: OCR of an image or up to OCR_MAX_PAGES pages of a scanned PDF (in the worker).
OCR_LIMITS = Limits(memory_mb=1536, cpu_seconds=240, wall_seconds=300.0)


class SandboxFailure(Exception):
    """The child did not answer: `reason` is "timeout", "memory", "cpu", "busy" or "crashed"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_slots = threading.BoundedSemaphore(MAX_PARALLEL)


def run_isolated(op: str, data: bytes, *, limits: Limits, **params: Any) -> dict:
    """Run OPERATIONS[op](data, **params) in a limited child process and return its result.

    Raises ValidationError when the parser refused the file (its German message), SandboxFailure when the
    child ran out of time or memory, crashed or could not be started.
    """
    if op not in OPERATIONS:
        raise ValueError(f"unknown sandbox operation {op!r}")
    if not _slots.acquire(timeout=limits.wall_seconds):
        raise SandboxFailure("busy")
    try:
        answer = _run_child(op, data, limits=limits, params=params)
    finally:
        _slots.release()
    if "ok" in answer:
        return _decode(answer["ok"])
    if "refused" in answer:
        raise ValidationError(str(answer["refused"]), field=answer.get("field") or "file")
    raise SandboxFailure(str(answer.get("error", "crashed")), str(answer.get("detail", "")))


def _child_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TESSDATA_PREFIX", "SYSTEMROOT", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8",
               OMP_THREAD_LIMIT="1", PYTHONNOUSERSITE="1")
    return env


def _run_child(op: str, data: bytes, *, limits: Limits, params: dict) -> dict:
    command = [sys.executable, "-m", "core.sandbox", op, str(limits.memory_mb), str(limits.cpu_seconds)]
    header = json.dumps({"op": op, "params": params}, ensure_ascii=True).encode() + b"\n"
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=str(ROOT), env=_child_env(), start_new_session=True, close_fds=True)
    except OSError as exc:
        raise SandboxFailure("crashed", f"could not start: {exc}") from None
    try:
        out, _ = proc.communicate(header + data, timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise SandboxFailure("timeout", f"{op} over {limits.wall_seconds:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        _kill_group(proc)  # the child's helpers (tesseract) too, should any be left
    if proc.returncode != 0:
        killed_by = -proc.returncode if proc.returncode < 0 else 0
        reason = "cpu" if killed_by == signal.SIGXCPU else "crashed"
        raise SandboxFailure(reason, f"{op} exit status {proc.returncode}")
    try:
        answer = json.loads(out[:MAX_ANSWER_BYTES])
    except ValueError:
        raise SandboxFailure("crashed", f"{op} gave no answer") from None
    if not isinstance(answer, dict):
        raise SandboxFailure("crashed", f"{op} gave a malformed answer")
    return answer


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.error("sandbox child %s did not end after SIGKILL", proc.pid)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# --- the child ---------------------------------------------------------------------------------


def _apply_limits(memory_mb: int, cpu_seconds: int) -> None:
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # soft: SIGXCPU, hard: SIGKILL
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # the parsers only read; Python ignores SIGXFSZ


def _serve(op: str) -> dict:
    request = json.loads(sys.stdin.buffer.readline())
    if request.get("op") != op:
        return {"error": "crashed", "detail": "operation mismatch"}
    data = sys.stdin.buffer.read()
    module_name, function_name = OPERATIONS[op].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        return {"ok": _encode(function(data, **request.get("params", {})))}
    except ValidationError as exc:
        return {"refused": str(exc), "field": exc.field}
    except MemoryError:
        return {"error": "memory"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        return {"error": "crashed", "detail": type(exc).__name__}


def main(argv: list[str]) -> int:
    op, memory_mb, cpu_seconds = argv[0], int(argv[1]), int(argv[2])
    if op not in OPERATIONS:
        return 2
    _apply_limits(memory_mb, cpu_seconds)
    logging.disable(logging.CRITICAL)  # nothing of the file goes anywhere but the answer
    try:
        answer = _serve(op)
    except MemoryError:
        answer = {"error": "memory"}
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=True).encode())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
