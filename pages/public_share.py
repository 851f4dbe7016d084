"""Freigegebenes Dokument (public, from a share link `?t=…`): the file and a download, else one neutral message."""

import streamlit as st

from core import share_links
from core.i18n import t
from core.ui import resources
from core.ui.auth import client_ip
from core.ui.navigation import public_page
from core.ui.resources import write_session

actor = public_page()
st.title(t("share.title"))
settings = resources.settings()
token = st.query_params.get("t", "")
ip = client_ip()

with write_session() as s:  # the view (or the refusal) is logged
    shared = share_links.shared_file(s, settings=settings, token=token, ip=ip)

if shared is None:  # unknown, tampered, expired, revoked: the same message, nothing about the case
    st.error(t("share.unavailable"))
    st.stop()


def size_text(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:,.0f} KB".replace(",", ".")


def download() -> bytes:
    """The file, fetched (counted and logged) only when the button is clicked."""
    with write_session() as s:
        file = share_links.download_shared(s, settings=settings, token=token, ip=ip)
    if file is None:  # revoked or expired since the page was shown
        raise PermissionError("share link no longer valid")
    return file.data


st.write(t("share.intro"))
st.text(t("share.file", name=shared.name, size=size_text(shared.size)))
st.download_button(t("share.download"), data=download, file_name=shared.name, mime=shared.mime, on_click="ignore",
                   type="primary", icon=":material/download:", key="share_download")
