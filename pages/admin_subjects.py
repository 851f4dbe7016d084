"""Betroffenenrechte (admin): find a person, export everything held on them (JSON, PDF), erase on request."""

import streamlit as st

from core import subject_rights
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import format_date, now, to_berlin
from core.ui.navigation import guard
from core.ui.resources import settings, write_session

actor = guard(Action.GDPR)
HITS, EXPORT, OUTCOME, ERASED = "subject_hits", "subject_export", "subject_outcome", "subject_erased"

st.title(t("subject.title"))
st.caption(t("subject.intro"))
with st.form("subject_search"):
    query = st.text_input(t("subject.query"), key="subject_query")
    if st.form_submit_button(t("subject.search")):
        try:
            with write_session() as s:  # the search is logged
                st.session_state[HITS] = subject_rights.find_subjects(s, actor=actor, query=query)
        except SchadenportalError as exc:
            st.error(str(exc))
        for key in (EXPORT, OUTCOME, ERASED):
            st.session_state.pop(key, None)

erased = st.session_state.get(ERASED)  # the last erasure's outcome (the list below shows the persons as now)
if erased is not None:
    st.success(erased.lines()[0])
    st.text("\n".join(erased.lines()[1:]) or "–")

hits = st.session_state.get(HITS)
if hits is None:
    st.stop()
if not hits:
    st.info(f"{t('subject.no_hits')} {t('empty.subjects_next')}")
    st.stop()
st.caption(t("subject.hits", n=len(hits), max=subject_rights.MAX_HITS))
st.dataframe(
    [{t("subject.col_name"): h.name, t("subject.col_email"): h.email, t("subject.col_city"): h.city,
      t("subject.col_basis"): label(h.legal_basis), t("subject.col_basis_at"): format_date(to_berlin(h.legal_basis_at)),
      t("subject.col_cases"): ", ".join(number for number, _ in h.cases),
      t("subject.col_state"): t("subject.state_pseudonymised") if h.pseudonymised else t("subject.state_active")}
     for h in hits],
    hide_index=True, width="stretch",
)
names = {h.person_id: f"{h.name} · {h.email or '–'} · {', '.join(n for n, _ in h.cases) or '–'}" for h in hits}
chosen = st.multiselect(t("subject.select"), list(names), default=list(names), format_func=names.get,
                        key="subject_persons", placeholder=t("field.choose"))
reason = st.text_input(t("subject.reason"), max_chars=subject_rights.MAX_REASON, key="subject_reason")

st.subheader(t("subject.export_title"))
if st.button(t("subject.export"), type="primary", disabled=not chosen, key="subject_export_button"):
    try:
        with write_session() as s:  # logged with the reason
            export = subject_rights.subject_export(s, actor=actor, person_ids=chosen, reason=reason)
    except SchadenportalError as exc:
        st.error(str(exc))
        st.session_state.pop(EXPORT, None)
    else:
        stamp = to_berlin(now()).strftime("%Y%m%d-%H%M")
        st.session_state[EXPORT] = (tuple(chosen), export.persons, export.cases, export.to_json(),
                                    subject_rights.export_pdf(export), f"Auskunft-{stamp}")
result = st.session_state.get(EXPORT)
if result is not None and result[0] == tuple(chosen):  # the files belong to the persons they were made for
    _, persons, cases, json_bytes, pdf_bytes, name = result
    st.success(t("subject.export_done", persons=persons, cases=cases))
    c1, c2 = st.columns(2)
    c1.download_button(t("subject.download_json"), json_bytes, file_name=f"{name}.json", mime="application/json",
                       on_click="ignore", key="subject_json")
    c2.download_button(t("subject.download_pdf"), pdf_bytes, file_name=f"{name}.pdf", mime="application/pdf",
                       on_click="ignore", key="subject_pdf")

st.subheader(t("subject.erase_title"))
st.caption(t("subject.erase_help"))


def erase(*, dry_run: bool) -> None:
    try:
        with write_session() as s:  # logged with the reason; files go after the commit
            outcome = subject_rights.erase_subject(s, actor=actor, settings=settings(), person_ids=chosen,
                                                   reason=reason, dry_run=dry_run)
    except SchadenportalError as exc:
        st.error(str(exc))
        st.session_state.pop(OUTCOME, None)
        return
    if dry_run:
        st.session_state[OUTCOME] = (tuple(chosen), outcome)
        return
    st.session_state[ERASED] = outcome
    for key in (EXPORT, OUTCOME, "subject_confirm"):
        st.session_state.pop(key, None)
    with write_session() as s:  # list the persons as they are now
        st.session_state[HITS] = subject_rights.find_subjects(s, actor=actor, query=query)
    st.rerun()


c1, c2 = st.columns(2)
if c1.button(t("subject.erase_preview"), disabled=not chosen, key="subject_preview"):
    erase(dry_run=True)
confirmed = st.checkbox(t("subject.erase_confirm"), key="subject_confirm")
if c2.button(t("subject.erase_button"), type="primary", disabled=not chosen, key="subject_erase"):
    if confirmed:
        erase(dry_run=False)
    else:
        st.warning(t("subject.erase_needs_confirm"))
preview = st.session_state.get(OUTCOME)
if preview is not None and preview[0] == tuple(chosen):  # a preview belongs to the persons it was made for
    st.info(preview[1].lines()[0])
    st.text("\n".join(preview[1].lines()[1:]) or "–")
