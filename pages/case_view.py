"""Case page at /case?nr=<case number>: facts, order, timeline, documents, tasks, notes, insurer, payment."""

import streamlit as st

from core import casework
from core.i18n import label, t
from core.permissions import Action, can
from core.ui import case_sections as sections
from core.ui.chronicle_button import chronicle_download
from core.ui.claim_letter_section import claim_letter
from core.ui.navigation import guard
from core.ui.order_sections import order_tab
from core.ui.resources import write_session
from core.ui.widgets import show_notice

actor = guard(Action.VIEW_CASE)

number = st.query_params.get("nr", "")
with st.form("case_lookup", border=False):
    entered = st.text_input(t("case.search"), value=number)
    if st.form_submit_button(t("case.open")) and entered.strip() != number:
        st.query_params["nr"] = entered.strip().upper()
        st.session_state.pop("doc_file", None)
        st.rerun()
if not number:  # where the reader's cases are listed
    st.info(t("empty.case_start"))
    for action, path, key, icon in ((Action.LIST_CASES, "pages/staff_board.py", "nav.board", ":material/table_view:"),
                                    (Action.VIEW_OWN_ORDERS, "pages/partner_orders.py", "nav.orders",
                                     ":material/assignment:"),
                                    (Action.SUBMIT_CASE, "pages/home.py", "home.my_cases", ":material/home:")):
        if can(actor, action):
            st.page_link(path, label=t(key), icon=icon)
    st.stop()

with write_session() as s:  # the view is written to the access log
    ws = casework.case_workspace(s, actor=actor, number=number)
if ws is None:
    st.error(t("case.refused"))
    st.stop()

st.title(t("case.title", number=ws.view.number))
show_notice(sections.NOTICE)
st.markdown(f"**{t('case.status')}:** {label(ws.view.status)} · **{t('field.deadline')}:** {label(ws.view.deadline)}")

names = [t("case.tab_overview"), t("case.timeline"), t("case.tab_documents")]
if ws.order is not None:
    names.insert(1, t("order.title"))
if ws.may_work:
    names.append(t("case.tab_tasks"))
if ws.notes or ws.note_levels:
    names.append(t("case.tab_notes"))
if ws.queries or ws.may_pay:
    names.append(t("case.tab_insurer"))
tabs = dict(zip(names, st.tabs(names)))
with tabs[t("case.tab_overview")]:
    left, right = st.columns([3, 2])
    with left:
        sections.facts(ws)
        sections.checklist(actor, ws)
    with right:
        if ws.may_work:
            st.subheader(t("case.next_steps"))
            sections.next_steps(actor, ws)
            claim_letter(actor, ws)
        sections.order(actor, ws)
        sections.client_legal_basis(actor, ws)
        sections.legal_hold(actor, ws)
if t("order.title") in tabs:
    with tabs[t("order.title")]:
        order_tab(actor, ws)
with tabs[t("case.timeline")]:
    chronicle_download(actor, ws.view.number)
    sections.timeline(ws)
with tabs[t("case.tab_documents")]:
    sections.documents(actor, ws)
if t("case.tab_tasks") in tabs:
    with tabs[t("case.tab_tasks")]:
        sections.work(actor, ws)
if t("case.tab_notes") in tabs:
    with tabs[t("case.tab_notes")]:
        sections.note_section(actor, ws)
if t("case.tab_insurer") in tabs:
    with tabs[t("case.tab_insurer")]:
        sections.insurer_and_payment(actor, ws)
