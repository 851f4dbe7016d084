"""Benchmark of the case chronicle PDF (Fallchronik, §11): the pure builder `reports.chronicle.chronicle_pdf` on
synthetic chronicle data with 1,000 and 10,000 events (targets: ≤ 0.5 s and ≤ 3 s).

    python bench/chronicle.py [--events 1000 10000] [--runs 3]

Prints one line per size: the median wall time of the runs in a warm process (a 10-event PDF built first,
untimed), the median CPU time (which other load on the machine does not inflate), the page count and the PDF
size. The events look like real ones: a mix of one-line and multi-line German details, some long.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader

from reports.chronicle import ChronicleData, ChronicleEvent, chronicle_pdf

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACTORS = (("Clara Clerk", "Sachbearbeitung"), ("Lars Lawyer", "Rechtsabteilung"), ("System", "System"),
          ("Glas Özdemir GmbH", "Partner"))
KINDS = (
    ("Status geändert", "Status: Prüfung → Forderung versendet"),
    ("Dokument hochgeladen", "Art: Rechnung\nVersion: 2\nDatei: rechnung-2026-0042.pdf\nGröße: 184 KB"),
    ("Notiz hinzugefügt", "Sichtbarkeit: Intern"),
    ("Zahlung erfasst", "Status: Forderung versendet → Zahlung eingegangen\nGezahlt: 987,65 €"),
    ("Status geändert", "Status: Prüfung → Storniert\nBegründung: " + "doppelt erfasst, siehe Vorgang <alt> & neu "
     * 6),
    ("Partner zugewiesen", "Partner: Glas Özdemir GmbH\nZuweisung: manuell durch die Sachbearbeitung"),
)


def synthetic(events: int) -> ChronicleData:
    """A case with `events` events of mixed kinds and lengths."""
    return ChronicleData(
        number="SP-2026-000123", status="Prüfung", damage_type="Glasschaden", insurer="HUK-COBURG",
        insurer_claim_number="KS-99-1", policy_number="VS-4711", client="Jörg Weiß", plate="M-ÄB 123",
        broker="Büro Eins", partner="Glas Özdemir GmbH", clerk="Clara Clerk", received_at=START,
        claim_letter_sent_at=START + timedelta(hours=20), paid_at=None, closed_at=None, cancelled_at=None,
        amount_claimed_cents=123_456, amount_paid_cents=None, status_reason="",
        events=tuple(
            ChronicleEvent(seq=n, at=START + timedelta(minutes=7 * n), actor=ACTORS[n % len(ACTORS)][0],
                           role=ACTORS[n % len(ACTORS)][1], action=KINDS[n % len(KINDS)][0],
                           details=KINDS[n % len(KINDS)][1])
            for n in range(1, events + 1)
        ),
        chain_ok=True, chain_broken_at=None, chain_head="3f" * 32, generated_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chronicle_pdf(synthetic(10))  # imports, fonts and styles warm
    for count in args.events:
        data = synthetic(count)
        times, cpu = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            pdf = chronicle_pdf(data)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        print(f"{count:>6} events: median {statistics.median(times):.3f} s of {args.runs} "
              f"(min {min(times):.3f}, max {max(times):.3f}; CPU {statistics.median(cpu):.3f} s), {pages} pages, {len(pdf) / 1024:.0f} KB", flush=True)


if __name__ == "__main__":
    main()
