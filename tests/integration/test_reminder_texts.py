"""What the reminder and digest mails say, on SQLite and PostgreSQL: the silent insurer has its own text (not the
claim-letter deadline's), and the digest names what it lists: due things and yesterday's changes."""

from datetime import timedelta

from core.enums import CaseStatus
from core.i18n import t
from core.timeutil import format_date, now, to_berlin
from tests.integration.test_digest import berlin, digest, due_things_for
from tests.integration.test_reminders import case_of, clerk, mails, remind


def test_the_silent_insurer_mail_asks_to_follow_up_and_names_the_last_message(engine):
    sent = now() - timedelta(days=15)
    case_of(engine, clerk(engine), received_at=sent - timedelta(days=1), status=CaseStatus.CLAIM_SENT, sent_at=sent)
    remind(engine, now())
    [mail] = mails(engine)
    assert (mail.template_key, mail.subject.split(":")[0]) == ("insurer_silence", "Versicherung antwortet nicht")
    assert "seit 14 Tagen nicht geantwortet" in mail.body and "Bitte fassen Sie bei der Versicherung nach" in mail.body
    assert f"am {format_date(to_berlin(sent).date())} raus" in mail.body
    assert "Forderung bis" not in mail.body


def test_the_claim_letter_deadline_keeps_its_own_mail(engine):
    case_of(engine, clerk(engine), received_at=now() - timedelta(hours=40))
    remind(engine, now())
    [mail] = mails(engine)
    assert mail.template_key == "deadline_warning" and "muss die Forderung bis" in mail.body


def test_the_digest_lists_due_things_under_their_heading_and_claims_no_changes_since_the_last_one(engine):
    due_things_for(engine, clerk(engine, digest_mode=True))
    digest(engine, berlin(1, 8))
    [mail] = mails(engine)
    assert mail.body.count(f"{t('digest.section_due')}\n- ") == 1
    assert t("digest.section_changes") not in mail.body
    assert "seit der letzten Zusammenfassung" not in mail.body
