"""Hilfe (public): what each role does here, step by step with screenshots; the reader's own role first."""

import streamlit as st

from core import help as guide_book
from core.i18n import t
from core.ui.navigation import listed, pages_for, public_page

actor = public_page()
st.title(t("help.title"))

options = guide_book.audiences_for(actor.role if actor else None)
wanted = st.query_params.get("rolle", "")  # /hilfe?rolle=partner opens that role's help
index = next((i for i, a in enumerate(options) if a == wanted), 0)
audience = st.selectbox(t("help.audience"), options, index=index, format_func=lambda a: t(f"help.audience.{a}"),
                        key="help_audience")
role_help = guide_book.help_for(audience)
# the pages this reader can open from the menu: each guide links to those it leads through
openable = {s.url_path: s for s in pages_for(actor) if listed(s, actor) and s.url_path != "hilfe"}

st.subheader(t("help.what_you_do"))
st.write(role_help.intro)
st.caption(t("help.contents", titles=" · ".join(g.title for g in role_help.guides)))

for guide in role_help.guides:
    st.divider()
    st.subheader(guide.title)
    words, picture = st.columns([2, 3]) if guide.image else (st.container(), None)
    with words:
        st.markdown("\n".join(f"{n}. {step}" for n, step in enumerate(guide.steps, start=1)))
        for url_path in guide.pages:
            spec = openable.get(url_path)
            if spec is not None:
                st.page_link(spec.path, label=t(spec.title_key), icon=spec.icon)
    if picture is not None:
        picture.image(str(guide_book.image_path(guide.image)), caption=t("help.screenshot", title=guide.title))
