"""The case page's "Auftrag" tab: appointment, "Auftrag durchgeführt", declaration, invoice with its data."""

from __future__ import annotations

from datetime import datetime, time

import streamlit as st

from core import attachments, orders
from core.casework import CaseWorkspace
from core.errors import SchadenportalError, ValidationError
from core.i18n import t
from core.money import format_eur, parse_eur
from core.permissions import Actor
from core.timeutil import BERLIN, format_date, format_dt, now, to_berlin
from core.ui.case_sections import NOTICE, act
from core.ui.resources import settings, write_session

UPLOAD_TYPES = ["pdf", "jpg", "jpeg", "png", "heic"]


def order_tab(actor: Actor, ws: CaseWorkspace) -> None:
    o = ws.order
    st.markdown(f"**{t('order.partner')}:** {o.partner or '–'} · "
                + (t("order.state_accepted") if o.state == "accepted" else t("order.state_open") if o.state else "–"))
    st.caption(t("order.appointment"))
    st.text(format_dt(o.appointment_at) if o.appointment_at else t("order.no_appointment"))
    if o.work_done_at:
        st.text("✅ " + t("order.work_done_at", at=format_dt(o.work_done_at)))
    if o.invoice:
        _invoice_summary(o.invoice)
    if not o.may_respond or o.state != "accepted":
        return
    _declaration(actor, ws.view.number)
    _appointment_form(actor, ws)
    if o.work_done_at is None and st.button(t("order.work_done_button")):
        act(lambda s: orders.report_work_done(s, actor=actor, number=ws.view.number), t("order.work_done_saved"))
    if not (o.invoice and o.invoice.settled):
        _invoice_form(actor, ws)


def _invoice_summary(inv: orders.InvoiceView) -> None:
    st.subheader(t("invoice.title"))
    st.text(t(
        "invoice.current", at=format_dt(inv.submitted_at), number=inv.invoice_number, date=format_date(inv.invoice_date),
        gross=format_eur(inv.gross_cents), net=format_eur(inv.net_cents), vat=format_eur(inv.vat_cents),
        deductible=format_eur(inv.deductible_cents), claimable=format_eur(inv.claimable_cents),
    ))
    flags = [t("invoice.flags_input_tax")] * inv.input_tax_client + [t("invoice.flags_bond")] * inv.workshop_bond
    if flags:
        st.caption(" · ".join(flags))
    if inv.settled:
        st.info(t("invoice.settled_note"))


def _declaration(actor: Actor, number: str) -> None:
    st.caption(t("order.declaration"))

    def build() -> bytes:
        with write_session() as s:  # the download is logged
            file = attachments.download_declaration(s, actor=actor, number=number)
        return file.data if file else b""

    st.download_button(t("order.declaration_download"), data=build, file_name=f"Abtretungserklaerung-{number}.pdf",
                       mime="application/pdf", on_click="ignore", help=t("order.declaration_hint"))


def _appointment_form(actor: Actor, ws: CaseWorkspace) -> None:
    current = to_berlin(ws.order.appointment_at) if ws.order.appointment_at else None
    with st.form("appointment"):
        c1, c2 = st.columns(2)
        day = c1.date_input(t("order.appointment_date"), value=current.date() if current else to_berlin(now()).date(),
                            format="DD.MM.YYYY")
        at = c2.time_input(t("order.appointment_time"), value=current.time() if current else time(9, 0), step=900)
        if st.form_submit_button(t("order.appointment_save")):
            when = datetime.combine(day, at, tzinfo=BERLIN)
            act(lambda s: orders.set_appointment(s, actor=actor, number=ws.view.number, when=when),
                t("order.appointment_saved"))


def _invoice_form(actor: Actor, ws: CaseWorkspace) -> None:
    o = ws.order
    st.subheader(t("invoice.title"))
    with st.form("invoice", clear_on_submit=False):
        c1, c2 = st.columns(2)
        number = c1.text_input(t("invoice.number"), max_chars=50)
        day = c2.date_input(t("invoice.date"), value=to_berlin(now()).date(), max_value=to_berlin(now()).date(),
                            format="DD.MM.YYYY")
        c1, c2, c3, c4 = st.columns(4)
        net, vat, gross = c1.text_input(t("invoice.net")), c2.text_input(t("invoice.vat")), c3.text_input(t("invoice.gross"))
        deductible = c4.text_input(t("invoice.deductible"), value="0,00")
        input_tax = st.checkbox(t("invoice.input_tax_client"))
        bond = st.checkbox(t("invoice.workshop_bond"))
        invoice_file = st.file_uploader(t("invoice.file"), type=UPLOAD_TYPES, key="invoice_file")
        companion_name = t(f"invoice.companion.{o.companion_kind.value}")
        if o.companion_present:
            st.caption(t("invoice.companion_present", kind=companion_name))
        companion = st.file_uploader(companion_name, type=UPLOAD_TYPES, key="companion_file")
        if not st.form_submit_button(t("invoice.submit"), type="primary"):
            return
    try:
        data = orders.InvoiceInput(
            invoice_number=number, invoice_date=day, net_cents=parse_eur(net or "0", field="net"),
            vat_cents=parse_eur(vat or "0", field="vat"), gross_cents=parse_eur(gross or "0", field="gross"),
            deductible_cents=parse_eur(deductible or "0", field="deductible"), input_tax_client=input_tax,
            workshop_bond=bond,
        )
    except ValidationError as exc:
        st.error(str(exc))
        return
    files = {k: (f.name, f.getvalue()) if f is not None else None
             for k, f in (("invoice", invoice_file), ("companion", companion))}
    try:
        with write_session() as s:
            orders.submit_invoice(s, actor=actor, settings=settings(), number=ws.view.number, data=data,
                                  invoice_file=files["invoice"], companion_file=files["companion"])
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        st.session_state[NOTICE] = t("invoice.submitted")
        st.rerun()

