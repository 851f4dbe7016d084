"""Case page at /case?nr=<case number>: facts, status with the allowed next steps, timeline."""

import streamlit as st

from core import cases
from core.enums import CaseStatus
from core.errors import SchadenportalError
from core.i18n import label, t
from core.money import format_eur, parse_eur
from core.permissions import Action
from core.timeline import event_details, event_label, role_label
from core.timeutil import format_date, format_dt
from core.ui.navigation import guard
from core.ui.resources import write_session

actor = guard(Action.VIEW_CASE)

number = st.query_params.get("nr", "")
with st.form("case_lookup", border=False):
    entered = st.text_input(t("case.search"), value=number)
    if st.form_submit_button(t("case.open")) and entered.strip() != number:
        st.query_params["nr"] = entered.strip().upper()
        st.rerun()
if not number:
    st.stop()

with write_session() as s:  # the view is written to the access log
    view = cases.open_case(s, actor=actor, number=number)
if view is None:
    st.error(t("case.refused"))
    st.stop()

st.title(t("case.title", number=view.number))
notice = st.session_state.pop("case_notice", None)
if notice:
    st.success(notice)
st.markdown(f"**{t('case.status')}:** {label(view.status)}")

facts = {
    t("field.damage_type"): label(view.damage_type),
    t("field.insurer"): view.insurer,
    t("field.policy_number"): view.policy_number,
    t("field.insurer_claim_number"): view.insurer_claim_number,
    t("field.client"): view.client_name,
    t("field.client_contact"): view.client_contact,
    t("field.plate"): view.plate,
    t("field.vin"): view.vin,
    t("field.incident_date"): format_date(view.incident_date),
    t("field.broker"): view.broker,
    t("field.partner"): view.partner,
    t("field.clerk"): view.clerk,
    t("field.received_at"): format_dt(view.received_at),
    t("field.claim_due"): format_dt(view.claim_due_at),
    t("field.deadline"): label(view.deadline),
    t("field.claim_letter_sent_at"): format_dt(view.claim_letter_sent_at),
    t("field.amount_claimed"): format_eur(view.amount_claimed_cents),
    t("field.amount_paid"): format_eur(view.amount_paid_cents),
    t("field.cut"): format_eur(view.cut_cents),
    t("field.paid_at"): format_dt(view.paid_at),
    t("field.closed_at"): format_dt(view.closed_at),
    t("field.status_reason"): view.status_reason,
}
left, right = st.columns([3, 2])
with left:
    st.subheader(t("case.facts"))
    st.dataframe(
        [{"": k, " ": v} for k, v in facts.items() if v not in ("", "–")], hide_index=True, width="stretch"
    )
    st.caption(t("field.description"))
    st.text(view.incident_description or "–")

with right:
    st.subheader(t("case.next_steps"))
    if not view.next_statuses:
        st.caption(t("case.no_next_steps"))
    for target in view.next_statuses:
        with st.expander(t("case.change_to", status=label(target))):
            with st.form(f"status_{target}"):
                needs_reason = target == CaseStatus.CANCELLED or (
                    target == CaseStatus.CLOSED and view.status != CaseStatus.PAID
                )
                reason = st.text_input(t("case.reason")) if needs_reason else ""
                amount = st.text_input(t("case.amount_paid")) if target == CaseStatus.PAID else ""
                if st.form_submit_button(label(target)):
                    try:
                        with write_session() as s:
                            cases.change_status(
                                s, actor=actor, number=view.number, to=target, reason=reason,
                                expected_version=view.version,
                                amount_paid_cents=parse_eur(amount, field="amount_paid") if amount else None,
                            )
                    except SchadenportalError as exc:
                        st.error(str(exc))
                    else:
                        st.session_state["case_notice"] = t("case.status_changed", status=label(target))
                        st.rerun()

st.subheader(t("case.timeline"))
st.dataframe(
    [
        {
            t("timeline.time"): format_dt(e.at),
            t("timeline.actor"): f"{e.actor} ({role_label(e.role)})",
            t("timeline.action"): event_label(e.action),
            t("timeline.details"): event_details(e.details),
        }
        for e in view.events
    ],
    hide_index=True,
    width="stretch",
)
