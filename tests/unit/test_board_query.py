"""The board's address: filters to URL parameters and back; bad values are ignored and named."""

from datetime import date

import pytest

from core.board import BoardFilter
from core.board_address import board_url, filter_from_query, filter_to_query
from core.enums import CaseStatus, DamageType, PartnerKind


def test_a_full_filter_survives_the_round_trip():
    filters = BoardFilter(
        statuses=(CaseStatus.RECEIVED, CaseStatus.PAID), damage_type=DamageType.ACCIDENT, insurer_id=3, partner_id=4,
        clerk_id=5, deadline="overdue", received_from=date(2026, 11, 2), received_to=date(2026, 11, 9), region="1",
        partner_kind=PartnerKind.APPRAISER,
    )
    assert filter_from_query(filter_to_query(filters)) == (filters, [])


def test_the_address_of_the_kpi_example():
    filters = BoardFilter(insurer_id=3, received_from=date(2026, 11, 2), received_to=date(2026, 11, 9))
    assert board_url(filters) == "/board?insurer=3&from=2026-11-02&to=2026-11-09"
    assert filter_from_query({"insurer": "3", "from": "2026-11-02", "to": "2026-11-09"}) == (filters, [])


def test_no_filter_is_the_plain_board():
    assert board_url(BoardFilter()) == "/board"
    assert filter_from_query({}) == (BoardFilter(), [])


def test_the_search_text_never_goes_into_the_address():
    assert filter_to_query(BoardFilter(text="Müller")) == {}


@pytest.mark.parametrize(("params", "ignored"), [
    ({"insurer": "drei"}, ["insurer"]), ({"insurer": "0"}, ["insurer"]), ({"status": "paid,lost"}, ["status"]),
    ({"region": "12"}, ["region"]), ({"region": "x"}, ["region"]), ({"from": "02.11.2026"}, ["from"]),
    ({"partner_kind": "bakery"}, ["partner_kind"]), ({"deadline": "soon"}, ["deadline"]),
    ({"damage_type": "fire"}, ["damage_type"]),
])
def test_a_bad_value_is_ignored_and_named(params, ignored):
    assert filter_from_query(params | {"clerk": "7"}) == (BoardFilter(clerk_id=7), ignored)


def test_an_end_before_the_start_is_ignored():
    filters, ignored = filter_from_query({"from": "2026-11-09", "to": "2026-11-02"})
    assert (filters, ignored) == (BoardFilter(received_from=date(2026, 11, 9)), ["to"])


def test_unknown_parameters_are_no_filter():
    assert filter_from_query({"utm_source": "mail"}) == (BoardFilter(), [])


@pytest.mark.parametrize("fields", [{"region": "12"}, {"region": "a"},
                                    {"received_from": date(2026, 11, 9), "received_to": date(2026, 11, 9)}])
def test_filter_refuses_impossible_values(fields):
    with pytest.raises(ValueError):
        BoardFilter(**fields)
