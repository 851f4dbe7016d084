"""The case page's sections: each renders part of a CaseWorkspace and runs one core action on submit."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core import assignment, cases, casework, correspondence, notes, retention, tasks
from core.casework import CaseWorkspace
from core.client_portal import client_requestable
from core.documents import download_document, preview_png
from core.enums import OPEN_STATUSES, CaseStatus, DocumentKind
from core.errors import SchadenportalError
from core.i18n import label, t
from core.money import format_eur, parse_eur
from core.permissions import Action, Actor, can
from core.timeline import event_details, event_label, role_label
from core.timeutil import format_date, format_dt, now, to_berlin
from core.ui import widgets
from core.ui.resources import settings, write_session
from core.ui.share_section import share_section

NOTICE = "case_notice"


def act(action: Callable, success: str) -> None:
    """Run one case action as one transaction (see core.ui.widgets.act)."""
    widgets.act(action, success, notice_key=NOTICE)


def facts(ws: CaseWorkspace) -> None:
    v = ws.view
    rows = {
        t("field.damage_type"): label(v.damage_type), t("field.insurer"): v.insurer,
        t("field.policy_number"): v.policy_number, t("field.insurer_claim_number"): v.insurer_claim_number,
        t("field.client"): v.client_name, t("field.client_contact"): v.client_contact, t("field.plate"): v.plate,
        t("field.vin"): v.vin, t("field.incident_date"): format_date(v.incident_date), t("field.broker"): v.broker,
        t("field.partner"): v.partner, t("field.assignment"): v.assignment_reason, t("field.clerk"): v.clerk, t("field.received_at"): format_dt(v.received_at),
        t("field.claim_due"): format_dt(v.claim_due_at), t("field.deadline"): label(v.deadline),
        t("field.claim_letter_sent_at"): format_dt(v.claim_letter_sent_at),
        t("field.amount_claimed"): format_eur(v.amount_claimed_cents),
        t("field.amount_paid"): format_eur(v.amount_paid_cents), t("field.cut"): format_eur(v.cut_cents),
        t("field.paid_at"): format_dt(v.paid_at), t("field.closed_at"): format_dt(v.closed_at),
        t("field.status_reason"): v.status_reason,
    }
    shown = [{t("case.fact"): k, t("case.value"): val} for k, val in rows.items() if val not in ("", "–")]
    st.dataframe(shown, hide_index=True, width="stretch", height=35 * (len(shown) + 1) + 3)
    st.caption(t("field.description"))
    st.text(v.incident_description or "–")


def checklist(actor: Actor, ws: CaseWorkspace) -> None:
    """The documents this damage type needs; a missing one the client can send is requested by mail."""
    if not ws.checklist:
        return
    st.caption(t("checklist.title"))
    requestable = set(client_requestable(item.kind for item in ws.checklist)) if ws.may_work else set()
    open_case = ws.view.status in OPEN_STATUSES
    for item in ws.checklist:
        text, button = st.columns([4, 2], vertical_alignment="center")
        text.text(("✅ " if item.present else "⬜ ") + label(item.kind))
        if not item.present and open_case and item.kind in requestable and button.button(
                t("checklist.request"), key=f"request_{item.kind}", help=t("checklist.request_help")):
            act(lambda s, kind=item.kind: tasks.request_document(s, actor=actor, number=ws.view.number, kind=kind),
                t("checklist.requested", doc=label(item.kind)))


def client_legal_basis(actor: Actor, ws: CaseWorkspace) -> None:
    """The client's legal basis (Art. 6 DSGVO) with its date, for the back office; staff, lawyers and admins change
    it (e.g. consent given or withdrawn), which goes into the timeline."""
    from core import subject_rights
    from core.enums import LegalBasis
    from core.ui.resources import read_session

    with read_session() as s:
        basis = subject_rights.case_legal_basis(s, actor=actor, number=ws.view.number)
    if basis is None:
        return
    st.caption(t("basis.title"))
    if basis.pseudonymised:
        st.text(t("basis.pseudonymised"))
        return
    st.text(t("basis.current", basis=label(basis.basis), since=format_date(basis.since)))
    if not basis.may_change:
        return
    with st.expander(t("basis.save")), st.form("legal_basis"):
        st.caption(t("basis.help"))
        choice = st.selectbox(t("basis.basis"), list(LegalBasis), index=list(LegalBasis).index(basis.basis),
                              format_func=label)
        since = st.date_input(t("basis.since"), value=basis.since, max_value=to_berlin(now()).date(),
                              format="DD.MM.YYYY")
        if st.form_submit_button(t("basis.save")):
            act(lambda s: subject_rights.set_legal_basis(s, actor=actor, number=ws.view.number, basis=choice,
                                                         since=since),
                t("basis.saved"))


def legal_hold(actor: Actor, ws: CaseWorkspace) -> None:
    """Admins and lawyers exempt a case from the retention purge (or release it), with a reason."""
    if not can(actor, Action.SET_LEGAL_HOLD):
        return
    v = ws.view
    with st.expander(t("hold.title_on") if v.legal_hold else t("hold.title_off")):
        st.caption(t("hold.help"))
        with st.form("legal_hold"):
            reason = st.text_input(t("hold.reason"), max_chars=300)
            if st.form_submit_button(t("hold.release") if v.legal_hold else t("hold.set")):
                act(lambda s: retention.set_case_legal_hold(s, actor=actor, number=v.number, on=not v.legal_hold,
                                                            reason=reason),
                    t("hold.released") if v.legal_hold else t("hold.done"))


def next_steps(actor: Actor, ws: CaseWorkspace) -> None:
    v = ws.view
    if not v.next_statuses:
        st.caption(t("case.no_next_steps"))
        return
    for target in v.next_statuses:
        if target == CaseStatus.PAID:
            continue  # recorded with amount and date in the payment section
        if target == CaseStatus.INSURER_QUERY:
            continue  # recorded with subject and deadline in the insurer section
        with st.expander(t("case.change_to", status=label(target))):
            with st.form(f"status_{target}"):
                needs_reason = target == CaseStatus.CANCELLED or (
                    target == CaseStatus.CLOSED and v.status != CaseStatus.PAID
                )
                reason = st.text_input(t("case.reason")) if needs_reason else ""
                if st.form_submit_button(label(target)):
                    act(lambda s: cases.change_status(s, actor=actor, number=v.number, to=target, reason=reason,
                                                      expected_version=v.version),
                        t("case.status_changed", status=label(target)))


def order(actor: Actor, ws: CaseWorkspace) -> None:
    """Partner: accept or decline the order. Staff: give it to another partner, with a reason."""
    number = ws.view.number
    if ws.order_state == "accepted":
        st.caption(t("assign.is_accepted"))
    elif ws.order_state == "open":
        st.subheader(t("assign.title"))
        if st.button(t("assign.accept"), type="primary"):
            act(lambda s: assignment.accept_order(s, actor=actor, number=number), t("assign.accepted"))
        with st.form("decline_order"):
            reason = st.text_input(t("case.reason"))
            if st.form_submit_button(t("assign.decline")):
                try:
                    with write_session() as s:
                        assignment.decline_order(s, actor=actor, number=number, reason=reason)
                except SchadenportalError as exc:
                    st.error(str(exc))
                else:  # the order is no longer ours: back to the order list
                    st.session_state["home_notice"] = t("assign.declined")
                    st.switch_page("pages/home.py")
    if ws.override_choices:
        with st.expander(t("assign.override")):
            with st.form("override_assignment"):
                names = dict(ws.override_choices)
                partner_id = st.selectbox(t("assign.partner"), list(names), format_func=names.get)
                reason = st.text_input(t("case.reason"))
                if st.form_submit_button(t("assign.override")):
                    act(lambda s: assignment.override_assignment(s, actor=actor, number=number,
                                                                 partner_id=partner_id, reason=reason),
                        t("assign.override_done"))


def timeline(ws: CaseWorkspace) -> None:
    st.dataframe(
        [
            {t("timeline.time"): format_dt(e.at), t("timeline.actor"): f"{e.actor} ({role_label(e.role)})",
             t("timeline.action"): event_label(e.action), t("timeline.details"): event_details(e.details)}
            for e in ws.view.events
        ],
        hide_index=True, width="stretch",
    )


def documents(actor: Actor, ws: CaseWorkspace) -> None:
    if not ws.documents:
        st.info(f"{t('docs.none')} {t('empty.docs_next')}" if ws.may_upload else t("docs.none"))
    for doc in ws.documents:
        st.markdown(f"**{label(doc.kind)}** · {len(doc.versions)} {t('docs.versions')}")
        for ver in doc.versions:
            c1, c2 = st.columns([4, 1])
            c1.text(f"v{ver.version} · {ver.name} · {ver.size // 1024} KB · {format_dt(ver.uploaded_at)} · "
                    f"{ver.uploaded_by} · {label(ver.extraction)}")
            if c2.button(t("docs.open"), key=f"doc_open_{ver.id}"):
                with write_session() as s:  # the download is logged
                    st.session_state["doc_file"] = (ver.id, download_document(s, actor=actor, settings=settings(),
                                                                              version_id=ver.id))
        opened = st.session_state.get("doc_file")
        if opened and any(v.id == opened[0] for v in doc.versions):
            _show_file(opened[1])
    if ws.may_upload:
        with st.form("upload_document", clear_on_submit=True):
            st.caption(t("docs.upload"))
            kind = st.selectbox(t("docs.kind"), list(DocumentKind), format_func=label)
            file = st.file_uploader(t("docs.file"), type=["pdf", "jpg", "jpeg", "png", "heic"])
            if st.form_submit_button(t("docs.upload_button")) and file is not None:
                act(lambda s: casework.add_document(s, actor=actor, settings=settings(), number=ws.view.number,
                                                    kind=kind, filename=file.name, data=file.getvalue()),
                    t("docs.uploaded", name=file.name))
    share_section(actor, ws)


def _show_file(file) -> None:
    if file is None:
        st.error(t("case.refused"))
        return
    picture = preview_png(file.data, file.mime)
    if picture:
        st.image(picture)
    st.download_button(t("docs.download"), file.data, file_name=file.filename, mime=file.mime)


def work(actor: Actor, ws: CaseWorkspace) -> None:
    at = now()
    if not ws.tasks:
        st.caption(t("empty.tasks"))
    for task in ws.tasks:
        c1, c2 = st.columns([5, 1])
        marker = "✅" if task.done_at else ("🔴" if task.overdue(at) else "⬜")
        due = f" · {t('tasks.due')} {format_dt(task.due_at)}" if task.due_at else ""
        c1.text(f"{marker} {task.title}{due} · {task.assignee or '–'}")
        if task.done_at is None and c2.button(t("tasks.done"), key=f"task_done_{task.id}"):
            act(lambda s, tid=task.id: tasks.complete_task(s, actor=actor, task_id=tid), t("tasks.marked_done"))
    with st.form("add_task", clear_on_submit=True):
        title = st.text_input(t("tasks.new"))
        c1, c2 = st.columns(2)
        due_date = c1.date_input(t("tasks.due"), value=None, min_value=to_berlin(now()).date(), format="DD.MM.YYYY")
        names = dict(ws.assignees)
        assignee = c2.selectbox(t("tasks.assignee"), [None, *names],
                                format_func=lambda i: t("tasks.case_clerk") if i is None else names[i])
        if st.form_submit_button(t("tasks.add")):
            due = _end_of_day(due_date) if due_date else None
            act(lambda s: tasks.add_task(s, actor=actor, number=ws.view.number, title=title, due_at=due,
                                         assignee_id=assignee),
                t("tasks.added"))
    c1, c2 = st.columns([3, 1])
    caller = c1.selectbox(t("callback.who"), correspondence.CALLERS, format_func=lambda c: t(f"Caller.{c}"))
    if c2.button(t("callback.log")):
        act(lambda s: correspondence.log_callback(s, actor=actor, number=ws.view.number, caller=caller),
            t("callback.logged"))


def _end_of_day(day):
    from datetime import datetime, time

    from core.timeutil import BERLIN

    return datetime.combine(day, time(18, 0), tzinfo=BERLIN)


def note_section(actor: Actor, ws: CaseWorkspace) -> None:
    if not ws.notes and ws.note_levels:
        st.caption(t("empty.notes_write"))
    for note in ws.notes:
        st.caption(f"{label(note.visibility)} · {note.author} · {format_dt(note.created_at)}")
        st.text(note.body)
    if ws.note_levels:
        with st.form("add_note", clear_on_submit=True):
            level = st.selectbox(t("notes.visibility"), ws.note_levels, format_func=label)
            body = st.text_area(t("notes.new"))
            if st.form_submit_button(t("notes.add")):
                act(lambda s: notes.add_note(s, actor=actor, number=ws.view.number, visibility=level, body=body),
                    t("notes.added"))
    elif not ws.notes:
        st.info(t("notes.none"))


def insurer_and_payment(actor: Actor, ws: CaseWorkspace) -> None:
    v = ws.view
    if not ws.queries and CaseStatus.INSURER_QUERY in v.next_statuses:
        st.caption(t("empty.queries"))
    for q in ws.queries:
        c1, c2 = st.columns([5, 1])
        state = t("query.answered_at", at=format_dt(q.answered_at)) if q.answered_at else \
            t("query.open_until", at=format_dt(q.due_at))
        c1.text(f"{format_dt(q.received_at)} · {q.subject} · {state}")
        if q.answered_at is None and ws.may_work and c2.button(t("query.answer"), key=f"query_{q.id}"):
            act(lambda s, qid=q.id: correspondence.answer_insurer_query(s, actor=actor, number=v.number, query_id=qid),
                t("query.answered"))
    if CaseStatus.INSURER_QUERY in v.next_statuses:
        with st.form("insurer_query", clear_on_submit=True):
            st.caption(t("query.new"))
            subject = st.text_input(t("query.subject"))
            days = st.number_input(t("query.days"), min_value=1, max_value=60, value=correspondence.QUERY_ANSWER_DAYS)
            if st.form_submit_button(t("query.record")):
                act(lambda s: correspondence.record_insurer_query(s, actor=actor, number=v.number, subject=subject,
                                                                  due_days=int(days), expected_version=v.version),
                    t("query.recorded"))
    if not ws.may_pay:
        return
    if v.paid_at is None:
        with st.form("amount_claimed"):
            claimed = st.text_input(t("payment.claimed"), value=_euros(v.amount_claimed_cents))
            if st.form_submit_button(t("payment.save_claimed")):
                act(lambda s: correspondence.set_amount_claimed(s, actor=actor, number=v.number,
                                                                amount_claimed_cents=parse_eur(claimed, field="amount_claimed")),
                    t("payment.claimed_saved"))
    if CaseStatus.PAID in v.next_statuses:
        with st.form("payment"):
            st.caption(t("payment.title"))
            paid = st.text_input(t("case.amount_paid"))
            paid_on = st.date_input(t("payment.date"), value=to_berlin(now()).date(),
                                    max_value=to_berlin(now()).date(), format="DD.MM.YYYY")
            if st.form_submit_button(t("payment.record")):
                act(lambda s: correspondence.record_payment(s, actor=actor, number=v.number,
                                                            amount_paid_cents=parse_eur(paid, field="amount_paid"),
                                                            paid_on=paid_on, expected_version=v.version),
                    t("payment.recorded"))


def _euros(cents: int | None) -> str:
    return "" if cents is None else format_eur(cents).replace(" €", "")
