"""The in-app help (Hilfe): per role what it does here and step-by-step guides, each naming the menu entries it
leads through and the screenshot (docs/help/, taken by tests/e2e/test_help_screenshots.py) that shows it.

Plain data, German like every user-facing text; an English help would be a second `GUIDES` table keyed by
language. `tests/unit/test_help_content.py` checks that every page a role can open is covered by its help and that
each menu entry a guide leads through is named in its text exactly as the menu labels it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from core.enums import Role
from core.settings import ROOT

HELP_DIR = ROOT / "docs" / "help"


class Audience(StrEnum):
    """Whom a help is for: the roles, plus visitors (not logged in: login, "Partner werden")."""

    STAFF = "staff"
    LAWYER = "lawyer"
    MANAGER = "manager"
    ADMIN = "admin"
    PARTNER = "partner"
    BROKER = "broker"
    CLIENT = "client"
    VISITOR = "visitor"


@dataclass(frozen=True)
class Guide:
    """One thing to do, as numbered steps. `pages`: url paths of the pages the steps lead through (the text names
    each by its menu title in „…“); `image`: the screenshot file under HELP_DIR."""

    title: str
    steps: tuple[str, ...]
    pages: tuple[str, ...]
    image: str


@dataclass(frozen=True)
class RoleHelp:
    audience: Audience
    intro: str  # "Was Sie hier tun"
    guides: tuple[Guide, ...]


# --- shared guides ---------------------------------------------------------------------------------------------------

ACCOUNT = Guide("Ihr Konto, Datenschutz und diese Hilfe", (
    "Unter „Mein Konto“ ändern Sie Ihr Passwort. Danach sind Ihre anderen Sitzungen beendet.",
    "Dort wählen Sie auch „Tägliche Zusammenfassung statt Einzelmails“, wenn Sie lieber eine Mail am Tag bekommen.",
    ("Die Zwei-Faktor-Anmeldung richten Sie bei der ersten Anmeldung ein. Neues Handy? Die Administration setzt sie "
    "zurück, dann richten Sie sie neu ein."),
    "„Datenschutz“ erklärt, welche Daten das Portal speichert. „Hilfe“ finden Sie in jedem Menü.",
), ("account", "datenschutz", "hilfe"), "account.png")

CASE_WORK = Guide("Fälle aufnehmen, finden und abrechnen", (
    "Das geht genau wie in der Hilfe für die Sachbearbeitung (oben auswählen).",
    "„Start“ zeigt Ihre Aufgaben und die Fälle nach Frist.",
    ("Neue Fälle legen Sie unter „Neuer Fall“ an. Alle Fälle finden Sie in der „Fallübersicht“, einzelne unter „Fall“, "
    "Text in Dokumenten unter „Dokumente durchsuchen“."),
    "Mails der Versicherung ohne sicheren Fallbezug ordnen Sie im „Posteingang“ zu.",
    "Die Monatsabrechnungen der Betriebe erstellen Sie unter „Abrechnungen“.",
), ("start", "intake", "board", "case", "search", "posteingang", "settlements"), "staff-board.png")

# --- per role --------------------------------------------------------------------------------------------------------

STAFF = RoleHelp(Audience.STAFF, (
    "Sie führen die Fälle vom Eingang bis zur Zahlung: Sie nehmen Fälle auf, prüfen die Unterlagen, schicken das "
    "Forderungsschreiben innerhalb von 48 Stunden, erfassen Rückfragen der Versicherung und Zahlungen und schließen "
    "den Fall ab. Fristen und Aufgaben merkt sich das Portal für Sie."
), (
    Guide("Den Tag beginnen", (
        "Öffnen Sie „Start“. Oben stehen „Meine Aufgaben“; überfällige sind rot markiert.",
        ("Darunter sehen Sie die offenen Fälle nach Status und die Fälle nach Frist. Bearbeiten Sie "
         "„Überfällig (48 h)“ und „Bald fällig (36 h)“ zuerst."),
        "Ein Klick auf die Fallnummer öffnet den Fall.",
    ), ("start",), "staff-start.png"),
    Guide("Fall aufnehmen", (
        "Öffnen Sie „Neuer Fall“.",
        ("Tragen Sie Schadenart, Versicherung, Nummern, Fahrzeug, Kunde, Vermittler, Schadentag und Beschreibung ein. "
        "Fotos können Sie gleich mit hochladen."),
        ("Klicken Sie auf „Fall anlegen“. Fallnummer, Zuständigkeit und Fristen setzt das Portal. Den Auftrag bekommt "
        "automatisch der passende Partnerbetrieb."),
        "Zeigt das Portal mögliche Dubletten, prüfen Sie diese. Nur bei einem wirklich neuen Fall: „Trotzdem anlegen“.",
    ), ("intake",), "staff-intake.png"),
    Guide("Fälle und Dokumente finden", (
        ("Die „Fallübersicht“ zeigt alle Fälle. Filtern Sie nach Status, Versicherung, Betrieb oder Frist, oder suchen "
        "Sie nach Name, Kennzeichen oder Fallnummer. Dann „Filter anwenden“."),
        "Bei einer Suche zählen die Status-Zahlen nur bis 1.000 („über 1.000“). Mehr Buchstaben grenzen die Suche ein.",
        "Eine bekannte Fallnummer öffnen Sie unter „Fall“: Nummer eingeben, „Öffnen“.",
        "Unter „Dokumente durchsuchen“ finden Sie Text in hochgeladenen Dateien, z. B. eine Rechnungsnummer.",
    ), ("board", "case", "search"), "staff-board.png"),
    Guide("Prüfung und Unterlagen anfordern", (
        "Öffnen Sie den „Fall“. Im Reiter „Übersicht“ steht die Checkliste der nötigen Unterlagen.",
        ("Fehlt etwas, klicken Sie daneben auf „Beim Kunden anfordern“. Der Kunde bekommt eine Mail mit Upload-Link, "
        "und Sie bekommen eine Aufgabe."),
        "Setzen Sie unter „Nächste Schritte“ den Status auf „Prüfung“.",
        "Im Reiter „Dokumente“ laden Sie selbst Dateien hoch (PDF, JPEG, PNG). Jede Datei wird eine neue Version.",
    ), ("case",), "staff-case-documents.png"),
    Guide("Forderungsschreiben senden", (
        ("Tragen Sie im „Fall“ im Reiter „Versicherung & Zahlung“ den geforderten Betrag ein und klicken Sie "
         "„Forderung speichern“."),
        ("Im Reiter „Übersicht“ zeigt der Kasten „Forderungsschreiben“ Empfänger und Betrag. „Text des Schreibens "
        "ansehen“ zeigt das Schreiben."),
        ("Klicken Sie „Forderungsschreiben freigeben und senden“. Der Status wird „Forderung versendet“, darunter "
        "steht der Versandnachweis."),
        "Spätestens 48 Stunden nach Eingang muss das Schreiben raus. Nach 36 Stunden markiert das Portal den Fall.",
    ), ("case",), "staff-case.png"),
    Guide("Post der Versicherung zuordnen", (
        "Mails der Versicherung, die das Portal keinem Fall sicher zuordnen konnte, stehen im „Posteingang“.",
        ("Wählen Sie die Mail unter „Mail bearbeiten“, tragen Sie die Fallnummer ein und klicken Sie „Dem Fall "
        "zuordnen“. Ist es eine Rückfrage, haken Sie „Als Rückfrage der Versicherung erfassen“ an."),
        "Gehört die Mail zu keinem Fall, geben Sie einen Grund ein und klicken „Verwerfen“.",
    ), ("posteingang",), "staff-inbox.png"),
    Guide("Rückfrage der Versicherung", (
        "Kommt die Rückfrage per Mail, ordnen Sie sie im „Posteingang“ zu (siehe oben). Sonst erfassen Sie sie selbst:",
        ("Im „Fall“ öffnen Sie den Reiter „Versicherung & Zahlung“. Unter „Rückfrage der Versicherung erfassen“ tragen "
        "Sie Betreff und Antwortfrist ein und klicken „Rückfrage erfassen“."),
        "Das Portal legt eine Aufgabe mit Frist an und informiert Kunde und Betrieb.",
        "Ist die Rückfrage erledigt, klicken Sie bei ihr auf „Beantwortet“.",
    ), ("posteingang", "case"), "staff-case-insurer.png"),
    Guide("Zahlung erfassen und Fall abschließen", (
        ("Im „Fall“, Reiter „Versicherung & Zahlung“, tragen Sie unter „Zahlungseingang erfassen“ Betrag und Datum "
         "ein und klicken „Zahlung erfassen“. Eine Kürzung rechnet das Portal selbst aus."),
        ("Sind alle Unterlagen da, setzen Sie unter „Nächste Schritte“ den Status auf „Abgeschlossen“. Der Kunde "
        "bekommt dann den Link zur Umfrage."),
        "Zahlt die Versicherung nichts, schließen Sie den Fall mit einer Begründung ab. Stornieren geht nur mit Grund.",
    ), ("case",), "staff-case-insurer.png"),
    Guide("Aufgaben, Notizen und Anrufe", (
        ("Im „Fall“, Reiter „Aufgaben“, haken Sie Erledigtes mit „Erledigt“ ab. Neue Aufgaben: Titel, Fälligkeit, "
        "Zuständigkeit, dann „Aufgabe anlegen“."),
        "Ruft jemand wegen des Stands an, wählen Sie den Anrufer und klicken „Anruf erfassen“.",
        "Im Reiter „Notizen“ schreiben Sie interne Notizen. „Technisch (auch Partner)“ sieht auch der Betrieb.",
    ), ("case",), "staff-case-tasks.png"),
    Guide("Abrechnungen mit den Betrieben", (
        "Öffnen Sie zu Monatsbeginn „Abrechnungen“ und klicken Sie „Abrechnungen für … erstellen und versenden“.",
        "Prüfen Sie die Positionen einer Abrechnung. Jede gibt es auch als PDF.",
        "Nach der Überweisung tragen Sie den Verwendungszweck ein und klicken „Als ausgezahlt markieren“.",
    ), ("settlements",), "staff-settlements.png"),
    ACCOUNT,
))

LAWYER = RoleHelp(Audience.LAWYER, (
    "Sie arbeiten wie die Sachbearbeitung an allen Fällen und sehen zusätzlich die juristischen Notizen. "
    "Forderungsschreiben, die Sie freigeben, tragen Ihre Zeichnung. Fälle in einem Rechtsstreit nehmen Sie mit einer "
    "Aufbewahrungssperre von der Löschung aus."
), (
    Guide("Forderungsschreiben zeichnen", (
        "Auf „Start“ sehen Sie die Fälle nach Frist. Öffnen Sie einen „Fall“.",
        ("Im Reiter „Übersicht“ steht der Kasten „Forderungsschreiben“ mit „Freigabe und Zeichnung durch …“. Lesen Sie "
        "den Text mit „Text des Schreibens ansehen“."),
        "Klicken Sie „Forderungsschreiben freigeben und senden“. Der Versandnachweis erscheint darunter.",
    ), ("start", "case"), "lawyer-claim-letter.png"),
    Guide("Rechtsnotizen", (
        "Im „Fall“, Reiter „Notizen“, wählen Sie als Sichtbarkeit „Juristisch“ und klicken „Notiz speichern“.",
        ("Juristische Notizen sehen nur Jurist/innen und die Administration. Sachbearbeitung, Betriebe und Vermittler "
        "sehen sie nie."),
    ), ("case",), "lawyer-notes.png"),
    Guide("Legal Hold (Aufbewahrungssperre)", (
        "Im „Fall“, Reiter „Übersicht“, öffnen Sie „Aufbewahrungssperre (Legal Hold)“.",
        "Tragen Sie den Grund ein und klicken Sie „Sperre setzen“. Der Fall wird dann nicht nach Fristablauf gelöscht.",
        "Ist der Streit beendet, heben Sie die Sperre mit Grund wieder auf („Sperre aufheben“).",
    ), ("case",), "lawyer-hold.png"),
    CASE_WORK,
    ACCOUNT,
))

MANAGER = RoleHelp(Audience.MANAGER, (
    "Sie sehen alle Fälle, ändern aber nichts. Die Kennzahlen zeigen Durchlaufzeit, 48-Stunden-Quote, Kürzungen, "
    "Erfolg, Zufriedenheit und die faire Verteilung der Aufträge. Sie exportieren Tabellen und den Monatsbericht."
), (
    Guide("Überblick", (
        "„Start“ zeigt die Fälle dieses und des letzten Monats, offene Fälle, Zahlungseingänge und die Durchlaufzeit.",
    ), ("start",), "manager-start.png"),
    Guide("Kennzahlen lesen und filtern", (
        "Öffnen Sie „Kennzahlen“ und wählen Sie den Zeitraum. Jede Zahl wird mit dem Zeitraum davor verglichen.",
        "Grenzen Sie mit Schadenart, Versicherung, Betriebsart, PLZ-Bereich oder Sachbearbeitung ein.",
        "Klicken Sie auf einen Balken oder Punkt: der Link darunter öffnet genau diese Fälle in der „Fallübersicht“.",
        ("Steht dort „Im gewählten Zeitraum gibt es keine Fälle“, wählen Sie einen längeren Zeitraum oder weniger "
        "Filter."),
    ), ("kpis", "board"), "manager-kpis.png"),
    Guide("Exportieren", (
        ("Auf „Kennzahlen“ klappen Sie unter jedem Diagramm „Tabelle und Export“ auf und laden die Zahlen als CSV "
         "oder XLSX herunter."),
        "In der „Fallübersicht“ finden Sie unten „Export“ mit den gefilterten Fällen.",
        "Jeder Export wird protokolliert, denn er enthält personenbezogene Daten.",
    ), ("kpis", "board"), "manager-board.png"),
    Guide("Monatsbericht", (
        "Auf „Kennzahlen“ klicken Sie oben rechts „Monatsbericht (PDF)“.",
        "Wählen Sie den Monat und klicken Sie „Monatsbericht herunterladen“.",
    ), ("kpis",), "manager-report.png"),
    Guide("Fälle und Dokumente ansehen", (
        "Einen Fall öffnen Sie über die „Fallübersicht“ oder unter „Fall“ mit seiner Nummer.",
        "Text in Dokumenten finden Sie unter „Dokumente durchsuchen“.",
    ), ("board", "case", "search"), "staff-board.png"),
    ACCOUNT,
))

ADMIN = RoleHelp(Audience.ADMIN, (
    "Sie verwalten das Portal: Benutzer, Partnerbetriebe, Textbausteine, Postausgang, Webhooks und den Betrieb. "
    "Sie beantworten Auskunfts- und Löschanträge und erstellen Fallchroniken. Dazu können Sie alles, was "
    "Sachbearbeitung und Management können; die Hilfe der anderen Rollen wählen Sie oben aus."
), (
    Guide("Benutzer", (
        ("Öffnen Sie „Benutzer“. Im Reiter „Benutzer anlegen“ wählen Sie die Rolle, bei Betrieb oder Vermittler auch "
        "die Firma, und vergeben ein Startpasswort."),
        ("Im Reiter „Benutzer bearbeiten“ ändern Sie die Rolle, deaktivieren ein Konto, setzen das Passwort oder die "
        "Zwei-Faktor-Anmeldung zurück."),
    ), ("users",), "admin-users.png"),
    Guide("Partnerbetriebe", (
        "Unter „Partnerbetriebe“ stehen im Reiter „Bewerbungen“ die Anträge aus „Partner werden“.",
        ("„Annehmen“ legt Betrieb, Zugang und Probemonat an; die Zugangsdaten gehen per E-Mail hinaus. „Ablehnen“ "
        "schickt dem Betrieb Ihren Grund."),
        ("Im Reiter „Betriebe“ wählen Sie einen Betrieb, ändern Provision und Kapazität („Konditionen speichern“) oder "
        "klicken „Betrieb deaktivieren“. Offene Aufträge gehen dann an andere Betriebe."),
    ), ("partners",), "admin-partners.png"),
    Guide("Textbausteine", (
        "Unter „Textbausteine“ wählen Sie eine Mail, ändern Betreff und Text und klicken „Speichern“.",
        "Die Platzhalter stehen rechts. Die „Vorschau“ zeigt die Mail mit einem echten Fall.",
        "Ein Satz zum Ergebnis, ein Satz „Was jetzt?“ – keine Fachsprache.",
    ), ("templates",), "admin-templates.png"),
    Guide("Postausgang und Webhooks", (
        "Der „Postausgang“ zeigt alle Mails nach Status. Fehlgeschlagene senden Sie mit „Erneut senden“.",
        "Ohne SMTP-Server liegen die Mails als Dateien vor und lassen sich dort herunterladen.",
        "Unter „Webhooks“ melden Sie Adressen an, die bei Ereignissen benachrichtigt werden, und sehen jeden Aufruf.",
    ), ("outbox", "webhooks"), "admin-outbox.png"),
    Guide("Betrieb", (
        "„Betrieb“ zeigt, ob Datenbank, Migrationen, Worker und Postausgang in Ordnung sind.",
        "Rot heißt: handeln. Von dort geht es direkt zum Postausgang und zu den Webhooks.",
    ), ("betrieb",), "admin-ops.png"),
    Guide("Betroffenenrechte", (
        "Unter „Betroffenenrechte“ suchen Sie eine Person nach E-Mail-Adresse oder Name.",
        "„Auskunft erstellen“ liefert alles, was zu ihr gespeichert ist, als JSON und PDF, auch ihre Mails im Posteingang.",
        ("Für eine Löschung prüfen Sie erst die Vorschau, bestätigen und klicken „Endgültig löschen“. Fälle unter "
        "Aufbewahrungssperre und Buchungsbelege bleiben erhalten."),
    ), ("betroffenenrechte",), "admin-subjects.png"),
    Guide("Chroniken und Protokolle", (
        "Unter „Fallchroniken“ wählen Sie Fälle nach Status und Datum oder per Nummer und laden sie als ZIP.",
        "Das „Zugriffsprotokoll“ zeigt, wer wann welchen Fall gesehen oder heruntergeladen hat.",
        "Die „Manipulationsprüfung“ prüft die Ereignisketten aller Fälle.",
    ), ("chronicles", "access-log", "verify"), "admin-chronicles.png"),
    Guide("Fälle importieren", (
        "Unter „Import“ laden Sie eine CSV-Datei mit Altfällen hoch. Die Vorschau nennt fehlerhafte Zeilen mit Grund.",
        "Erst wenn alles stimmt, importieren Sie.",
    ), ("import",), "admin-import.png"),
    Guide("Fallarbeit und Kennzahlen", (
        "„Start“ zeigt Ihnen die Systemübersicht, Kennzahlen und die Fälle nach Frist.",
        ("Für „Neuer Fall“, „Fallübersicht“, „Fall“, „Dokumente durchsuchen“, „Posteingang“ und „Abrechnungen“ lesen "
        "Sie die Hilfe der Sachbearbeitung, für „Kennzahlen“ die Hilfe des Managements."),
    ), ("start", "intake", "board", "case", "search", "posteingang", "settlements", "kpis"), "admin-start.png"),
    Guide("API-Schlüssel der Vermittler", (
        "Unter „API-Schlüssel“ sehen Sie alle Schlüssel mit Besitzer und letzter Nutzung.",
        ("Für einen Vermittler legen Sie einen Schlüssel an, indem Sie sein Login wählen. Der Schlüssel hat nur die "
         "Rechte des Vermittlers; geben Sie ihn auf sicherem Weg weiter."),
        "Einen verlorenen oder nicht mehr gebrauchten Schlüssel sperren Sie mit „Widerrufen“.",
    ), ("api-schluessel",), "broker-api-keys.png"),
    ACCOUNT,
))

PARTNER = RoleHelp(Audience.PARTNER, (
    "Sie bekommen Aufträge aus Ihrer Region, fair verteilt auf alle Betriebe. Sie nehmen sie an oder lehnen ab, "
    "vereinbaren den Termin, laden Rechnung, unterschriebene Abtretungserklärung, Gutachten und Fotos hoch und "
    "sehen Ihre Abrechnungen. Andere Betriebe und deren Aufträge sehen Sie nie."
), (
    Guide("Neue Aufträge sehen", (
        "Neue Aufträge kommen per E-Mail und stehen unter „Start“ und „Meine Aufträge“.",
        "Oben sehen Sie Ihre Aufträge dieser Woche und den Durchschnitt im Netz.",
        "Ein Klick auf die Fallnummer öffnet den Auftrag.",
    ), ("start", "orders"), "partner-orders.png"),
    Guide("Auftrag annehmen oder ablehnen", (
        "Im „Fall“, Reiter „Übersicht“, klicken Sie „Auftrag annehmen“.",
        ("Können Sie ihn nicht übernehmen, tragen Sie einen Grund ein und klicken „Auftrag ablehnen“. Der Auftrag geht "
        "dann an den nächsten Betrieb."),
    ), ("case",), "partner-order.png"),
    Guide("Termin, Abtretung und Rechnung", (
        "Im „Fall“, Reiter „Auftrag“, tragen Sie den Termin mit dem Kunden ein und klicken „Termin speichern“.",
        "Laden Sie die vorausgefüllte Abtretungserklärung herunter und lassen Sie sie vom Kunden unterschreiben.",
        "Nach der Arbeit klicken Sie „Auftrag als durchgeführt melden“.",
        ("Unter „Rechnung“ tragen Sie Nummer, Datum und Beträge ein (bei Glas auch die Selbstbeteiligung), wählen die "
        "Rechnung und die unterschriebene Abtretungserklärung (Gutachter: das Gutachten) und klicken „Rechnung "
        "einreichen“."),
    ), ("case",), "partner-order-tab.png"),
    Guide("Fotos, Dokumente und technische Notizen", (
        "Im „Fall“, Reiter „Dokumente“, wählen Sie die Art, dann die Datei, und klicken „Hochladen“.",
        "Im Reiter „Notizen“ schreiben Sie technische Notizen an die Sachbearbeitung.",
        "Unter „Dokumente durchsuchen“ finden Sie Text in den Dokumenten Ihrer Aufträge.",
    ), ("case", "search"), "partner-documents.png"),
    Guide("Abrechnungen", (
        "Unter „Abrechnungen“ steht jeden Monat Ihre Abrechnung: was gezahlt wurde und was Sie ausgezahlt bekommen.",
        "Jede Abrechnung laden Sie als PDF herunter.",
    ), ("my-settlements",), "partner-settlements.png"),
    Guide("Ihr Betrieb", (
        "Unter „Mein Betrieb“ pflegen Sie Adresse, Kontakt, IBAN, PLZ-Gebiete und Kapazität pro Woche.",
        "Im Urlaub setzen Sie „Pausiert“. Dann bekommen Sie keine neuen Aufträge.",
    ), ("profile",), "partner-profile.png"),
    ACCOUNT,
))

BROKER = RoleHelp(Audience.BROKER, (
    "Sie melden Schäden Ihrer Kunden und verfolgen den Stand, ohne anzurufen. Sie sehen nur die Fälle, die Sie "
    "gemeldet haben, und laden dort das Gutachten für Ihren Kunden herunter."
), (
    Guide("Fall melden", (
        "Öffnen Sie „Fall melden“.",
        "Tragen Sie Schadenart, Versicherung, Fahrzeug, Kunde, Schadentag und Beschreibung ein; Fotos gleich dazu.",
        "Klicken Sie „Fall anlegen“. Sie bekommen die Fallnummer; wir kümmern uns um den Rest.",
    ), ("submit",), "broker-submit.png"),
    Guide("Status verfolgen", (
        "„Start“ zeigt „Meine eingereichten Fälle“ mit dem aktuellen Status.",
        "Ein Klick auf die Fallnummer öffnet den „Fall“ mit allen Schritten im Reiter „Verlauf“.",
    ), ("start", "case"), "broker-start.png"),
    Guide("Gutachten und Unterlagen", (
        "Im „Fall“, Reiter „Dokumente“, öffnen Sie das Gutachten und laden es herunter.",
        "Unterlagen reichen Sie dort mit „Hochladen“ nach.",
        "Unter „Dokumente durchsuchen“ finden Sie Text in den Dokumenten Ihrer Fälle.",
    ), ("case", "search"), "broker-case.png"),
    Guide("API-Schlüssel: Fälle aus Ihrer Software melden", (
        ("Ihr Maklerprogramm kann Fälle direkt über die Schnittstelle melden, den Stand abfragen und Dokumente "
        "hochladen."),
        ("Öffnen Sie „API-Schlüssel“, geben Sie eine Bezeichnung ein (z. B. den Namen des Programms) und klicken Sie "
        "„Schlüssel erzeugen“."),
        "Kopieren Sie den Schlüssel sofort in Ihr Programm. Er wird nur dieses eine Mal angezeigt.",
        "Geht ein Schlüssel verloren, klicken Sie „Widerrufen“ und erzeugen einen neuen.",
        ("Sendet Ihr Programm jede Meldung mit einem eigenen „Idempotency-Key“ (z. B. Ihrer Auftragsnummer), entsteht "
         "auch bei einer wiederholten Meldung nach einer Zeitüberschreitung kein zweiter Fall."),
    ), ("api-schluessel",), "broker-api-keys.png"),
    ACCOUNT,
))

CLIENT = RoleHelp(Audience.CLIENT, (
    "Sie brauchen kein Konto. Mit dem Link aus unserer E-Mail sehen Sie jederzeit, wie weit Ihr Fall ist, und "
    "laden fehlende Unterlagen hoch."
), (
    Guide("Stand Ihres Falls", (
        ("Öffnen Sie den Link aus unserer E-Mail. Die Seite „Stand Ihres Falls“ zeigt den Status, was passiert ist und "
        "was als Nächstes kommt."),
        "Ist der Link abgelaufen, geben Sie Fallnummer und E-Mail-Adresse ein. Wir schicken Ihnen einen neuen Link.",
    ), ("status",), "client-status.png"),
    Guide("Unterlagen hochladen", (
        "Fehlt etwas, steht es auf „Stand Ihres Falls“ unter „Bitte laden Sie diese Unterlagen hoch“.",
        "Wählen Sie die Datei (PDF oder Foto) und klicken Sie „Hochladen“. Sie sehen sofort, dass sie angekommen ist.",
    ), ("status",), "client-status.png"),
    Guide("Ihre Meinung", (
        "Nach dem Abschluss bekommen Sie einen Link zu „Ihre Meinung“.",
        "Geben Sie eine Note von 0 bis 10 und, wenn Sie möchten, einen Satz dazu.",
    ), ("umfrage",), "client-survey.png"),
))

VISITOR = RoleHelp(Audience.VISITOR, (
    "Mitarbeitende, Partnerbetriebe und Vermittler melden sich an. Betriebe, die mitmachen möchten, bewerben sich "
    "unter „Partner werden“. Kunden brauchen kein Konto: Sie nutzen den Link aus unserer E-Mail."
), (
    Guide("Anmelden", (
        "Öffnen Sie „Anmelden“ und geben Sie Benutzername und Passwort ein.",
        ("Bei der ersten Anmeldung richten Sie die Zwei-Faktor-Anmeldung ein: QR-Code mit einer Authenticator-App "
        "scannen, dann den sechsstelligen Code eingeben."),
        ("Nach mehreren Fehlversuchen ist die Anmeldung kurz gesperrt. Passwort vergessen? Die Administration setzt "
        "es zurück."),
        "Neue Partnerbetriebe setzen ihr Passwort über den Link aus der Zugangsmail auf „Passwort festlegen“.",
    ), ("anmelden", "passwort"), "visitor-login.png"),
    Guide("Partner werden", (
        "Öffnen Sie „Partner werden“ und wählen Sie Ihre Betriebsart.",
        ("Tragen Sie Betrieb, Adresse, PLZ-Gebiete, Kapazität und Kontakt ein, lösen Sie die Rechenaufgabe und klicken "
        "Sie „Bewerbung absenden“."),
        "Nach der Freigabe bekommen Sie Ihren Zugang per E-Mail und starten mit einem Probemonat.",
    ), ("partner-werden",), "visitor-apply.png"),
    Guide("Datenschutz und Hilfe", (
        "„Datenschutz“ erklärt, welche Daten wir speichern und wie lange.",
        "Die „Hilfe“ erklärt jede Rolle Schritt für Schritt.",
    ), ("datenschutz", "hilfe"), "visitor-help.png"),
))

GUIDES: dict[Audience, RoleHelp] = {h.audience: h for h in (STAFF, LAWYER, MANAGER, ADMIN, PARTNER, BROKER, CLIENT,
                                                             VISITOR)}


def help_for(audience: Audience) -> RoleHelp:
    """The help of one audience."""
    return GUIDES[Audience(audience)]


def audiences_for(role: Role | None) -> list[Audience]:
    """The helps offered, the reader's own first: a logged-in user may read every role's help; a visitor the
    login/"Partner werden" help and the client's."""
    if role is None:
        return [Audience.VISITOR, Audience.CLIENT]
    own = Audience(str(role))
    return [own, *(a for a in Audience if a != own)]


def image_path(name: str) -> Path:
    """Where a screenshot the help refers to lives."""
    return HELP_DIR / name


def referenced_images() -> set[str]:
    """Every screenshot file some guide shows."""
    return {g.image for h in GUIDES.values() for g in h.guides if g.image}
