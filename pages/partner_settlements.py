"""Abrechnungen (partner): the business's own monthly statements, each as PDF."""

import streamlit as st

from core import attachments, settlements
from core.i18n import label, t
from core.money import format_eur
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session

actor = guard(Action.VIEW_OWN_SETTLEMENTS)
st.title(t("settle.my_title"))

with read_session() as s:
    rows = settlements.list_settlements(s, actor=actor)
if not rows:
    st.info(f"{t('settle.empty')} {t('empty.my_settlements_next')}")
    st.stop()


def pdf(settlement_id: int):
    def build() -> bytes:
        with write_session() as s:  # the download is logged
            return attachments.download_settlement(s, actor=actor, settlement_id=settlement_id).data

    return build


for row in rows:
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns([2, 2, 2, 2], vertical_alignment="center")
        c1.markdown(f"**{settlements.month_label(row.month)}**  \n{row.number}")
        c2.metric(t("settle.col_paid_in"), format_eur(row.paid_in_cents))
        c3.metric(t("settle.col_payout"), format_eur(row.payout_cents))
        paid = f" · {format_dt(row.paid_at)}" if row.paid_at else ""
        c4.caption(label(row.status) + paid)
        c4.download_button(t("settle.download"), data=pdf(row.id), file_name=f"Abrechnung-{row.number}.pdf",
                           mime="application/pdf", on_click="ignore", key=f"settlement_pdf_{row.id}")
