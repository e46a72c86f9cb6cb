"""Message -> row values, and what is refused before it reaches the database. No database."""

from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest
from django.db.models import CharField

from outcomes.models import AuctionOutcome
from outcomes.rows import MAX_LENGTHS, ROW_FIELDS, InvalidOutcome, outcome_row, to_money
from outcomes.tests.factories import outcome_message


def test_row_carries_the_message() -> None:
    message = outcome_message(
        bid_request_id="req-1",
        request_digest="0123456789abcdef",
        imp_id="2",
        received_at="2026-11-26T12:00:00.123Z",
        bid_price=1.2,
        won=True,
    )
    row = outcome_row(message)
    assert row.key == ("req-1", "0123456789abcdef", "2")
    assert row.timestamp == datetime(2026, 11, 26, 12, 0, 0, 123000, tzinfo=UTC)
    assert row.day == datetime(2026, 11, 26).date()
    assert (row.win_price, row.bid_price, row.bid_floor) == (Decimal("1.2000"), Decimal("1.2000"), Decimal("0.5000"))
    assert message.ad_creative is not None
    assert row.creative_id == message.ad_creative.creative_id
    assert msgspec.json.decode(row.raw_data) == msgspec.to_builtins(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.35, "0.3500"),
        (0.85, "0.8500"),
        (1.23456, "1.2346"),
        (0.00005, "0.0001"),
        (0.0, "0.0000"),
        (1e7, "10000000.0000"),
    ],
)
def test_money_is_decimal_with_four_places(value: float, expected: str) -> None:
    assert str(to_money(value, "x")) == expected


def test_day_is_the_utc_day_of_received_at() -> None:
    row = outcome_row(outcome_message(received_at="2026-11-26T23:30:00.000-02:00"))
    assert row.day == datetime(2026, 11, 27).date()


def test_time_without_offset_is_taken_as_utc() -> None:
    row = outcome_row(outcome_message(received_at="2026-11-26T12:00:00.000"))
    assert row.timestamp == datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "overrides",
    [
        {"received_at": "yesterday"},
        {"auction_timestamp": "2026-13-01T00:00:00Z"},
        {"bid_price": float("inf")},
        {"win_price": 1e9},
        {"user_id": "u" * 129},
        {"site_domain": "s" * 256},
        {"currency": "DOLLARS!!"},
        {"winning_interest": "i" * 65},
        {"site_domain": "bad\x00domain"},
        {"user_interests": ["ok", "n\x00ul"]},
    ],
)
def test_unstorable_outcomes_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidOutcome):
        outcome_row(outcome_message(**overrides))


def test_escaped_backslash_u0000_text_is_not_a_nul() -> None:
    row = outcome_row(outcome_message(site_domain="odd\\u0000.example"))
    assert row.site_domain == "odd\\u0000.example"


def test_length_limits_match_the_columns() -> None:
    columns = {f.name: f.max_length for f in AuctionOutcome._meta.get_fields() if isinstance(f, CharField)}
    assert columns == MAX_LENGTHS


def test_row_fields_are_the_stored_columns() -> None:
    """The insert takes its column list from the row's fields: they name every column but the id
    and the insert time, in the table's order."""
    columns = [f.column for f in AuctionOutcome._meta.concrete_fields if f.column not in ("id", "created_at")]
    assert list(ROW_FIELDS) == columns
