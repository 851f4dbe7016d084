"""The case page's download of the case chronicle (Fallchronik) as PDF, for those who may export it."""

from __future__ import annotations

import streamlit as st

from core.chronicle import case_chronicle
from core.i18n import t
from core.permissions import Action, Actor, can
from core.ui.resources import write_session


def chronicle_download(actor: Actor, number: str) -> None:
    """The "Fallchronik (PDF)" button; the PDF is built (and the export logged) only when it is clicked."""
    if not can(actor, Action.EXPORT_CHRONICLE):
        return

    def build() -> bytes:
        with write_session() as s:  # the export is logged
            return case_chronicle(s, actor=actor, number=number) or b""

    st.download_button(t("chron.download"), data=build, file_name=f"Fallchronik-{number}.pdf",
                       mime="application/pdf", on_click="ignore", help=t("chron.download_help"),
                       key="chron_case_download")
