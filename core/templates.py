"""Message templates (Textbausteine): defaults here, admins' edits in the templates table (§8).

Placeholders are written `{name}`. Each template allows a fixed set of them (`PLACEHOLDERS`): saving refuses
any other, and sending refuses a mail whose template uses a placeholder the caller gave no value for
(`TemplateError` from `render`, so `enqueue_mail` fails in the transaction that wanted to queue the mail).
So the allowed set of a template is exactly what its callers pass: a mail about a case passes
`case_values(session, case)` plus the template's own extras (e.g. `upload_link`). Rendering is pure;
sending is the outbox's job. Names and placeholder descriptions for the editor are in the i18n catalog
(`tpl.name_<key>`, `tpl.ph_<placeholder>`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.errors import NotFound, ValidationError
from core.i18n import label, t
from core.money import format_eur
from core.permissions import Action, Actor, can, require
from core.timeutil import format_date, now
from db.models import Case, Template, User


class TemplateError(ValidationError):
    """A template that cannot be saved or a mail that cannot be filled (German message)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    examples: tuple[str, ...] = ()  # preview only: placeholders filled with example values


#: key -> (subject, body). One result sentence plus one "what now?" sentence, no legalese.
DEFAULTS: dict[str, tuple[str, str]] = {
    "claim_letter_sent": (
        "Ihr Schaden {fallnummer}: Forderung an die Versicherung geschickt",
        ("Guten Tag {kunde},\n\n"
         "wir haben Ihren Schaden vom {datum} heute bei der {versicherung} eingefordert.\n"
         "Sie müssen nichts tun; sobald die Versicherung antwortet, melden wir uns bei Ihnen.\n\nIhr Schadenportal"),
    ),
    "insurer_query": (
        "Ihr Schaden {fallnummer}: Bitte ein Dokument hochladen",
        ("Guten Tag {kunde},\n\n"
         "die {versicherung} braucht für Ihren Schaden noch dieses Dokument: {dokument}.\n"
         "Bitte laden Sie es hier hoch, dann geht es sofort weiter: {upload_link}\n\nIhr Schadenportal"),
    ),
    "payment_received": (
        "Ihr Schaden {fallnummer}: Zahlung eingegangen",
        ("Guten Tag {kunde},\n\n"
         "die {versicherung} hat für Ihren Schaden {betrag} gezahlt.\n"
         "Sie müssen nichts weiter tun; wir schließen den Fall in den nächsten Tagen ab.\n\nIhr Schadenportal"),
    ),
    "order_assigned": (
        "Neuer Auftrag {fallnummer}",
        ("Guten Tag {betrieb},\n\n"
         "Sie haben einen neuen Auftrag: {fallnummer} ({schadenart}, {ort}).\n"
         "Bitte nehmen Sie ihn im Portal an oder lehnen Sie ihn mit Grund ab: {auftrag_link}\n\n"
         "Die vorausgefüllte Abtretungserklärung liegt bei; lassen Sie sie vom Kunden unterschreiben "
         "und laden Sie sie mit der Rechnung hoch.\n\nIhr Schadenportal"),
    ),
    "settlement_ready": (
        "Ihre Abrechnung {monat}",
        ("Guten Tag {betrieb},\n\n"
         "Ihre Abrechnung für {monat} liegt bei: Auszahlung {betrag}.\n"
         "Der Betrag wird in den nächsten Tagen auf Ihr Konto {iban} überwiesen.\n\nIhr Schadenportal"),
    ),
    "survey_invitation": (
        "Ihr Schaden {fallnummer} ist erledigt – wie war es?",
        ("Guten Tag {kunde},\n\n"
         "Ihr Schaden {fallnummer} ist abgeschlossen.\n"
         "Wenn Sie eine Minute haben, sagen Sie uns hier, wie zufrieden Sie waren: {umfrage_link}\n\n"
         "Ihr Schadenportal"),
    ),
    "status_update": (
        "Ihr Schaden {fallnummer}: {status}",
        ("Guten Tag {empfaenger},\n\n"
         "neuer Stand zum Schaden {fallnummer}: {status}.\n"
         "So geht es weiter: {naechster_schritt} Alle Einzelheiten: {status_link}\n\nIhr Schadenportal"),
    ),
    "partner_approved": (
        "Willkommen im Schadenportal-Netzwerk",
        ("Guten Tag {ansprechpartner},\n\n"
         "Ihre Bewerbung für {betrieb} ist angenommen; Ihr Probemonat läuft bis {probemonat_bis}.\n"
         "Ihr Benutzername ist {benutzername}. Legen Sie Ihr Passwort hier fest (der Link gilt {gueltig_tage} Tage "
         "und nur einmal): {passwort_link}\n\nIhr Schadenportal"),
    ),
    "partner_rejected": (
        "Ihre Bewerbung beim Schadenportal",
        ("Guten Tag {ansprechpartner},\n\n"
         "Wir können {betrieb} derzeit leider nicht in unser Netzwerk aufnehmen. Grund: {grund}\n"
         "Sie können sich gern später erneut bewerben.\n\nIhr Schadenportal"),
    ),
    "task_due": (
        "Aufgabe fällig: {aufgabe}",
        ("Hallo {sachbearbeiter},\n\n"
         "die Aufgabe „{aufgabe}“ ({bezug}) ist am {faellig_am} fällig.\n"
         "Bitte erledigen Sie sie oder verschieben Sie den Termin: {aufgaben_link}\n\nIhr Schadenportal"),
    ),
    "deadline_warning": (
        "Frist läuft ab: {fallnummer}",
        ("Hallo {sachbearbeiter},\n\n"
         "für den Schaden {fallnummer} ({versicherung}) muss die Forderung bis {frist} an die Versicherung gehen.\n"
         "Bitte schicken Sie sie heute noch ab: {status_link}\n\nIhr Schadenportal"),
    ),
    "insurer_silence": (
        "Versicherung antwortet nicht: {fallnummer}",
        ("Hallo {sachbearbeiter},\n\n"
         "die {versicherung} hat zum Schaden {fallnummer} seit 14 Tagen nicht geantwortet; unsere letzte Nachricht "
         "ging am {seit} raus.\n"
         "Bitte fassen Sie bei der Versicherung nach (die Aufgabe dazu liegt bei Ihnen): {status_link}\n\n"
         "Ihr Schadenportal"),
    ),
    "digest": (
        "Ihre Zusammenfassung vom {tag}: {anzahl} Meldungen",
        ("Guten Tag {empfaenger},\n\n"
         "hier steht, was bei Ihren Fällen heute fällig ist und was sich gestern geändert hat:\n\n"
         "{eintraege}\n\n"
         "Die Einzelheiten finden Sie im Portal; einzelne Mails statt der Zusammenfassung stellen Sie in Ihrem "
         "Konto ein.\n\nIhr Schadenportal"),
    ),
    "document_requested": (
        "Ihr Schaden {fallnummer}: Bitte Unterlagen hochladen",
        ("Guten Tag {kunde},\n\n"
         "für Ihren Schaden vom {datum} brauchen wir noch: {dokumente}.\n"
         "Bitte laden Sie die Unterlagen hier hoch, dann geht es sofort weiter; dort sehen Sie auch jederzeit, "
         "wie weit Ihr Fall ist: {upload_link}\n\nIhr Schadenportal"),
    ),
    "status_update_broker": (
        "Schaden {fallnummer}: {status}",
        ("Guten Tag {empfaenger},\n\n"
         "neuer Stand beim Schaden {fallnummer} ({kunde}): {ergebnis}\n"
         "{naechster_schritt} Alle Einzelheiten: {fall_link}\n\nIhr Schadenportal"),
    ),
    "status_update_partner": (
        "Auftrag {fallnummer}: {status}",
        ("Guten Tag {empfaenger},\n\n"
         "neuer Stand bei Ihrem Auftrag {fallnummer} ({kennzeichen}): {ergebnis}\n"
         "{naechster_schritt} Zum Auftrag: {fall_link}\n\nIhr Schadenportal"),
    ),
    "claim_letter": (
        "Forderung zum Schaden {schadennummer} – unser Zeichen {fallnummer}",
        ("Sehr geehrte Damen und Herren,\n\n"
         "für unseren Mandanten {kunde} (Versicherungsschein {versicherungsnummer}, Kennzeichen {kennzeichen}) "
         "fordern wir für den {schadenart} vom {datum} {forderung}; die Aufstellung liegt bei.\n\n"
         "Bitte überweisen Sie den Betrag bis zum {zahlungsfrist} unter Angabe unseres Zeichens {fallnummer}.\n\n"
         "Mit freundlichen Grüßen\nSchadenportal"),
    ),
    "management_report": (
        "Monatsbericht {monat}",
        ("Guten Tag {empfaenger},\n\n"
         "im {monat} sind {faelle} Fälle eingegangen; bis zur Forderung an die Versicherung dauerte es im Median "
         "{durchlaufzeit}.\n"
         "Alle Kennzahlen mit Vormonat, Diagrammen und Tabellen stehen im angehängten Bericht; gefiltert finden Sie "
         "sie auf der KPI-Seite im Portal: {portal_link}\n\nIhr Schadenportal"),
    ),
}

#: What `case_values` offers; a template about a case may use all of them.
CASE_PLACEHOLDERS: tuple[str, ...] = (
    "kunde", "fallnummer", "versicherung", "schadennummer", "datum", "schadenart", "kennzeichen", "ort",
    "betrag", "forderung", "status", "betrieb", "makler", "sachbearbeiter", "status_link",
)

#: What a status mail to a broker or a partner offers (core.notify): the case as that business knows it, no
#: amounts, no other party's name, nothing internal.
BUSINESS_PLACEHOLDERS: tuple[str, ...] = (
    "empfaenger", "fallnummer", "kunde", "kennzeichen", "schadenart", "status", "ergebnis", "naechster_schritt",
    "fall_link",
)

#: key -> the placeholders the template may use; its callers pass a value for each of them.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "claim_letter_sent": CASE_PLACEHOLDERS,
    "insurer_query": CASE_PLACEHOLDERS + ("dokument", "upload_link"),
    "payment_received": CASE_PLACEHOLDERS,
    "order_assigned": ("betrieb", "fallnummer", "schadenart", "ort", "auftrag_link"),
    "settlement_ready": ("betrieb", "monat", "betrag", "iban"),
    "survey_invitation": CASE_PLACEHOLDERS + ("umfrage_link",),
    "status_update": CASE_PLACEHOLDERS + ("empfaenger", "naechster_schritt"),
    "partner_approved": ("ansprechpartner", "betrieb", "benutzername", "probemonat_bis", "passwort_link",
                         "gueltig_tage"),
    "partner_rejected": ("ansprechpartner", "betrieb", "grund"),
    "task_due": ("sachbearbeiter", "aufgabe", "bezug", "faellig_am", "aufgaben_link"),
    "deadline_warning": CASE_PLACEHOLDERS + ("frist",),
    "insurer_silence": CASE_PLACEHOLDERS + ("seit",),
    "digest": ("empfaenger", "tag", "anzahl", "eintraege"),
    "document_requested": CASE_PLACEHOLDERS + ("dokumente", "upload_link"),
    "status_update_broker": BUSINESS_PLACEHOLDERS,
    "status_update_partner": BUSINESS_PLACEHOLDERS,
    "claim_letter": CASE_PLACEHOLDERS + ("versicherungsnummer", "zahlungsfrist"),
    "management_report": ("empfaenger", "monat", "faelle", "durchlaufzeit", "portal_link"),
}

#: Example values for the preview, for what a case does not offer (or when no case is given); the
#: `…_link` ones are paths in the app (made into links with `app_link`).
EXAMPLES: dict[str, str] = {
    "kunde": "Erika Mustermann", "fallnummer": "SP-2026-000123", "versicherung": "HUK-COBURG",
    "schadennummer": "KS-4711", "datum": "12.10.2026", "schadenart": "Glasschaden", "kennzeichen": "B-AB 1234",
    "ort": "10115", "betrag": "1.234,56 €", "forderung": "1.500,00 €", "status": "In Prüfung",
    "betrieb": "Autoglas Nord", "makler": "Versicherungsbüro Beispiel", "sachbearbeiter": "Sven Sachbearbeiter",
    "status_link": "/case?nr=SP-2026-000123", "auftrag_link": "/case?nr=SP-2026-000123",
    "dokument": "Kostenvoranschlag", "upload_link": "/case?nr=SP-2026-000123",
    "umfrage_link": "/umfrage?nr=SP-2026-000123",
    "empfaenger": "Erika Mustermann", "naechster_schritt": "Wir warten auf die Antwort der Versicherung.",
    "monat": "Oktober 2026", "iban": "DE02 1203 0000 0000 2020 51", "ansprechpartner": "Nele Neumann",
    "benutzername": "autoglasnord", "probemonat_bis": "30.11.2026",
    "passwort_link": "/passwort?token=BEISPIEL", "gueltig_tage": "7",
    "grund": "In Ihrer Region haben wir genug Betriebe.", "aufgabe": "Rückruf beim Kunden",
    "bezug": "Schaden SP-2026-000123", "faellig_am": "24.11.2026", "aufgaben_link": "/",
    "frist": "26.11.2026", "tag": "23.11.2026", "anzahl": "3",
    "eintraege": "Fällig oder überfällig:\n- SP-2026-000123: Forderung überfällig seit 22.11.2026 10:00\n"
                 "- Aufgabe „Rückruf beim Kunden“ (Schaden SP-2026-000125) fällig seit 22.11.2026 09:00\n\n"
                 "Gestern geändert:\n- SP-2026-000124: Die Versicherung hat gezahlt.",
    "versicherungsnummer": "VS-123456", "zahlungsfrist": "07.12.2026",
    "seit": "09.11.2026", "dokumente": "Fahrzeugschein, Fotos",
    "ergebnis": "Die Versicherung hat gezahlt.", "fall_link": "/case?nr=SP-2026-000123",
    "faelle": "412", "durchlaufzeit": "24,6 h", "portal_link": "/",
}


SUBJECT_MAX, BODY_MAX = 200, 10_000


def template_name(key: str) -> str:
    """The German name of a template for the editor and error messages."""
    return t(f"tpl.name_{key}")


def describe(placeholder: str) -> str:
    """The German description of a placeholder for the editor."""
    return t(f"tpl.ph_{placeholder}")


def _fields(text: str) -> list[tuple[str, str, str]]:
    """(name, format spec, conversion) of each {field}; unbalanced braces raise TemplateError."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(t("tpl.braces")) from exc
    return [(name, spec or "", conv or "") for _lit, name, spec, conv in parsed if name is not None]


def placeholders_in(text: str) -> list[str]:
    """The placeholder names used in `text`, each once, in order of appearance."""
    return list(dict.fromkeys(name for name, _s, _c in _fields(text) if name.isidentifier()))


def check_template(key: str, *, subject: str, body: str) -> None:
    """Raise TemplateError unless the text is fit to be saved: known key, subject and body given, a subject
    on one line, balanced braces, only the template's own placeholders (written plainly as {name})."""
    if key not in DEFAULTS:
        raise TemplateError(t("tpl.unknown_key"))
    if not subject.strip():
        raise TemplateError(t("tpl.subject_required"), field="subject")
    if not body.strip():
        raise TemplateError(t("tpl.body_required"), field="body")
    if any(c in subject for c in "\r\n\x0b\x0c\x85\u2028\u2029"):
        raise TemplateError(t("tpl.subject_one_line"), field="subject")
    if len(subject) > SUBJECT_MAX or len(body) > BODY_MAX:
        raise TemplateError(t("tpl.too_long", subject=SUBJECT_MAX, body=BODY_MAX))
    allowed = PLACEHOLDERS[key]
    unknown: list[str] = []
    for field, text in (("subject", subject), ("body", body)):
        for name, spec, conv in _fields(text):  # raises on unbalanced braces
            written = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            if name not in allowed or spec or conv:
                unknown.append(written)
    if unknown:
        raise TemplateError(t("tpl.unknown_placeholder", names=", ".join(dict.fromkeys(unknown)),
                              allowed=", ".join("{" + p + "}" for p in allowed)))


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: dict[str, object]) -> str:
    """`text` with its {placeholders} replaced; unknown ones stay; braces in values are never re-read."""
    formatter = string.Formatter()
    out: list[str] = []
    safe = _Keep({k: str(v) for k, v in values.items()})
    try:
        parsed = list(formatter.parse(text))
    except ValueError:  # a lone brace: show the text as written
        return text
    for literal, field, _spec, _conv in parsed:
        out.append(literal)
        if field is not None:
            out.append(safe[field] if field.isidentifier() else "{" + field + "}")
    return "".join(out)


def render_text(key: str, *, subject: str, body: str, values: dict[str, object]) -> Rendered:
    """Subject and body filled with `values`; a placeholder without a value (or None) raises TemplateError."""
    missing = [n for n in dict.fromkeys(placeholders_in(subject) + placeholders_in(body)) if values.get(n) is None]
    if missing:
        raise TemplateError(t("tpl.missing_value", template=template_name(key) if key in DEFAULTS else key,
                              names=", ".join("{" + n + "}" for n in missing)))
    # a subject is one header line: no line breaks may reach the mail headers
    return Rendered(" ".join(fill(subject, values).split()), fill(body, values))


def _text_of(session: Session, key: str) -> tuple[str, str]:
    if key not in DEFAULTS:
        raise TemplateError(t("tpl.unknown_key"))
    row = session.scalar(select(Template).where(Template.key == key).execution_options(populate_existing=True))
    return (row.subject, row.body) if row else DEFAULTS[key]


def render(session: Session, *, key: str, values: dict[str, object]) -> Rendered:
    """The template `key` (an admin's version if there is one) filled with `values`; refused (TemplateError)
    if one of its placeholders has no value, so no mail leaves with a `{betrag}` in it."""
    subject, body = _text_of(session, key)
    return render_text(key, subject=subject, body=body, values=values)


@dataclass(frozen=True)
class TemplateInfo:
    key: str
    name: str
    subject: str
    body: str
    changed: bool  # differs from the default
    updated_at: datetime | None
    updated_by: str
    placeholders: tuple[tuple[str, str], ...]  # (name, description)


def list_templates(session: Session, *, actor: Actor) -> list[TemplateInfo]:
    """Every template with its current text, whether an admin changed it, and its allowed placeholders."""
    require(actor, Action.MANAGE_TEMPLATES)
    rows = {r.key: r for r in session.scalars(select(Template))}
    names = dict(session.execute(select(User.id, User.display_name)
                                 .where(User.id.in_({r.updated_by_id for r in rows.values()} - {None}))).all())
    out = []
    for key, default in DEFAULTS.items():
        row = rows.get(key)
        subject, body = (row.subject, row.body) if row else default
        out.append(TemplateInfo(
            key, template_name(key), subject, body, (subject, body) != default, row.updated_at if row else None,
            (names.get(row.updated_by_id) or t("tpl.by_system")) if row else "",
            tuple((p, describe(p)) for p in PLACEHOLDERS[key]),
        ))
    return out


def _store(session: Session, *, actor: Actor, key: str, subject: str, body: str) -> None:
    """Insert-or-update the row of `key` (two admins saving a template for the first time cannot collide)."""
    values = {"subject": subject, "body": body, "updated_at": now(), "updated_by_id": actor.user_id}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(Template).values(key=key, **values).on_conflict_do_update(
        index_elements=[Template.key], set_=values))
    session.flush()


def save_template(session: Session, *, actor: Actor, key: str, subject: str, body: str) -> None:
    """Store an admin's version of the template; refused (nothing stored) if the text is not fit to send."""
    require(actor, Action.MANAGE_TEMPLATES)
    subject, body = subject.strip(), body.strip("\n").rstrip()
    check_template(key, subject=subject, body=body)
    _store(session, actor=actor, key=key, subject=subject, body=body)
    log_access(session, actor=actor, action="edit", object_type="template", object_ref=key)


def reset_template(session: Session, *, actor: Actor, key: str) -> None:
    """Back to the default text (kept as a row, so who reset it and when stays visible)."""
    require(actor, Action.MANAGE_TEMPLATES)
    if key not in DEFAULTS:
        raise TemplateError(t("tpl.unknown_key"))
    subject, body = DEFAULTS[key]
    _store(session, actor=actor, key=key, subject=subject, body=body)
    log_access(session, actor=actor, action="reset", object_type="template", object_ref=key)


def case_values(session: Session, case: Case) -> dict[str, str]:
    """The values a case offers to a template (`CASE_PLACEHOLDERS` and the partner's `auftrag_link`)."""
    from core.outbox import app_link  # core.outbox imports this module

    client = case.client
    day = case.incident_date or case.received_at.date()
    link = app_link(f"/case?nr={quote(case.number)}")
    return {
        "kunde": f"{client.first_name} {client.last_name}".strip(), "fallnummer": case.number,
        "versicherung": case.insurer.name, "schadennummer": case.insurer_claim_number or "–",
        "datum": format_date(day), "schadenart": label(case.damage_type), "kennzeichen": case.plate or "–",
        "ort": case.postal_code, "forderung": format_eur(case.amount_claimed_cents),
        "betrag": format_eur(case.amount_paid_cents if case.amount_paid_cents is not None
                             else case.amount_claimed_cents),
        "status": label(case.status), "betrieb": case.partner.name if case.partner else "–",
        "makler": case.broker.name if case.broker else "–",
        "sachbearbeiter": case.clerk.display_name if case.clerk else "–",
        "status_link": link, "auftrag_link": link,
    }


def preview(
    session: Session, *, actor: Actor, key: str, subject: str, body: str, case_number: str, base_url: str = "",
) -> Rendered:
    """The draft filled with a real case's values (example values for the rest, listed in `examples`);
    refused like `save_template` if the draft could not be saved."""
    from core.outbox import BASE_URL_MARK, app_link  # core.outbox imports this module

    require(actor, Action.MANAGE_TEMPLATES)
    subject, body = subject.strip(), body.strip("\n").rstrip()
    check_template(key, subject=subject, body=body)
    values: dict[str, object] = {}
    number = case_number.strip().upper()
    if number:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None or not can(actor, Action.VIEW_CASE, case):
            raise NotFound(t("tpl.case_not_found", number=number))
        log_access(session, actor=actor, action="preview", object_type="case", object_ref=case.number,
                   detail=f"template {key}")
        values = case_values(session, case)
    examples = {p: app_link(EXAMPLES[p]) if p.endswith("_link") else EXAMPLES[p]
                for p in PLACEHOLDERS[key] if p not in values}
    mail = render_text(key, subject=subject, body=body, values={**examples, **values})
    used = set(placeholders_in(subject) + placeholders_in(body))
    if base_url:
        address = base_url.rstrip("/")
        mail = Rendered(mail.subject.replace(BASE_URL_MARK, address), mail.body.replace(BASE_URL_MARK, address))
    return Rendered(mail.subject, mail.body, tuple(p for p in examples if p in used))
