"""Abrechnungen (back office): make the month's statements, review them, mark payouts as transferred."""

import streamlit as st

from core import attachments, settlements
from core.enums import SettlementStatus
from core.errors import ValidationError
from core.i18n import label, t
from core.money import format_eur
from core.permissions import Action
from core.timeutil import format_date, format_dt, to_berlin
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_SETTLEMENTS)
st.title(t("settle.title"))
NOTICE = "settlements_notice"
show_notice(NOTICE)

month = settlements.last_month()
st.caption(t("settle.hint"))
if st.button(t("settle.create", month=settlements.month_label(month)), type="primary"):
    act(lambda s: settlements.create_settlements(s, actor=actor, month=month),
        lambda made: t("settle.created", count=len(made)) if made else t("settle.none_created"), notice_key=NOTICE)

c1, c2 = st.columns(2)
status = c1.selectbox(t("settle.filter_status"), [None, *SettlementStatus],
                      format_func=lambda v: t("settle.all") if v is None else label(v))
month_filter = c2.text_input(t("settle.month"), placeholder="JJJJ-MM", max_chars=7)
try:
    with read_session() as s:
        rows = settlements.list_settlements(s, actor=actor, status=status, month=month_filter.strip() or None)
        open_count, open_sum = settlements.open_totals(s, actor=actor)
except ValidationError as exc:
    st.error(str(exc))
    st.stop()
st.caption(t("settle.open_total", count=open_count, total=format_eur(open_sum)))
if not rows:
    unfiltered = status is None and not month_filter.strip()
    next_step = t("empty.settlements_next") if unfiltered else t("empty.settlements_filtered_next")
    st.info(f"{t('settle.empty')} {next_step}")
    st.stop()
st.dataframe(
    [
        {t("settle.col_number"): r.number, t("settle.col_partner"): r.partner, t("settle.col_month"): r.month,
         t("settle.col_paid_in"): format_eur(r.paid_in_cents), t("settle.col_commission"): format_eur(r.commission_cents),
         t("settle.col_payout"): format_eur(r.payout_cents), t("settle.col_status"): label(r.status),
         t("settle.col_paid_at"): format_dt(r.paid_at)}
        for r in rows
    ],
    hide_index=True, width="stretch",
)

names = {r.id: f"{r.number} · {r.partner} · {format_eur(r.payout_cents)}" for r in rows}
chosen = st.selectbox(t("settle.pick"), list(names), format_func=names.get)
with read_session() as s:
    detail = settlements.get_settlement(s, actor=actor, settlement_id=chosen)
st.subheader(t("settle.lines"))
st.dataframe(
    [
        {t("settle.line_case"): line.case_number, t("settle.line_paid_on"): format_date(to_berlin(line.paid_at).date()),
         t("settle.line_gross"): format_eur(line.invoice_gross_cents),
         t("settle.line_deductible"): format_eur(line.deductible_cents), t("settle.line_paid"): format_eur(line.paid_cents),
         t("settle.col_commission"): format_eur(line.commission_cents), t("settle.col_payout"): format_eur(line.payout_cents)}
        for line in detail.lines
    ],
    hide_index=True, width="stretch",
)


def pdf() -> bytes:
    with write_session() as s:  # the download is logged
        return attachments.download_settlement(s, actor=actor, settlement_id=detail.id).data


st.download_button(t("settle.download"), data=pdf, file_name=f"Abrechnung-{detail.number}.pdf",
                   mime="application/pdf", on_click="ignore")
if detail.status == SettlementStatus.OPEN:
    with st.form("mark_paid"):
        reference = st.text_input(t("settle.reference"), max_chars=100)
        if st.form_submit_button(t("settle.mark_paid")):
            act(lambda s: settlements.mark_settlement_paid(s, actor=actor, settlement_id=detail.id, reference=reference),
                t("settle.marked_paid"), notice_key=NOTICE)
