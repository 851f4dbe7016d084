"""Invented but realistic German demo data for seed-demo: names, places, plates, VINs, IBANs, texts.

Pure functions of a `random.Random`, so the same seed always gives the same data. Nothing here is real:
mail addresses use example domains, IBANs are random accounts with a correct checksum.
"""

from __future__ import annotations

import random
import string
from bisect import bisect
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from core.enums import DamageType, PartnerKind
from core.timeutil import BERLIN

# --- fast draws (random's randint/choice are pure Python and dominate a large seed) ---------------


def between(rng: random.Random, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi]."""
    return lo + int(rng.random() * (hi - lo + 1))


def pick(rng: random.Random, items: Sequence):
    """A uniform choice."""
    return items[int(rng.random() * len(items))]


def weighted(rng: random.Random, items: Sequence, cum_weights: Sequence[float]):
    """A choice by cumulative weights."""
    return items[bisect(cum_weights, rng.random() * cum_weights[-1])]


# --- places: (postal code, city, plate district, weight) -----------------------------------------

CITIES: list[tuple[str, str, str, int]] = [
    ("01067", "Dresden", "DD", 2), ("01307", "Dresden", "DD", 1), ("04109", "Leipzig", "L", 2),
    ("04277", "Leipzig", "L", 1), ("06108", "Halle (Saale)", "HAL", 1), ("07743", "Jena", "J", 1),
    ("08056", "Zwickau", "Z", 1), ("09111", "Chemnitz", "C", 1), ("10115", "Berlin", "B", 3),
    ("10245", "Berlin", "B", 3), ("10437", "Berlin", "B", 3), ("12043", "Berlin", "B", 3),
    ("13347", "Berlin", "B", 2), ("14467", "Potsdam", "P", 1), ("15230", "Frankfurt (Oder)", "FF", 1),
    ("17489", "Greifswald", "HGW", 1), ("18055", "Rostock", "HRO", 1), ("19053", "Schwerin", "SN", 1),
    ("20095", "Hamburg", "HH", 3), ("21073", "Hamburg", "HH", 2), ("22765", "Hamburg", "HH", 3),
    ("23552", "Lübeck", "HL", 1), ("24103", "Kiel", "KI", 1), ("25746", "Heide", "HEI", 1),
    ("26122", "Oldenburg", "OL", 1), ("27568", "Bremerhaven", "HB", 1), ("28195", "Bremen", "HB", 2),
    ("29221", "Celle", "CE", 1), ("30159", "Hannover", "H", 2), ("31134", "Hildesheim", "HI", 1),
    ("32423", "Minden", "MI", 1), ("33602", "Bielefeld", "BI", 1), ("34117", "Kassel", "KS", 1),
    ("35037", "Marburg", "MR", 1), ("36037", "Fulda", "FD", 1), ("37073", "Göttingen", "GÖ", 1),
    ("38100", "Braunschweig", "BS", 1), ("39104", "Magdeburg", "MD", 1), ("40210", "Düsseldorf", "D", 2),
    ("41061", "Mönchengladbach", "MG", 1), ("42103", "Wuppertal", "W", 1), ("44135", "Dortmund", "DO", 2),
    ("45127", "Essen", "E", 2), ("46045", "Oberhausen", "OB", 1), ("47051", "Duisburg", "DU", 1),
    ("48143", "Münster", "MS", 1), ("49074", "Osnabrück", "OS", 1), ("50667", "Köln", "K", 3),
    ("51373", "Leverkusen", "LEV", 1), ("52062", "Aachen", "AC", 1), ("53111", "Bonn", "BN", 1),
    ("54290", "Trier", "TR", 1), ("55116", "Mainz", "MZ", 1), ("56068", "Koblenz", "KO", 1),
    ("57072", "Siegen", "SI", 1), ("58095", "Hagen", "HA", 1), ("59065", "Hamm", "HAM", 1),
    ("60311", "Frankfurt am Main", "F", 3), ("61348", "Bad Homburg", "HG", 1), ("63065", "Offenbach am Main", "OF", 1),
    ("64283", "Darmstadt", "DA", 1), ("65183", "Wiesbaden", "WI", 1), ("66111", "Saarbrücken", "SB", 1),
    ("67059", "Ludwigshafen am Rhein", "LU", 1), ("68159", "Mannheim", "MA", 1), ("69117", "Heidelberg", "HD", 1),
    ("70173", "Stuttgart", "S", 3), ("71638", "Ludwigsburg", "LB", 1), ("72070", "Tübingen", "TÜ", 1),
    ("73728", "Esslingen am Neckar", "ES", 1), ("74072", "Heilbronn", "HN", 1), ("75175", "Pforzheim", "PF", 1),
    ("76133", "Karlsruhe", "KA", 2), ("77652", "Offenburg", "OG", 1), ("78462", "Konstanz", "KN", 1),
    ("79098", "Freiburg im Breisgau", "FR", 1), ("80331", "München", "M", 3), ("81667", "München", "M", 3),
    ("82110", "Germering", "FFB", 1), ("83022", "Rosenheim", "RO", 1), ("84028", "Landshut", "LA", 1),
    ("85049", "Ingolstadt", "IN", 1), ("86150", "Augsburg", "A", 2), ("87435", "Kempten (Allgäu)", "KE", 1),
    ("88212", "Ravensburg", "RV", 1), ("89073", "Ulm", "UL", 1), ("90403", "Nürnberg", "N", 2),
    ("91052", "Erlangen", "ER", 1), ("92224", "Amberg", "AM", 1), ("93047", "Regensburg", "R", 1),
    ("94032", "Passau", "PA", 1), ("95444", "Bayreuth", "BT", 1), ("96047", "Bamberg", "BA", 1),
    ("97070", "Würzburg", "WÜ", 1), ("98527", "Suhl", "SHL", 1), ("99084", "Erfurt", "EF", 1),
]
CITY_CUM = list(accumulate(c[3] for c in CITIES))

STREETS = [
    "Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Dorfstraße", "Bergstraße", "Lindenstraße",
    "Kirchstraße", "Waldstraße", "Ringstraße", "Goethestraße", "Schillerstraße", "Mozartstraße", "Am Markt",
    "Birkenweg", "Rosenweg", "Friedrichstraße", "Kastanienallee", "Mühlenweg", "Feldstraße", "Wiesenweg",
    "Poststraße", "Jahnstraße", "Talstraße", "Eichendorffstraße", "Lessingstraße", "Beethovenstraße",
    "Am Sportplatz", "Industriestraße", "Königsallee", "Luisenstraße", "Uhlandstraße", "Parkstraße",
]

FIRST_NAMES = [
    "Anna", "Maria", "Sophie", "Laura", "Julia", "Lena", "Katharina", "Sarah", "Lisa", "Hannah", "Emma", "Mia",
    "Lea", "Johanna", "Sabine", "Petra", "Andrea", "Claudia", "Monika", "Ursula", "Gabriele", "Birgit", "Ayşe",
    "Elif", "Natalia", "Svetlana", "Jana", "Nina", "Carina", "Heike", "Michael", "Thomas", "Andreas", "Stefan",
    "Christian", "Markus", "Daniel", "Alexander", "Sebastian", "Jan", "Tobias", "Lukas", "Felix", "Jonas", "Paul",
    "Maximilian", "Peter", "Klaus", "Jürgen", "Wolfgang", "Uwe", "Frank", "Mehmet", "Ali", "Nikola", "Marco",
    "Florian", "Dennis", "Matthias", "Holger",
]

LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
    "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
    "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel",
    "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
    "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher",
    "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas",
    "Schreiber", "Graf", "Yılmaz", "Kaya", "Demir", "Nowak", "Kowalski", "Öztürk", "Popović", "Wójcik",
]

MAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example", "post.example"]
MOBILE_PREFIXES = ["0151", "0152", "0157", "0160", "0162", "0170", "0171", "0172", "0176", "0177"]

_TRANSLIT = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ş": "s", "ı": "i", "ć": "c", "ó": "o", "é": "e"}
)


def ascii_name(name: str) -> str:
    """`Müller` -> `mueller`, for mail addresses."""
    return "".join(ch for ch in name.lower().translate(_TRANSLIT) if ch in string.ascii_lowercase)


_ASCII = {name: ascii_name(name) for name in FIRST_NAMES + LAST_NAMES}


def city_index(rng: random.Random) -> int:
    """Where a client lives: an index into CITIES, bigger cities more often."""
    return bisect(CITY_CUM, rng.random() * CITY_CUM[-1])


def person(rng: random.Random, city: tuple[str, str, str, int]) -> dict:
    """A client in that city: first/last name, mail, phone, street, postal code and city."""
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    postal_code, city_name = city[0], city[1]
    f, la = _ASCII[first], _ASCII[last]
    style, n = between(rng, 0, 3), between(rng, 1, 99)
    local = (f"{f}.{la}", f"{f[0]}.{la}", f"{f}{la}{n}", f"{la}.{f}{n}")[style]
    return {
        "first_name": first, "last_name": last, "email": f"{local}@{pick(rng, MAIL_DOMAINS)}",
        "phone": f"{pick(rng, MOBILE_PREFIXES)} {between(rng, 1_000_000, 99_999_999)}",
        "street": f"{pick(rng, STREETS)} {between(rng, 1, 120)}", "postal_code": postal_code, "city": city_name,
    }


# --- vehicles ----------------------------------------------------------------------------------

_PLATE_LETTERS = "ABCDEFGHIJKLMNOPRSTUVWXYZ"
_BANNED_PLATE_LETTERS = {"HJ", "KZ", "NS", "SA", "SS"}


def plate(rng: random.Random, district: str) -> str:
    """A German plate like `B-AB 1234`, `M-XY 77E`: at most 8 characters (suffix included) besides - and space."""
    while True:
        letters = pick(rng, _PLATE_LETTERS) + (pick(rng, _PLATE_LETTERS) if rng.random() < 0.75 else "")
        if letters not in _BANNED_PLATE_LETTERS:
            break
    suffix = weighted(rng, ("", "E", "H"), (95, 99, 100))  # electric, historic
    max_digits = min(4, 8 - len(district) - len(letters) - len(suffix))
    digits = str(between(rng, 1, 10 ** between(rng, 1, max_digits) - 1))
    return f"{district}-{letters} {digits}{suffix}"


VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_WMIS = ["WVW", "WBA", "WDD", "W1K", "WAU", "WF0", "W0L", "VF1", "VF3", "TMB", "VSS", "ZFA", "JTD", "KMH", "WP0",
         "YV1", "SAL", "JMZ"]
_MODEL_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / North American check digit (position 9) of a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin(rng: random.Random) -> str:
    """A 17-character VIN without I/O/Q whose check digit at position 9 is correct."""
    body = (pick(rng, _WMIS) + "".join(rng.choices(VIN_ALPHABET, k=5)) + "0" + pick(rng, _MODEL_YEARS)
            + pick(rng, VIN_ALPHABET) + f"{between(rng, 0, 999_999):06d}")
    return body[:8] + vin_check_digit(body) + body[9:]


# --- money and organisations -------------------------------------------------------------------

BANK_CODES = ["10050000", "20050550", "70150000", "37050198", "50050201", "60050101", "37040044", "50070010"]


def iban(rng: random.Random) -> str:
    """A German IBAN (DE, 8-digit bank code, 10-digit account) with a correct mod-97 checksum."""
    bban = rng.choice(BANK_CODES) + f"{rng.randint(1, 9_999_999_999):010d}"
    check = 98 - int(bban + "131400") % 97  # "DE00" moved to the end, letters as numbers (D=13, E=14)
    return f"DE{check:02d}{bban}"


#: (name, claims mail, claim-number prefix, weight)
INSURERS = [
    ("HUK-COBURG", "schaden@huk.example", "HUK", 20), ("Allianz", "schaden@allianz.example", "AZ", 14),
    ("AXA", "schaden@axa.example", "AXA", 8), ("ERGO", "schaden@ergo.example", "ERG", 7),
    ("R+V", "schaden@ruv.example", "RV", 8), ("LVM", "schaden@lvm.example", "LVM", 7),
    ("DEVK", "schaden@devk.example", "DEV", 7), ("Generali", "schaden@generali.example", "GEN", 6),
    ("VHV", "schaden@vhv.example", "VHV", 6), ("Provinzial", "schaden@provinzial.example", "PRO", 6),
    ("Gothaer", "schaden@gothaer.example", "GOT", 4), ("HDI", "schaden@hdi.example", "HDI", 7),
]

#: (name, company, mail, phone, weight); the first one is broker1's agency.
BROKERS = [
    ("Versicherungsbüro Vogel", "Stefan Vogel e. K.", "info@vb-vogel.example", "030 4471230", 35),
    ("Versicherungsbüro Lehmann & Söhne", "Lehmann & Söhne OHG", "kontakt@lehmann-soehne.example", "040 2298410", 20),
    ("Versicherungsbüro Özdemir", "Özdemir Finanz & Versicherung GmbH", "buero@oezdemir.example", "0221 5589120", 20),
    ("Versicherungsbüro Hartmann", "Hartmann Assekuranz GmbH", "service@hartmann-vers.example", "089 6122740", 15),
    ("Versicherungsbüro Brandt", "Brandt Versicherungsmakler GmbH", "post@brandt-makler.example", "0711 3390650", 10),
]

#: Per kind, two partners: the first serves the north and east, the second the south and west (overlapping).
#: (kind, name, street, postal code, city, mail, regions from-to, weekly capacity, commission in basis points)
PARTNERS = [
    (PartnerKind.GLASS, "Autoglas Nordost GmbH", "Storkower Straße 140", "10407", "Berlin",
     "auftrag@autoglas-nordost.example", (1, 52), 60, 1000),
    (PartnerKind.GLASS, "Autoglas Rhein-Main GmbH", "Hanauer Landstraße 291", "60314", "Frankfurt am Main",
     "auftrag@autoglas-rhein-main.example", (48, 99), 55, 1000),
    (PartnerKind.APPRAISER, "Kfz-Sachverständigenbüro Hansen & Partner", "Billstraße 82", "20539", "Hamburg",
     "gutachten@sv-hansen.example", (1, 55), 40, 1500),
    (PartnerKind.APPRAISER, "Kfz-Sachverständigenbüro Dr. Albrecht", "Landsberger Straße 302", "80687", "München",
     "gutachten@sv-albrecht.example", (45, 99), 35, 1500),
    (PartnerKind.WORKSHOP, "Karosserie & Lack Schmidt GmbH", "Torgauer Straße 231", "04347", "Leipzig",
     "werkstatt@karosserie-schmidt.example", (1, 50), 25, 1200),
    (PartnerKind.WORKSHOP, "Karosserie & Lack Südwest GmbH", "Heilbronner Straße 360", "70469", "Stuttgart",
     "werkstatt@karosserie-suedwest.example", (46, 99), 20, 1200),
]


def regions(first: int, last: int) -> str:
    """`01,02,…,52`: the two-digit postal prefixes from first to last."""
    return ",".join(f"{p:02d}" for p in range(first, last + 1))


# --- case texts --------------------------------------------------------------------------------

DESCRIPTIONS: dict[DamageType, list[str]] = {
    DamageType.GLASS: [
        "Steinschlag auf der A{road} bei {city}, Riss in der Windschutzscheibe im Sichtfeld des Fahrers.",
        "Steinschlag durch vorausfahrenden Lkw, Einschlag in der Windschutzscheibe unten rechts.",
        "Seitenscheibe hinten links bei einem Einbruchsversuch in {city} eingeschlagen.",
        "Windschutzscheibe durch einen herabfallenden Ast auf dem Parkplatz gesprungen.",
        "Riss in der Frontscheibe nach Frostnacht, ausgehend von einem älteren Steinschlag.",
        "Heckscheibe beim Beladen durch eine Leiter beschädigt.",
    ],
    DamageType.ACCIDENT: [
        "Auffahrunfall an einer Ampel in {city}; der Unfallgegner ist auf das stehende Fahrzeug aufgefahren.",
        "Beim Ausparken hat der Unfallgegner die Fahrertür und den Kotflügel gestreift.",
        "Vorfahrtsverletzung an einer Kreuzung in {city}, Schaden an Front und Stoßfänger.",
        "Der Unfallgegner ist beim Spurwechsel auf der A{road} seitlich in das Fahrzeug gefahren.",
        "Parkschaden: Heckstoßfänger eingedrückt, der Verursacher hat einen Zettel hinterlassen.",
        "Rückwärts aus einer Einfahrt gefahrener Transporter beschädigte die Beifahrerseite.",
    ],
    DamageType.OTHER: [
        "Marderschaden an Zündkabeln und Kühlerschläuchen.",
        "Hagelschaden an Motorhaube, Dach und Kofferraumdeckel nach Unwetter in {city}.",
        "Wildunfall mit einem Reh auf der Landstraße bei {city}, Frontschaden.",
        "Vandalismus: Lack rundum zerkratzt, Außenspiegel abgetreten.",
        "Sturmschaden: umgestürzter Bauzaun beschädigte Tür und Seitenwand.",
    ],
}

QUERY_SUBJECTS = [
    "Reparaturrechnung im Original angefordert", "Fotos des Schadens angefordert",
    "Nachweis der Vorsteuerabzugsberechtigung erbeten", "Unfallskizze und Zeugenangaben erbeten",
    "Kopie der Zulassungsbescheinigung Teil I angefordert", "Stellungnahme zur Schadenhöhe erbeten",
    "Gutachten im Original angefordert", "Abtretungserklärung mit Unterschrift angefordert",
]

REFUSAL_REASONS = [
    "Haftung bestritten: der Unfallgegner schildert den Hergang anders.",
    "Kein Deckungsschutz: der Vertrag war zum Schadenzeitpunkt gekündigt.",
    "Schaden vor Vertragsbeginn entstanden.",
    "Reparatur laut Gegengutachten der Versicherung nicht erforderlich.",
    "Schaden zu spät gemeldet; die Versicherung beruft sich auf die Obliegenheitsverletzung.",
]

CANCEL_REASONS = [
    "Mandant hat den Auftrag zurückgezogen.", "Doppelt erfasst (Dublette).",
    "Mandant reguliert den Schaden privat.", "Versicherung reguliert direkt mit dem Mandanten.",
    "Fahrzeug wurde vor der Besichtigung verkauft.",
]

SURVEY_COMMENTS = {
    "good": ["Schnelle und unkomplizierte Abwicklung, vielen Dank!", "Sehr freundlich, alles lief reibungslos.",
             "Ich wusste immer, wie der Stand ist. Gerne wieder.", "Top Service, Termin in der Werkstatt sofort."],
    "mid": ["Hat etwas gedauert, aber am Ende hat alles geklappt.", "Insgesamt in Ordnung.",
            "Die Rückfrage der Versicherung hat die Sache verzögert."],
    "bad": ["Zu lange Bearbeitungszeit.", "Die Kürzung der Versicherung ist für mich nicht nachvollziehbar.",
            "Ich musste mehrfach anrufen, um den Stand zu erfahren."],
}


# --- when things happen (epoch seconds; each case keeps the Berlin UTC offset of its intake day) -------

DAY = 86_400
HOUR = 3_600
OFFICE_OPEN, OFFICE_CLOSE = 8 * HOUR, 18 * HOUR  # Berlin, Monday to Friday


def office_time(rng: random.Random, ts: int, offset: int) -> int:
    """`ts` if it falls in office hours, else a moment in the first 90 minutes after the next opening."""
    day, sec = divmod(ts + offset, DAY)
    weekday = (day + 3) % 7  # epoch day 0 was a Thursday
    if weekday < 5 and OFFICE_OPEN <= sec < OFFICE_CLOSE:
        return ts
    if weekday >= 5 or sec >= OFFICE_CLOSE:
        day += 1
        while (day + 3) % 7 >= 5:
            day += 1
    return day * DAY + OFFICE_OPEN + between(rng, 0, 90 * 60) - offset


def arrivals(rng: random.Random, n: int, today: date) -> Iterator[tuple[int, int, int]]:
    """(received_at, Berlin UTC offset, Berlin year) of n cases over the 365 days before today, in order.

    Weekdays carry most cases (90 % in office hours), weekends few; volume grows a little over the year.
    """
    days = [today - timedelta(days=365 - i) for i in range(365)]
    weights = [(1.0, 1.0, 1.0, 1.0, 0.9, 0.2, 0.05)[d.weekday()] * (0.8 + 0.4 * i / 364) for i, d in enumerate(days)]
    total, acc, done = sum(weights), 0.0, 0
    for day, weight in zip(days, weights):
        acc += weight
        count = round(n * acc / total) - done
        done += count
        if not count:
            continue
        noon = datetime.combine(day, time(12), tzinfo=BERLIN)
        offset = int(noon.utcoffset().total_seconds())
        midnight = int(noon.timestamp()) - 12 * HOUR  # exact except before 3 a.m. on DST days (none here)
        if day.weekday() < 5:
            secs = [between(rng, 7 * HOUR + 1800, 18 * HOUR + 1800) if rng.random() < 0.9
                    else between(rng, 18 * HOUR + 1800, 22 * HOUR) for _ in range(count)]
        else:
            secs = [between(rng, 9 * HOUR, 21 * HOUR) for _ in range(count)]
        for sec in sorted(secs):
            yield midnight + sec, offset, day.year


_CLAIM_CENTS = {DamageType.GLASS: (30_000, 150_000), DamageType.ACCIDENT: (150_000, 1_200_000),
                DamageType.OTHER: (50_000, 500_000)}
_SCORE_CUM = {"fast": list(accumulate([1, 1, 1, 1, 1, 2, 3, 7, 14, 30, 39])),
              "slow": list(accumulate([2, 2, 3, 3, 4, 6, 8, 14, 20, 20, 18]))}


def plan_steps(
    rng: random.Random, r: int, offset: int, damage: DamageType, horizon: int
) -> list[tuple[int, str, dict]]:
    """The lifecycle (§4) of a case received at `r`, as (time, step, data) in time order, cut at `horizon`.

    Review soon after intake; the claim letter within 48 h for most (late in the evening if need be), else
    2–5 days; insurer queries answered within days; then payment 2–6 weeks after the letter (30 % cut by
    5–30 %) and closing a few days later, or the insurer's refusal; a survey answer for 40 % of paid cases;
    4 % cancelled from whatever open status they are in. A step counts as done when it and the second event
    written one second later (status change after a query, answer or payment) lie before the horizon.
    """
    review = office_time(rng, r + between(rng, 600, 3 * HOUR), offset)
    due = r + 48 * HOUR - 60
    if rng.random() < 0.89:
        letter = office_time(rng, review + between(rng, 1800, 30 * HOUR), offset)
        if letter >= due and review + 1800 < due:
            letter = between(rng, review + 1800, due)
    else:
        letter = office_time(rng, max(review + 1800, r + 48 * HOUR + between(rng, HOUR, 72 * HOUR)), offset)
    claimed = between(rng, *_CLAIM_CENTS[damage])
    steps = [(review, "review", {}), (letter, "claim_sent", {"claimed": claimed})]
    last = letter
    for _ in range(weighted(rng, (0, 1, 2), (62, 92, 100))):
        query = office_time(rng, last + between(rng, 3 * DAY, 14 * DAY), offset)
        answer = office_time(rng, query + between(rng, DAY, 6 * DAY), offset)
        subject = pick(rng, QUERY_SUBJECTS)
        steps += [(query, "query", {"subject": subject}), (answer, "answer", {"subject": subject})]
        last = answer
    if rng.random() < 0.09:  # the insurer finally refuses, sometimes while a query is still open
        if steps[-1][1] == "answer" and rng.random() < 0.5:
            steps.pop()
            last = steps[-1][0] + 1
        refused = office_time(rng, last + between(rng, 14 * DAY, 42 * DAY), offset)
        steps.append((refused, "refuse", {"reason": pick(rng, REFUSAL_REASONS)}))
    else:
        paid = max(letter + between(rng, 14 * DAY, 42 * DAY), last + between(rng, 2 * DAY, 10 * DAY))
        paid = office_time(rng, paid, offset)
        cut = rng.uniform(0.05, 0.30) if rng.random() < 0.30 else 0.0
        steps.append((paid, "pay", {"claimed": claimed, "paid": round(claimed * (1 - cut))}))
        closed = office_time(rng, paid + between(rng, DAY, 6 * DAY), offset)
        steps.append((closed, "close", {}))
        if rng.random() < 0.40:
            slow = letter - r > 48 * HOUR or cut > 0
            score = weighted(rng, range(11), _SCORE_CUM["slow" if slow else "fast"])
            band = "good" if score >= 9 else "mid" if score >= 7 else "bad"
            comment = pick(rng, SURVEY_COMMENTS[band]) if rng.random() < 0.35 else ""
            steps.append((closed + between(rng, HOUR, 5 * DAY), "survey", {"score": score, "comment": comment}))
    if rng.random() < 0.04:
        cancel = office_time(rng, r + between(rng, 1200, 10 * DAY), offset)
        kept = [s for s in steps if s[0] + 1 < cancel]
        if not any(s[1] in ("close", "refuse") for s in kept):
            steps = kept + [(cancel, "cancel", {"reason": pick(rng, CANCEL_REASONS)})]
    return [s for s in steps if s[0] + 1 < horizon]
