"""The intake form shared by the staff intake page and the broker's reduced form."""

from __future__ import annotations

import streamlit as st

from core import cases, intake
from core.enums import DamageType, LegalBasis
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Actor
from core.timeutil import now, to_berlin
from core.ui.resources import read_session, settings, write_session
from core.ui.widgets import case_url

PENDING = "intake_pending"


def render(actor: Actor, *, broker_form: bool) -> None:
    """Form -> validate -> show duplicates -> save in one transaction -> link to the new case."""
    with read_session() as s:
        insurers = cases.list_insurers(s)
        brokers = [] if broker_form else cases.list_brokers(s)
    saved = st.session_state.pop("intake_saved", None)
    if saved:
        st.success(saved[0])
        if saved[1]:
            st.info(saved[1])
        st.page_link("pages/case_view.py", label=t("intake.open_case"), query_params={"nr": saved[2]})

    with st.form("intake_form", clear_on_submit=False):
        st.subheader(t("intake.section_damage"))
        c1, c2, c3 = st.columns(3)
        damage_type = c1.selectbox(t("field.damage_type"), list(DamageType), format_func=label, index=None,
                                   placeholder=t("field.choose"))
        incident_date = c2.date_input(t("field.incident_date"), value=None, max_value=to_berlin(now()).date(),
                                      format="DD.MM.YYYY")
        insurer = c3.selectbox(t("field.insurer"), insurers, index=None, accept_new_options=True,
                               placeholder=t("field.choose_or_type"))
        c1, c2, c3 = st.columns(3)
        policy_number = c1.text_input(t("field.policy_number"))
        claim_number = c2.text_input(t("field.insurer_claim_number"))
        amount = c3.text_input(t("intake.amount_claimed"))
        description = st.text_area(t("field.description"), height=90)
        st.subheader(t("intake.section_vehicle"))
        c1, c2 = st.columns(2)
        plate = c1.text_input(t("field.plate"), placeholder="B-AB 1234")
        vin = c2.text_input(t("field.vin"), max_chars=17)
        st.subheader(t("intake.section_client"))
        c1, c2 = st.columns(2)
        first = c1.text_input(t("intake.first_name"))
        last = c2.text_input(t("intake.last_name_label"))
        c1, c2, c3 = st.columns([3, 1, 2])
        street = c1.text_input(t("intake.street"))
        postal = c2.text_input(t("intake.postal_code"), max_chars=5)
        city = c3.text_input(t("intake.city"))
        c1, c2 = st.columns(2)
        email = c1.text_input(t("intake.email"))
        phone = c2.text_input(t("intake.phone"))
        c1, c2 = st.columns(2)
        legal_basis = c1.selectbox(t("intake.legal_basis"), list(LegalBasis), format_func=label)
        broker_id = None
        if brokers:
            names = dict(brokers)
            broker_id = c2.selectbox(t("field.broker"), [None, *names],
                                     format_func=lambda i: t("intake.no_broker") if i is None else names[i])
        photos = st.file_uploader(t("intake.photos"), type=["jpg", "jpeg", "png", "pdf", "heic"],
                                  accept_multiple_files=True)
        submitted = st.form_submit_button(t("intake.save"), type="primary")

    if submitted:
        form = intake.IntakeForm(
            damage_type=damage_type.value if damage_type else "", insurer=insurer or "", client_last_name=last,
            client_postal_code=postal, client_first_name=first, client_email=email, client_phone=phone,
            client_street=street, client_city=city, policy_number=policy_number, insurer_claim_number=claim_number,
            plate=plate, vin=vin, incident_date=incident_date, incident_description=description,
            amount_claimed=amount, broker_id=broker_id, legal_basis=legal_basis.value,
        )
        files = [intake.Photo(f.name, f.getvalue()) for f in photos or []]
        _check_then_save(actor, form, files)
    elif PENDING in st.session_state:
        form, files, duplicates = st.session_state[PENDING]
        _show_duplicates(duplicates)
        if st.button(t("intake.save_anyway"), key="intake_save_anyway"):
            _save(actor, form, files)


def _check_then_save(actor: Actor, form: intake.IntakeForm, files: list[intake.Photo]) -> None:
    st.session_state.pop(PENDING, None)
    try:
        data = intake.validate_intake(form, today=to_berlin(now()).date())
    except intake.FieldErrors as exc:
        st.error(str(exc))
        for field, message in exc.errors.items():
            st.error(f"{_field_label(field)}: {message}")
        return
    with read_session() as s:
        duplicates = intake.find_duplicates(s, actor=actor, plate=data.plate, incident_date=data.incident_date,
                                            insurer_claim_number=data.insurer_claim_number)
    if duplicates:
        st.session_state[PENDING] = (form, files, duplicates)
        _show_duplicates(duplicates)
        if st.button(t("intake.save_anyway"), key="intake_save_anyway"):
            _save(actor, form, files)
        return
    _save(actor, form, files)


def _show_duplicates(duplicates: list[intake.DuplicateHit]) -> None:
    st.warning(t("intake.duplicates"))
    for hit in duplicates:
        st.markdown(f"- [{hit.number}]({case_url(hit.number)}) · {hit.client} · {hit.plate} · {hit.reason}")


def _save(actor: Actor, form: intake.IntakeForm, files: list[intake.Photo]) -> None:
    try:
        with write_session() as s:
            result = intake.take_in_case(s, actor=actor, settings=settings(), form=form, photos=files)
    except intake.FieldErrors as exc:
        for field, message in exc.errors.items():
            st.error(f"{_field_label(field)}: {message}")
        return
    except SchadenportalError as exc:
        st.error(str(exc))
        return
    st.session_state.pop(PENDING, None)
    missing = ", ".join(label(k) for k in result.missing_documents)
    st.session_state["intake_saved"] = (
        t("intake.saved", number=result.number, clerk=result.clerk or "–"),
        t("intake.saved_missing", docs=missing) if missing else "",
        result.number,
    )
    st.rerun()


_FIELD_KEYS = {
    "damage_type": "field.damage_type", "insurer": "field.insurer", "client_last_name": "intake.last_name_label",
    "client_postal_code": "intake.postal_code", "client_email": "intake.email", "client_phone": "intake.phone",
    "plate": "field.plate", "vin": "field.vin", "incident_date": "field.incident_date",
    "incident_description": "field.description", "amount_claimed": "intake.amount_claimed",
    "policy_number": "field.policy_number", "insurer_claim_number": "field.insurer_claim_number",
    "legal_basis": "intake.legal_basis", "file": "intake.photos",
}


def _field_label(field: str | None) -> str:
    return t(_FIELD_KEYS[field]) if field in _FIELD_KEYS else (field or "")
