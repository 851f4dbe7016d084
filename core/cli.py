"""The command line (§6): `python -m core --help`."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

from core.enums import DamageType, PartnerKind, Role
from core.errors import SchadenportalError
from core.i18n import t
from core.permissions import SYSTEM
from core.settings import ROOT, Settings
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head

DEFAULT_DEMO_CASES = 400


def _engine(settings: Settings):
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    upgrade_to_head(engine)
    return engine


def cmd_init_db(args: argparse.Namespace, settings: Settings) -> int:
    """Create or migrate the database to the newest schema."""
    _engine(settings).dispose()
    print(f"Datenbank bereit: {_safe_url(settings.database_url)}")
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create a login (the first admin, or any other)."""
    from core.users import create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Passwort: ")
        if password != getpass.getpass("Passwort wiederholen: "):
            raise SchadenportalError("Die Passwörter stimmen nicht überein.")
    engine = _engine(settings)
    with unit_of_work(engine) as session:
        user = create_user(
            session, actor=SYSTEM, username=args.username, display_name=args.name or args.username,
            email=args.email or "", role=Role(args.role), password=password, partner_id=args.partner_id,
            broker_id=args.broker_id,
        )
        print(f"Benutzer angelegt: {user.username} ({user.role})")
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Fill an empty database with deterministic demo data and the demo logins."""
    from db.seed import seed_demo

    report = seed_demo(
        _engine(settings), cases=args.cases, seed=args.seed, password=settings.demo_password,
        today=date.fromisoformat(args.today) if args.today else None,
    )
    print(
        f"Demo-Daten angelegt: {report.cases} Fälle, {report.events} Ereignisse, {report.users} Logins, "
        f"{report.partners} Partner, {report.brokers} Vermittler, {report.insurers} Versicherungen "
        f"in {report.seconds:.1f} s"
    )
    return 0


def cmd_import_cases(args: argparse.Namespace, settings: Settings) -> int:
    """Import cases from a CSV file (§6); with a bad row nothing is written unless --skip-bad."""
    from core.importer import run_import

    engine = _engine(settings)
    try:
        report = run_import(engine, actor=SYSTEM, path=args.file, skip_bad=args.skip_bad)
    finally:
        engine.dispose()
    print(report.summary)
    for error in report.rejected:
        print(error)
    if report.rejected and not args.skip_bad:
        print(t("import.nothing_imported", n=len(report.rejected)))
    return 1 if report.rejected else 0


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"kein Datum im Format JJJJ-MM-TT: {value!r}") from None


def cmd_kpis(args: argparse.Namespace, settings: Settings) -> int:
    """Print the §5 KPIs of cases received in [--from, --to) as one JSON object (or CSV)."""
    import json

    from core.kpis import compute_kpis, kpis_csv, make_filter

    engine = _engine(settings)
    try:
        with unit_of_work(engine) as s:
            flt = make_filter(s, date_from=args.date_from, date_to=args.date_to, damage_type=args.damage_type,
                              insurer=args.insurer, partner_kind=args.partner_kind, region=args.region,
                              clerk=args.clerk)
            figures = compute_kpis(s, actor=SYSTEM, flt=flt)
    finally:
        engine.dispose()
    print(json.dumps(figures) if args.format == "json" else kpis_csv(figures).rstrip("\n"))
    return 0


def _write_atomically(target: Path, data: bytes, *, failed: str) -> None:
    """Write the file under a temporary name and rename it: no half file at `target`; `failed` is the message key."""
    part = target.with_name(target.name + ".part")
    try:
        part.write_bytes(data)
        part.replace(target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise SchadenportalError(t(failed, path=target, reason=exc.strerror)) from exc


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Send due mails (retries with backoff); --once: what is due now, then exit; else until Ctrl-C/SIGTERM."""
    from core.logs import configure_logging
    from core.worker import run_worker

    engine = _engine(settings)
    configure_logging()  # JSON lines on stderr, level from LOG_LEVEL; libraries stay at WARNING
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        report = run_worker(engine, settings, once=args.once, interval=args.interval, stop=stop)
    except KeyboardInterrupt:
        return 0
    finally:
        engine.dispose()
    print(f"Mails: {report.sent} sent, {report.retrying} to retry, {report.failed} failed, {report.skipped} skipped")
    return 0


def cmd_fetch_mail(args: argparse.Namespace, settings: Settings) -> int:
    """One poll of the insurer mailbox now (IMAP_* settings): file each new message or hold it for staff."""
    from core.imap_fetch import fetch_mail

    if not settings.imap.configured:
        print(t("inmail.cli_not_configured"), file=sys.stderr)
        return 2
    import imaplib

    engine = _engine(settings)
    try:
        report = fetch_mail(engine, settings=settings)
    except (OSError, imaplib.IMAP4.error) as exc:  # server down, refused login, TLS: said plainly, no traceback
        print(t("inmail.cli_failed", reason=f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(t("inmail.cli_report", fetched=report.fetched, filed=report.filed, unassigned=report.unassigned,
            duplicates=report.duplicates, failed=report.failed))
    return 1 if report.failed else 0


def _start_worker(settings: Settings, stop: threading.Event) -> threading.Thread | None:
    """The worker in a daemon thread with its own engine, beside the app (ends when `stop` is set). None, and
    a log line saying why, when a separate worker already holds this SQLite database's worker lock."""
    from core.worker import run_worker
    from core.worker_lock import WorkerAlreadyRunning, acquire_worker_lock

    try:
        lock = acquire_worker_lock(settings.database_url)
    except WorkerAlreadyRunning as exc:
        logging.getLogger("core.worker").warning(t("ops.serve_no_worker", reason=exc))
        return None

    def target() -> None:
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            run_worker(engine, settings, once=False, stop=stop, lock=lock)
        finally:
            lock.release()
            engine.dispose()

    thread = threading.Thread(target=target, name="schadenportal-worker", daemon=True)
    thread.start()
    return thread


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, add demo data to an empty demo database, and run the app (streamlit run app.py) with the
    worker in a background thread (unless --no-worker)."""
    from core.health import Thresholds, start_health_server
    from core.logs import configure_logging
    from core.ui import server
    from db.seed import ensure_demo_data

    configure_logging()
    engine = _engine(settings)
    if settings.demo:
        ensure_demo_data(engine, password=settings.demo_password, cases=args.demo_cases)
    engine.dispose()
    stop = threading.Event()
    worker = None if args.no_worker else _start_worker(settings, stop)
    api = None if args.no_api else _start_api(args.api_port)
    health_engine, health = make_engine(settings.database_url, pool_size=1), None
    if args.health_port:
        try:
            health = start_health_server(health_engine, thresholds=Thresholds.from_env(), port=args.health_port)
        except OSError as exc:  # e.g. the port is taken: the app runs on, without the endpoint
            logging.getLogger("core.health").error("health endpoint on port %s not started: %s", args.health_port, exc)
    try:
        return subprocess.call(server.command("--server.port", str(args.port)), cwd=ROOT, env=os.environ.copy())
    finally:
        stop.set()
        _stop_api(api)
        if health is not None:
            health.shutdown()
        health_engine.dispose()
        if worker is not None:
            worker.join(timeout=10)


def _start_api(port: int) -> subprocess.Popen | None:
    """The REST API beside the app, as its own process (`api`); if it cannot start, the app runs without it."""
    try:
        return subprocess.Popen([sys.executable, "-m", "core", "api", "--port", str(port)], cwd=ROOT,
                                env=os.environ.copy())
    except OSError as exc:
        logging.getLogger("api").error("%s", t("api.serve_failed", port=port, error=exc))
        return None


def _stop_api(api: subprocess.Popen | None) -> None:
    if api is None or api.poll() is not None:
        return
    api.terminate()
    try:
        api.wait(timeout=10)
    except subprocess.TimeoutExpired:
        api.kill()


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Run the REST API (api/, FastAPI with uvicorn) on --host/--port; migrates first. A port that is taken
    is logged and ends the command with exit code 1."""
    import uvicorn

    from api.app import create_app
    from core.logs import configure_logging

    configure_logging()
    engine = _engine(settings)
    try:
        server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), host=args.host, port=args.port,
                                               log_level="info", access_log=False, proxy_headers=False))
        try:
            server.run()
        except SystemExit:  # uvicorn exits (code 3) when it cannot bind
            server.started = False
        if not server.started:  # e.g. the port is taken: uvicorn has logged why
            logging.getLogger("api").error("%s", t("api.serve_failed", port=args.port, error="bind"))
            return 1
        return 0
    finally:
        engine.dispose()


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Print the health checks as JSON (database, migrations, worker heartbeat, outbox backlog, failed
    deliveries); exit code 0 when healthy, 1 when not. Changes nothing (does not migrate)."""
    from core.health import Thresholds, check_health

    os.environ.setdefault("PGCONNECT_TIMEOUT", "5")  # an unreachable server is a finding, not a hang
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        report = check_health(engine, thresholds=Thresholds.from_env())
    finally:
        engine.dispose()
    print(report.to_json() if args.compact else json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 0 if report.healthy else 1


def cmd_chronicle(args: argparse.Namespace, settings: Settings) -> int:
    """Write a case's chronicle (Fallchronik) as PDF; exit code 2 for an unknown case number."""
    from pathlib import Path

    from core.chronicle import case_chronicle

    target = Path(args.output)
    engine = _engine(settings)
    try:
        with unit_of_work(engine) as session:  # the export is logged only if the file was written
            pdf = case_chronicle(session, actor=SYSTEM, number=args.number)
            if pdf is not None:
                _write_atomically(target, pdf, failed="chron.cli_write_failed")
    finally:
        engine.dispose()
    if pdf is None:
        print(f"Fehler: {t('chron.cli_unknown', number=args.number)}", file=sys.stderr)
        return 2
    print(t("chron.cli_written", number=args.number.strip(), path=target))
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Retention purge (§10): erase personal data of cases ended RETENTION_MONTHS ago, delete booking records and
    business letters past their legal period; --dry-run only lists what would go."""
    from sqlalchemy.orm import Session

    from core.retention import purge, purge_lines
    from core.timeutil import now

    engine = _engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:  # purge commits once per batch of cases
            report = purge(session, actor=SYSTEM, settings=settings, at=now(), dry_run=args.dry_run)
    finally:
        engine.dispose()
    print("\n".join(purge_lines(report)))
    return 0


def cmd_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt documents and stored secrets from ENCRYPTION_KEY_PREVIOUS to ENCRYPTION_KEY (resumable)."""
    from core.key_rotation import report_lines, rotate_encryption_key

    def progress(done: int, total: int) -> None:
        if args.progress and (done == total or done % 100 == 0):
            print(t("keyrot.progress", done=done, total=total), file=sys.stderr, flush=True)

    engine = _engine(settings)
    try:
        report = rotate_encryption_key(engine, settings=settings, dry_run=args.dry_run, on_file=progress)
    finally:
        engine.dispose()
    print("\n".join(report_lines(report)))
    return 0 if report.done or not args.dry_run else 3


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute the event chains (§10): per broken case the first broken event; exit code 1 if any is broken,
    2 for an unknown case number."""
    from core.chain_check import report_lines, verify_chains
    from core.errors import NotFound

    engine = _engine(settings)
    try:
        report = verify_chains(engine, actor=SYSTEM, case_number=args.case)
    except NotFound as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print("\n".join(report_lines(report)))
    return 0 if report.ok else 1


def cmd_export_subject(args: argparse.Namespace, settings: Settings) -> int:
    """Write everything held on a person (by e-mail address) as JSON or PDF (Art. 15 DSGVO); access-logged."""
    from pathlib import Path

    from core.subject_rights import export_pdf, subject_export

    target = Path(args.output)
    fmt = args.format or target.suffix.lower().lstrip(".")
    if fmt not in ("json", "pdf"):
        raise SchadenportalError(t("subject.cli_format", path=target))
    engine = _engine(settings)
    try:
        with unit_of_work(engine) as session:  # the export is logged only if the file was written
            export = subject_export(session, actor=SYSTEM, email=args.email,
                                    reason=args.reason or t("subject.cli_default_reason"))
            data = export.to_json() if fmt == "json" else export_pdf(export)
            _write_atomically(target, data, failed="subject.cli_write_failed")
    finally:
        engine.dispose()
    print(t("subject.cli_written", path=target, persons=export.persons, cases=export.cases))
    return 0


def cmd_erase_subject(args: argparse.Namespace, settings: Settings) -> int:
    """Erase a person's personal data on request (Art. 17 DSGVO): ended cases as the purge would, open cases and
    cases under legal hold are skipped with the reason; --dry-run only shows what would go. Access-logged."""
    from core.subject_rights import erase_subject

    engine = _engine(settings)
    try:
        with unit_of_work(engine) as session:
            result = erase_subject(session, actor=SYSTEM, settings=settings, email=args.email, reason=args.reason,
                                   dry_run=args.dry_run)
    finally:
        engine.dispose()
    print("\n".join(result.lines()))
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Write database + documents + manifest into one file while the app keeps running."""
    from pathlib import Path

    from core.backup import create_backup

    report = create_backup(settings, output=Path(args.output))
    print(t("backup.written", path=report.path, size=f"{report.size / 1_048_576:.1f} MiB", dialect=report.dialect,
            revision=report.revision, cases=report.tables.get("cases", 0), documents=report.documents,
            seconds=report.seconds))
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Check a backup file completely, then restore database and documents (SQLite: app stopped)."""
    from pathlib import Path

    from core.backup import restore_backup

    report = restore_backup(settings, archive=Path(args.file), force=args.force)
    migrated = t("restore.migrated", head=report.migrated_to) if report.migrated_to else ""
    print(t("restore.done", dialect=report.dialect, revision=report.revision, migrated=migrated,
            cases=report.tables.get("cases", 0), documents=report.documents, seconds=report.seconds))
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Schadenportal – Verwaltung")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init-db", help="Datenbank anlegen bzw. auf den neuesten Stand migrieren")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("create-user", help="Benutzer anlegen")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.CLIENT])
    p.add_argument("--name", help="Anzeigename")
    p.add_argument("--email")
    p.add_argument("--partner-id", type=int, help="Partnerbetrieb (bei Rolle partner)")
    p.add_argument("--broker-id", type=int, help="Vermittler (bei Rolle broker)")
    p.add_argument("--password-stdin", action="store_true", help="Passwort von der Standardeingabe lesen")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("seed-demo", help="Demo-Daten in eine leere Datenbank schreiben (deterministisch)")
    p.add_argument("--cases", type=int, default=DEFAULT_DEMO_CASES)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--today", help="Stichtag YYYY-MM-DD (Standard: heute)")
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("import-cases", help="Fälle aus einer CSV-Datei importieren (UTF-8, Komma, Kopfzeile)")
    p.add_argument("file", metavar="FILE.csv", help="CSV-Datei: UTF-8, Kopfzeile, Komma als Trennzeichen")
    p.add_argument("--skip-bad", action="store_true", help="fehlerhafte Zeilen auslassen, die übrigen importieren")
    p.set_defaults(func=cmd_import_cases)

    p = sub.add_parser("kpis", help="Kennzahlen (§5) der Fälle mit Eingang im Zeitraum [--from, --to)")
    p.add_argument("--from", dest="date_from", required=True, type=_iso_date, metavar="JJJJ-MM-TT")
    p.add_argument("--to", dest="date_to", required=True, type=_iso_date, metavar="JJJJ-MM-TT",
                   help="erster Tag nach dem Zeitraum")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--damage-type", choices=[d.value for d in DamageType], help="nur diese Schadenart")
    p.add_argument("--insurer", help="nur diese Versicherung (Name)")
    p.add_argument("--partner-kind", choices=[k.value for k in PartnerKind], help="nur diese Betriebsart")
    p.add_argument("--region", help="nur diese PLZ-Region (erste Ziffer)")
    p.add_argument("--clerk", help="nur Fälle dieses Sachbearbeiters (Benutzername)")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("serve", help="App mit Mail-Worker starten (migriert; im Demo-Modus mit Demo-Daten)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--demo-cases", type=int, default=DEFAULT_DEMO_CASES)
    p.add_argument("--no-worker", action="store_true", help="keinen Worker im Hintergrund starten (Mails versendet "
                   "dann ein eigener `worker`-Prozess)")
    p.add_argument("--health-port", type=int, default=int(os.environ.get("HEALTH_PORT") or 8502), metavar="PORT",
                   help="Health-Endpunkt http://127.0.0.1:PORT/health (JSON, 200/503); 0 = aus (Standard: HEALTH_PORT "
                   "oder 8502)")
    p.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT") or 8503), metavar="PORT",
                   help="Port der REST-API, die neben der App startet (Standard: API_PORT oder 8503)")
    p.add_argument("--no-api", action="store_true", help="die REST-API nicht mitstarten")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("api", help="REST-API für Vermittler-Systeme starten (FastAPI; OpenAPI unter /docs)")
    p.add_argument("--port", type=int, default=int(os.environ.get("API_PORT") or 8503))
    p.add_argument("--host", default=os.environ.get("API_HOST") or "127.0.0.1",
                   help="Adresse (Standard: API_HOST oder 127.0.0.1; hinter nginx bleibt es dabei)")
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("health", help="Betriebszustand als JSON prüfen (Datenbank, Migrationen, Worker, Postausgang, "
                       "Zustellfehler); Exit-Code 0 gesund, 1 nicht")
    p.add_argument("--compact", action="store_true", help="JSON in einer Zeile")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("worker", help="Mails aus der Warteschlange senden (SMTP, sonst .eml unter DATA_DIR/mail)")
    p.add_argument("--once", action="store_true", help="nur fällige Mails senden, dann beenden")
    p.add_argument("--interval", type=float, default=5.0, metavar="SEKUNDEN",
                   help="Wartezeit zwischen zwei Durchläufen (Standard: 5)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("fetch-mail", help="Postfach der Versicherungen einmal abrufen (IMAP_*): Mails den Fällen "
                       "zuordnen oder im Posteingang für das Team ablegen")
    p.set_defaults(func=cmd_fetch_mail)

    p = sub.add_parser("chronicle", help="Fallchronik eines Falls als PDF schreiben")
    p.add_argument("number", metavar="CASE_NUMBER", help="Fallnummer, z. B. SP-2026-000123")
    p.add_argument("-o", "--output", required=True, metavar="FILE.pdf", help="Zieldatei")
    p.set_defaults(func=cmd_chronicle)

    p = sub.add_parser("purge", help="Löschlauf: personenbezogene Daten abgeschlossener Fälle nach Ablauf der Frist "
                       "löschen (DSGVO)")
    p.add_argument("--dry-run", action="store_true", help="nur anzeigen, was gelöscht würde (max. 50 Fallnummern)")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("verify", help="Ereignisketten aller Fälle nachrechnen (Manipulationsprüfung); "
                       "Exit-Code 1, wenn eine Kette beschädigt ist")
    p.add_argument("--case", metavar="CASE_NUMBER", help="nur diesen Fall prüfen")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("rotate-key", help="Dokumente und gespeicherte Geheimnisse von ENCRYPTION_KEY_PREVIOUS auf "
                       "ENCRYPTION_KEY umschlüsseln (fortsetzbar)")
    p.add_argument("--dry-run", action="store_true", help="nur prüfen und zählen, was noch umzuschlüsseln ist "
                   "(Exit-Code 3, solange etwas übrig ist)")
    p.add_argument("--progress", action="store_true", help="Fortschritt alle 100 Dateien ausgeben")
    p.set_defaults(func=cmd_rotate_key)
    p = sub.add_parser("export-subject", help="Auskunft (Art. 15 DSGVO): alle Daten zu einer Person als JSON oder PDF")
    p.add_argument("--email", required=True, metavar="ADDRESS", help="E-Mail-Adresse der Person (Groß-/Kleinschreibung "
                   "egal)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="Zieldatei (.json oder .pdf)")
    p.add_argument("--format", choices=("json", "pdf"), help="Format (Standard: nach der Dateiendung)")
    p.add_argument("--reason", help="Grund für das Zugriffsprotokoll (Standard: Auskunftsersuchen)")
    p.set_defaults(func=cmd_export_subject)

    p = sub.add_parser("erase-subject", help="Löschung auf Antrag (Art. 17 DSGVO): personenbezogene Daten einer Person "
                       "löschen (offene Fälle und Fälle unter Aufbewahrungssperre ausgenommen)")
    p.add_argument("--email", required=True, metavar="ADDRESS", help="E-Mail-Adresse der Person")
    p.add_argument("--reason", required=True, metavar="TEXT", help="Grund (wird protokolliert)")
    p.add_argument("--dry-run", action="store_true", help="nur anzeigen, was gelöscht würde")
    p.set_defaults(func=cmd_erase_subject)
    p = sub.add_parser("backup", help="Sicherung von Datenbank und Dokumenten in eine Datei schreiben (im laufenden "
                       "Betrieb; ohne den Schlüssel ENCRYPTION_KEY)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="Zieldatei, z. B. sicherung.tar")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="Sicherung zurückspielen (SQLite: App und Worker vorher beenden); prüft die "
                       "Datei vollständig, bevor etwas geändert wird")
    p.add_argument("file", metavar="FILE", help="Sicherungsdatei von `backup`")
    p.add_argument("--force", action="store_true", help="auch eine Zieldatenbank mit Daten überschreiben")
    p.set_defaults(func=cmd_restore)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load()
        return args.func(args, settings)
    except SchadenportalError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
