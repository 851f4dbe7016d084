"""`python -m core rotate-key`: every document file and stored secret moves from the old key to the new one,
readable throughout, resumable after an interruption at any point, and a wrong old key changes nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from core import documents
from core.auth import start_totp_enrolment
from core.cli import main
from core.crypto import decrypt_text, join_ring
from core.enums import DocumentKind, Role
from core.errors import ConfigurationError
from core.inbound_mail import inbound_dir
from core.key_rotation import TEMP_SUFFIX, KeyRotationError, rotate_encryption_key
from core.permissions import SYSTEM
from core.settings import DEMO_ENCRYPTION_KEY, ROOT, Settings
from core.webhooks import register_webhook
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Case, DocumentVersion, User, Webhook
from tests.factories import make_case, make_user
from tests.unit.test_upload_validation import make_image, make_pdf

OLD, NEW, WRONG = (Fernet.generate_key().decode() for _ in range(3))
FILES = 4


def with_keys(settings: Settings, current: str, *previous: str) -> Settings:
    return dataclasses.replace(settings, encryption_key=join_ring(current, list(previous)))


@pytest.fixture
def stored(engine, settings):
    """Under the OLD key: FILES uploaded documents, one TOTP secret, one webhook secret; returns what they hold."""
    old = with_keys(settings, OLD)
    number = make_case(engine)
    originals = {}
    with unit_of_work(engine) as s:
        for i in range(FILES):
            data = make_pdf(f"Rechnung {i}") if i % 2 else make_image("PNG", (40 + i, 30))
            view = documents.upload_document(s, actor=SYSTEM, settings=old, case_number=number,
                                             kind=DocumentKind.INVOICE, filename=f"datei{i}.bin", data=data)
            originals[view.id] = data
    user_id = make_user(engine, "staff", Role.STAFF)
    with unit_of_work(engine) as s:
        totp, _uri = start_totp_enrolment(s, user_id=user_id, settings=old)
        hook_secret = register_webhook(s, actor=SYSTEM, settings=old, url="http://127.0.0.1:9/hook",
                                       secret="", event_types=["case.created"]).secret
    return {"documents": originals, "user_id": user_id, "totp": totp, "hook_secret": hook_secret}


def folder(settings: Settings) -> Path:
    return documents.documents_dir(settings)


def file_states(settings: Settings) -> dict[str, str]:
    """For each stored file: which key opens it ("new", "old" or "none")."""
    states = {}
    for path in sorted(folder(settings).glob("*.bin")):
        token = path.read_bytes()
        for name, key in (("new", NEW), ("old", OLD)):
            try:
                Fernet(key.encode()).decrypt(token)
                states[path.name] = name
                break
            except InvalidToken:
                continue
        else:
            states[path.name] = "none"
    return states


def snapshot(engine, settings) -> dict:
    """Every encrypted byte at rest: file contents and the stored secrets."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder(settings).iterdir()}
    with unit_of_work(engine) as s:
        values = (s.scalars(select(User.totp_secret_enc)).all(), s.scalars(select(Webhook.secret)).all())
    return {"files": files, "values": values}


def assert_everything_opens_with_the_new_key_only(engine, settings, stored):
    new_only = with_keys(settings, NEW)
    assert set(file_states(settings).values()) == {"new"}
    with unit_of_work(engine) as s:
        for version_id, original in stored["documents"].items():
            got = documents.download_document(s, actor=SYSTEM, settings=new_only, version_id=version_id)
            assert got.data == original
        assert decrypt_text(NEW, s.get(User, stored["user_id"]).totp_secret_enc) == stored["totp"]
        assert decrypt_text(NEW, s.scalar(select(Webhook.secret))) == stored["hook_secret"]
    assert not list(folder(settings).glob(f"*{TEMP_SUFFIX}"))


def test_rotation_reencrypts_every_file_and_secret_with_the_new_key(engine, settings, stored):
    report = rotate_encryption_key(engine, settings=with_keys(settings, NEW, OLD))
    assert (report.files, report.files_rotated, report.values, report.values_rotated) == (FILES, FILES, 2, 2)
    assert report.done
    assert_everything_opens_with_the_new_key_only(engine, settings, stored)


def test_rotation_reencrypts_the_held_attachments_of_insurer_mail(engine, settings, stored):
    data = make_pdf("Schreiben der Versicherung")
    with unit_of_work(engine) as s:  # how core.inbound_mail keeps an attachment of a held mail
        name = documents.store_encrypted(s, settings=with_keys(settings, OLD), data=data,
                                         folder=inbound_dir(settings))
    report = rotate_encryption_key(engine, settings=with_keys(settings, NEW, OLD))
    assert (report.files, report.files_rotated) == (FILES + 1, FILES + 1)
    assert documents.stored_file(with_keys(settings, NEW), stored_name=name, sha256=hashlib.sha256(data).hexdigest(),
                                 folder=inbound_dir(settings)) == data


def test_during_rotation_the_app_reads_old_and_new_files_and_writes_new_ones(engine, settings, stored):
    ring = with_keys(settings, NEW, OLD)
    with pytest.raises(RuntimeError):  # interrupted after three files
        rotate_encryption_key(engine, settings=ring, on_file=lambda done, total: _stop_after(3, done))
    assert sorted(file_states(settings).values()) == ["new"] * 3 + ["old"] * (FILES - 3)
    with unit_of_work(engine) as s:
        for version_id, original in stored["documents"].items():
            assert documents.download_document(s, actor=SYSTEM, settings=ring, version_id=version_id).data == original
        number = s.scalar(select(Case.number))
        added = documents.upload_document(s, actor=SYSTEM, settings=ring, case_number=number,
                                          kind=DocumentKind.PHOTO, filename="neu.png", data=make_image("PNG"))
        stored_name = s.get(DocumentVersion, added.id).stored_name
    assert file_states(settings)[stored_name] == "new"


def _stop_after(k: int, done: int) -> None:
    if done == k:
        raise RuntimeError("interrupted")


def test_a_rerun_after_an_interruption_finishes_the_rest(engine, settings, stored):
    ring = with_keys(settings, NEW, OLD)
    with pytest.raises(RuntimeError):
        rotate_encryption_key(engine, settings=ring, on_file=lambda done, total: _stop_after(2, done))
    report = rotate_encryption_key(engine, settings=ring)
    assert (report.files, report.files_rotated, report.values_rotated) == (FILES, FILES - 2, 0)
    assert_everything_opens_with_the_new_key_only(engine, settings, stored)
    assert rotate_encryption_key(engine, settings=ring).files_rotated == 0  # a third run finds nothing to do


def test_a_temp_file_left_by_a_killed_run_is_removed_and_its_file_still_rotated(engine, settings, stored):
    victim = min(folder(settings).glob("*.bin"))
    (victim.parent / (victim.name + TEMP_SUFFIX)).write_bytes(b"half written")  # killed before os.replace
    report = rotate_encryption_key(engine, settings=with_keys(settings, NEW, OLD))
    assert report.temp_files_removed == 1 and report.files_rotated == FILES
    assert_everything_opens_with_the_new_key_only(engine, settings, stored)


def test_a_wrong_old_key_is_refused_before_anything_changes(engine, settings, stored):
    before = snapshot(engine, settings)
    with pytest.raises(KeyRotationError, match="ENCRYPTION_KEY_PREVIOUS prüfen|nichts geändert") as refused:
        rotate_encryption_key(engine, settings=with_keys(settings, NEW, WRONG))
    assert f"{FILES + 2} verschlüsselte Einträge" in str(refused.value)
    assert snapshot(engine, settings) == before


def test_a_wrong_old_key_after_a_partial_run_still_changes_nothing(engine, settings, stored):
    with pytest.raises(RuntimeError):
        rotate_encryption_key(engine, settings=with_keys(settings, NEW, OLD),
                              on_file=lambda done, total: _stop_after(1, done))
    before = snapshot(engine, settings)
    with pytest.raises(KeyRotationError):
        rotate_encryption_key(engine, settings=with_keys(settings, NEW, WRONG))
    assert snapshot(engine, settings) == before


def test_dry_run_counts_what_is_left_and_changes_nothing(engine, settings, stored):
    before = snapshot(engine, settings)
    report = rotate_encryption_key(engine, settings=with_keys(settings, NEW, OLD), dry_run=True)
    assert (report.files_rotated, report.values_rotated, report.done) == (FILES, 2, False)
    assert snapshot(engine, settings) == before


# --- the command, end to end ---------------------------------------------------------------------


def _env(tmp_path: Path, url: str, current: str, previous: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ENCRYPTION_KEY", "ENCRYPTION_KEY_PREVIOUS")}
    env.update(DATABASE_URL=url, DATA_DIR=str(tmp_path / "data"), ENCRYPTION_KEY=current,
               ENCRYPTION_KEY_PREVIOUS=previous, SECRETS_PATH=str(tmp_path / "none.toml"), APP_MODE="demo")
    return env


def test_rotate_key_killed_mid_run_and_run_again_loses_nothing(tmp_path):
    """A real `kill -9` of the command in the middle of the files; the rerun finishes and every byte is kept."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    store = tmp_path / "data" / "documents"
    store.mkdir(parents=True)
    originals = {}
    old = Fernet(OLD.encode())
    for i in range(600):  # stored files as core.documents writes them: <32 hex>.bin, Fernet token
        data = os.urandom(16_384) + i.to_bytes(4, "big")
        name = hashlib.md5(data).hexdigest() + ".bin"
        (store / name).write_bytes(old.encrypt(data))
        originals[name] = data
    cmd = [sys.executable, "-m", "core", "rotate-key", "--progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp_path, url, NEW, OLD), stderr=subprocess.PIPE, text=True)
    first = ""
    while not first.startswith("100/600"):  # "100/600 Dateien": a sixth is done (skip any warning lines)
        first = proc.stderr.readline()
        assert first, "the command ended before reporting progress"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    states = []
    for name, original in originals.items():
        token = (store / name).read_bytes()
        try:
            Fernet(NEW.encode()).decrypt(token)
            states.append("new")
        except InvalidToken:
            assert old.decrypt(token) == original
            states.append("old")
    assert 100 <= states.count("new") < 600  # really killed in the middle

    rerun = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path, url, NEW, OLD), capture_output=True, text=True,
                           timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "ENCRYPTION_KEY_PREVIOUS kann entfernt werden" in rerun.stdout
    new = Fernet(NEW.encode())
    assert {name: new.decrypt((store / name).read_bytes()) for name in originals} == originals
    assert sorted(p.name for p in store.iterdir()) == sorted(originals)  # no temp file left behind


def test_rotate_key_command_reports_a_wrong_key_with_exit_code_1(engine, settings, stored, monkeypatch, capsys):
    before = snapshot(engine, settings)
    for name, value in _env(settings.data_dir.parent, settings.database_url, NEW, WRONG).items():
        monkeypatch.setenv(name, value)
    assert main(["rotate-key"]) == 1
    err = capsys.readouterr().err
    assert "Fehler:" in err and "Es wurde nichts geändert" in err and WRONG not in err and OLD not in err
    assert snapshot(engine, settings) == before


def test_rotate_key_dry_run_exits_3_while_work_is_left_and_0_when_done(engine, settings, stored, monkeypatch,
                                                                       capsys):
    for name, value in _env(settings.data_dir.parent, settings.database_url, NEW, OLD).items():
        monkeypatch.setenv(name, value)
    assert main(["rotate-key", "--dry-run"]) == 3
    assert main(["rotate-key"]) == 0
    assert main(["rotate-key", "--dry-run"]) == 0
    assert "ENCRYPTION_KEY_PREVIOUS kann entfernt werden" in capsys.readouterr().out


# --- settings -----------------------------------------------------------------------------------


def load(tmp_path, env):
    return Settings.load(env=env, secrets_path=tmp_path / "none.toml")


def test_previous_keys_form_the_ring_after_the_current_key(tmp_path):
    s = load(tmp_path, {"ENCRYPTION_KEY": NEW, "ENCRYPTION_KEY_PREVIOUS": f"{OLD}, {WRONG}"})
    assert (s.encryption_key_current, s.encryption_keys_previous) == (NEW, (OLD, WRONG))
    assert decrypt_text(s.encryption_key, Fernet(WRONG.encode()).encrypt(b"x").decode()) == "x"


def test_a_comma_list_in_encryption_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY_PREVIOUS"):
        load(tmp_path, {"ENCRYPTION_KEY": f"{NEW},{OLD}"})


def test_a_previous_key_that_is_no_fernet_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY_PREVIOUS"):
        load(tmp_path, {"ENCRYPTION_KEY": NEW, "ENCRYPTION_KEY_PREVIOUS": "altes-passwort"})


def test_production_may_rotate_away_from_the_demo_key(tmp_path):
    s = load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": "k" * 48, "ENCRYPTION_KEY": NEW,
                        "ENCRYPTION_KEY_PREVIOUS": DEMO_ENCRYPTION_KEY})
    assert s.encryption_keys_previous == (DEMO_ENCRYPTION_KEY,)
