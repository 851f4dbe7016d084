"""Meine Aufträge: the partner's own orders, newest first, filtered and paged like the board; weekly quota."""

import streamlit as st

from core import assignment, board
from core.enums import OPEN_STATUSES, CaseStatus
from core.i18n import label, t
from core.permissions import Action
from core.ui.list_log import log_list_once
from core.ui.navigation import guard
from core.ui.resources import read_session
from core.ui.widgets import case_table, page_cursor, pager, thousands

actor = guard(Action.VIEW_OWN_ORDERS)
st.title(t("orders.title"))
PAGING_KEY = "orders"

with st.form("order_filters", border=False):
    left, right, go = st.columns([3, 3, 1], vertical_alignment="bottom")
    statuses = left.multiselect(t("board.status"), list(CaseStatus), format_func=label, placeholder=t("board.all"))
    text = right.text_input(t("orders.search"), max_chars=board.MAX_SEARCH_LENGTH)
    go.form_submit_button(t("board.apply"), type="primary")

filters = board.BoardFilter(statuses=tuple(statuses), text=text)
after = page_cursor(PAGING_KEY, filters)
with read_session() as s:
    quota = assignment.weekly_quota(s, actor=actor)
    counts = board.order_status_counts(s, actor=actor, filters=filters)
    page = board.list_orders(s, actor=actor, filters=filters, after=after)
log_list_once(PAGING_KEY, actor=actor, filters=filters, page=page, what="orders")

c1, c2, c3 = st.columns(3)
c1.metric(t("home.quota_own", week=quota.week), quota.own)
c2.metric(t("home.quota_average", partners=quota.partners), f"{quota.average:.1f}".replace(".", ","))
open_orders, more = counts.total(tuple(OPEN_STATUSES))
c3.metric(t("orders.open_count"), thousands(open_orders, more=more))
if filters == board.BoardFilter():
    empty = f"{t('home.no_orders')} {t('empty.partner_next')}"
else:
    empty = f"{t('orders.empty')} {t('empty.orders_next')}"
case_table(page.rows, empty=empty, show_deadline=False)
if page.rows:
    total, more = counts.total(filters.statuses)
    pager(PAGING_KEY, page.next_cursor, t("board.total", count=thousands(total, more=more)))
