"""Key rotation (`python -m core rotate-key`): re-encrypt everything under ENCRYPTION_KEY_PREVIOUS with ENCRYPTION_KEY.

What is encrypted with the Fernet key ring: the document files under `DATA_DIR/documents`, the attachments of
held insurer mail under `DATA_DIR/inbound` and the database values in ENCRYPTED_COLUMNS (TOTP secrets, webhook
secrets). The run is safe to interrupt at any point (even `kill -9`)
and to repeat:

- the app reads with the whole ring (core.crypto), so every item stays readable whether it is rotated yet or not;
- first every item is checked; if one opens with none of the keys (a wrong ENCRYPTION_KEY_PREVIOUS) the run stops
  with a clear message before anything is changed;
- the database values are re-encrypted in one transaction (rows locked), so they change all or not at all;
- each file is re-encrypted into `<name>.rotating`, fsynced, then moved over the original with `os.replace`
  (atomic): a file is either entirely old or entirely new, never half-written; leftover `.rotating` files of a
  killed run are removed by the next run;
- progress is read from the items themselves (one that opens with the current key is done), so a rerun continues
  where the last one stopped; files that appear while the run is going are picked up at its end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, select

from core.crypto import KEY_SEPARATOR, fernet
from core.errors import SchadenportalError
from core.i18n import t
from core.settings import Settings
from db.engine import read_only, unit_of_work
from db.models import User, Webhook

#: Database columns holding Fernet tokens made with the settings' key ring: (model, column name).
ENCRYPTED_COLUMNS: tuple[tuple[type, str], ...] = ((User, "totp_secret_enc"), (Webhook, "secret"))

TEMP_SUFFIX = ".rotating"
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")  # the names core.documents generates
_DIR_SYNC_EVERY = 200  # the directory is fsynced after this many replaced files and at the end
FOLDERS = ("documents", "inbound")  # under DATA_DIR: document versions, attachments of held insurer mail


class KeyRotationError(SchadenportalError):
    """An item opens with none of the configured keys; nothing was changed by the check that found it."""


@dataclass
class RotationReport:
    """What a run found and did (a dry run only counts)."""

    dry_run: bool = False
    files: int = 0  # stored document files seen
    files_rotated: int = 0  # re-encrypted with the current key in this run (dry run: would be)
    files_vanished: int = 0  # deleted while the run was going (e.g. by the retention purge)
    values: int = 0  # encrypted database values seen
    values_rotated: int = 0
    temp_files_removed: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True if everything is now encrypted with the current key (not for a dry run with work left)."""
        return not self.unreadable and (not self.dry_run or (self.files_rotated == 0 and self.values_rotated == 0))


@dataclass(frozen=True)
class _Ring:
    current: Fernet
    previous: MultiFernet | Fernet | None

    @classmethod
    def of(cls, settings: Settings) -> _Ring:
        previous = settings.encryption_keys_previous
        return cls(current=fernet(settings.encryption_key_current),
                   previous=fernet(KEY_SEPARATOR.join(previous)) if previous else None)

    def state(self, token: bytes) -> str:
        """"current", "previous" or "unreadable"."""
        try:
            self.current.decrypt(token)
            return "current"
        except InvalidToken:
            pass
        if self.previous is not None:
            try:
                self.previous.decrypt(token)
                return "previous"
            except InvalidToken:
                pass
        return "unreadable"

    def reencrypt(self, token: bytes) -> bytes | None:
        """The token under the current key; None if it already is; raises InvalidToken if no key opens it."""
        try:
            self.current.decrypt(token)
            return None
        except InvalidToken:
            if self.previous is None:
                raise
        return self.current.encrypt(self.previous.decrypt(token))


def rotate_encryption_key(
    engine: Engine, *, settings: Settings, dry_run: bool = False,
    on_file: Callable[[int, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt every document file and encrypted value with the current key; resumable, all checked first.

    `on_file(done, total)` is called after each file that needed work (for progress output)."""
    ring = _Ring.of(settings)
    folders = [settings.data_dir / name for name in FOLDERS]
    report = RotationReport(dry_run=dry_run)

    names = {folder: _stored_names(folder) for folder in folders}
    pending = {folder: _check_files(folder, names[folder], ring, report) for folder in folders}
    pending_values = _check_values(engine, ring, report)
    if report.unreadable:
        raise KeyRotationError(_unreadable_message(report.unreadable))
    if dry_run:
        report.files_rotated, report.values_rotated = sum(map(len, pending.values())), pending_values
        return report

    report.temp_files_removed = sum(_remove_temp_files(folder) for folder in folders)
    report.values_rotated = _rotate_values(engine, ring)
    for folder in folders:
        _rotate_files(folder, pending[folder], ring, report, on_file)
        seen = set(names[folder])
        while True:  # files written meanwhile by an app that still encrypted with the old key
            new_names = [name for name in _stored_names(folder) if name not in seen]
            if not new_names:
                break
            seen.update(new_names)
            late = _check_files(folder, new_names, ring, report)
            if report.unreadable:
                raise KeyRotationError(_unreadable_message(report.unreadable))
            _rotate_files(folder, late, ring, report, on_file)
    return report


def report_lines(report: RotationReport) -> list[str]:
    """The German summary the CLI prints."""
    key = "keyrot.dry_run" if report.dry_run else "keyrot.summary"
    lines = [t(key, files=report.files, files_rotated=report.files_rotated, values=report.values,
               values_rotated=report.values_rotated)]
    if report.files_vanished:
        lines.append(t("keyrot.vanished", count=report.files_vanished))
    if report.temp_files_removed:
        lines.append(t("keyrot.temp_removed", count=report.temp_files_removed))
    lines.append(t("keyrot.done") if report.done else t("keyrot.work_left"))
    return lines


# --- files -------------------------------------------------------------------------------------


def _stored_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(folder) if _STORED_NAME.match(entry.name) and entry.is_file())


def _check_files(folder: Path, names: list[str], ring: _Ring, report: RotationReport) -> list[str]:
    """Count the files and return those still under a previous key; note the unreadable ones."""
    pending = []
    for name in names:
        try:
            token = (folder / name).read_bytes()
        except FileNotFoundError:
            report.files_vanished += 1
            continue
        report.files += 1
        state = ring.state(token)
        if state == "previous":
            pending.append(name)
        elif state == "unreadable":
            report.unreadable.append(f"{folder.name}/{name}")
    return pending


def _rotate_files(folder: Path, names: list[str], ring: _Ring, report: RotationReport,
                  on_file: Callable[[int, int], None] | None) -> None:
    since_sync = 0
    for index, name in enumerate(names, start=1):
        path = folder / name
        try:
            token = path.read_bytes()
            stat = path.stat()
        except FileNotFoundError:
            report.files_vanished += 1
            continue
        new_token = ring.reencrypt(token)  # checked before; raises only if the file changed since
        if new_token is not None:
            if not _replace_atomically(path, new_token, stat):
                report.files_vanished += 1
                continue
            report.files_rotated += 1
            since_sync += 1
            if since_sync >= _DIR_SYNC_EVERY:
                _fsync_dir(folder)
                since_sync = 0
        if on_file is not None:
            on_file(index, len(names))
    if since_sync:
        _fsync_dir(folder)


def _replace_atomically(path: Path, data: bytes, stat: os.stat_result) -> bool:
    """Write `data` to a temp file, fsync it, keep the original's times, move it over `path`.

    Returns False (writing nothing) if the original was deleted meanwhile, so a purged file is not brought back."""
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the orphan sweep goes by the file's age
        if not path.exists():
            temp.unlink(missing_ok=True)
            return False
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def _remove_temp_files(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in os.scandir(folder):
        if entry.name.endswith(TEMP_SUFFIX) and _STORED_NAME.match(entry.name[: -len(TEMP_SUFFIX)]):
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- database values ---------------------------------------------------------------------------


def _check_values(engine: Engine, ring: _Ring, report: RotationReport) -> int:
    """Count the encrypted values; return how many are under a previous key; note the unreadable ones."""
    pending = 0
    with read_only(engine) as session:
        for model, column in ENCRYPTED_COLUMNS:
            attr = getattr(model, column)
            for row_id, token in session.execute(select(model.id, attr).where(attr.is_not(None))):
                report.values += 1
                state = ring.state(token.encode())
                if state == "previous":
                    pending += 1
                elif state == "unreadable":
                    report.unreadable.append(f"{model.__tablename__}.{column} (id {row_id})")
    return pending


def _rotate_values(engine: Engine, ring: _Ring) -> int:
    """Re-encrypt the database values in one transaction, rows locked against a concurrent change."""
    rotated = 0
    with unit_of_work(engine) as session:
        for model, column in ENCRYPTED_COLUMNS:
            attr = getattr(model, column)
            for row in session.scalars(select(model).where(attr.is_not(None)).with_for_update()):
                try:
                    new_token = ring.reencrypt(getattr(row, column).encode())
                except InvalidToken:  # changed since the check: roll back all values
                    raise KeyRotationError(
                        _unreadable_message([f"{model.__tablename__}.{column} (id {row.id})"])) from None
                if new_token is not None:
                    setattr(row, column, new_token.decode())
                    rotated += 1
    return rotated


def _unreadable_message(items: list[str]) -> str:
    shown = ", ".join(items[:5]) + (" …" if len(items) > 5 else "")
    return t("keyrot.unreadable", count=len(items), items=shown)
