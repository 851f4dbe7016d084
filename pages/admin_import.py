"""Import (admin): cases from a CSV file (§6 import-cases), checked first, then written in one transaction."""

import streamlit as st

from core.enums import DamageType, PartnerKind
from core.errors import SchadenportalError
from core.i18n import t
from core.importer import EXAMPLE_CSV, OPTIONAL, REQUIRED, import_text, preview_import
from core.permissions import Action
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session

actor = guard(Action.IMPORT_CASES)
RESULT_KEY = "import_result"  # (file id, ImportReport, skip_bad) of the last import, shown for that file


def codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def show_rejected(rejected) -> None:
    if rejected:
        st.subheader(t("import.rejected"))
        st.dataframe(
            [{t("import.col_line"): e.line, t("import.col_reason"): e.reason} for e in rejected],
            hide_index=True,
            width="stretch",
        )


st.title(t("import.title"))
st.markdown(t("import.intro", required=codes(REQUIRED), optional=codes(OPTIONAL), damage_types=codes(DamageType),
              partner_kinds=codes(PartnerKind)))
st.caption(t("import.example"))
st.code(EXAMPLE_CSV, language=None)

upload = st.file_uploader(t("import.file"), type=["csv"])
skip_bad = st.checkbox(t("import.skip_bad"))

if upload is not None:
    last = st.session_state.get(RESULT_KEY)
    if last is not None and last[0] != upload.file_id:
        last = None  # a result belongs to the file it came from
    col_check, col_run = st.columns(2)
    check = col_check.button(t("import.check"), key="import_check")
    run = col_run.button(t("import.run"), key="import_run", type="primary",
                         disabled=last is not None and last[1].imported > 0)
    try:
        if check:
            with read_session() as s:
                preview = preview_import(s, actor=actor, data=upload.getvalue())
            st.info(t("import.preview", ok=preview.rows_ok, bad=len(preview.rejected)))
            if preview.rejected and not skip_bad:
                st.warning(t("import.preview_blocked"))
            show_rejected(preview.rejected)
        elif run:
            with write_session() as s:
                report = import_text(s, actor=actor, data=upload.getvalue(), source_name=upload.name,
                                     skip_bad=skip_bad)
            st.session_state[RESULT_KEY] = last = (upload.file_id, report, skip_bad)
    except SchadenportalError as exc:  # a file-level problem (encoding, columns, ...): nothing was written
        st.error(str(exc))
    if last is not None and not check:
        _, report, skipped = last
        if report.imported:
            st.success(report.summary)
            st.caption(t("import.already_done"))
        else:
            st.error(report.summary)
        if report.rejected and not skipped:
            st.error(t("import.nothing_imported", n=len(report.rejected)))
        show_rejected(report.rejected)
