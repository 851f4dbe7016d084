"""Dokumente durchsuchen: full-text search over the documents of the cases the user may see; OCR status."""

import pandas as pd
import streamlit as st

from core import search
from core.i18n import label, t
from core.ocr import ocr_available
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session
from core.ui.widgets import case_link_column, case_url

actor = guard(Action.SEARCH_DOCUMENTS)
st.title(t("search.title"))
st.caption(t("search.intro"))
LIMIT = 50

if not ocr_available():
    st.warning(t("search.ocr_unavailable"))
with read_session() as s:
    summary = search.extraction_summary(s, actor=actor)
for count, key in ((summary.pending, "search.status_pending"), (summary.ocr_unavailable, "search.status_unavailable"),
                   (summary.failed, "search.status_failed")):
    if count:
        st.info(t(key, count=count))

with st.form("document_search", border=False):
    field, go = st.columns([5, 1], vertical_alignment="bottom")
    query = field.text_input(t("search.query"), max_chars=200)
    go.form_submit_button(t("search.submit"), type="primary")

if query.strip():
    if not search.search_terms(query):
        st.warning(t("search.too_short"))
    else:
        with write_session() as s:  # the search is logged per case found
            hits = search.search_documents(s, actor=actor, query=query, limit=LIMIT)
        if not hits:
            st.info(f"{t('search.none')} {t('empty.search_next')}")
        else:
            st.caption(t("search.more", count=LIMIT) if len(hits) >= LIMIT else t("search.count", count=len(hits)))
            st.dataframe(
                pd.DataFrame({
                    t("col.link"): [case_url(h.case_number) for h in hits],
                    t("search.col_document"): [h.document_name for h in hits],
                    t("search.col_kind"): [label(h.kind) for h in hits],
                    t("search.col_version"): [h.version for h in hits],
                    t("search.col_snippet"): [h.snippet for h in hits],
                    t("search.col_source"): [label(h.extraction) for h in hits],
                    t("search.col_uploaded"): [format_dt(h.uploaded_at) for h in hits],
                }),
                column_config=case_link_column(), hide_index=True, width="stretch",
            )
