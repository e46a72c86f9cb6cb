"""outcome_record_batch and the stats selectors, on whichever database DATABASE_URL names
(PostgreSQL under `make test`, SQLite under `make test-fast`)."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from outcomes import storage
from outcomes.models import AuctionOutcome, OutcomeDailyRollup
from outcomes.rows import InvalidOutcome, OutcomeRow
from outcomes.selectors import DailyStats, OutcomeStats, outcome_daily_stats, outcome_stats
from outcomes.services import outcome_batch_listener_add, outcome_record_batch
from outcomes.tests.factories import BASE_TIME, outcome_message, outcome_messages, outcome_rows
from pipeline.messages import AuctionOutcomeMessage as Message
from pipeline.messages import format_time

pytestmark = pytest.mark.django_db

Q4 = Decimal("0.0001")


def snapshot() -> tuple[list[Any], list[Any]]:
    """Every stored row and rollup row, every column."""
    rows = list(AuctionOutcome.objects.order_by("id").values())
    rollups = list(OutcomeDailyRollup.objects.order_by("day").values())
    return rows, rollups


def brute_stats(rows: list[AuctionOutcome]) -> OutcomeStats:
    """The SPEC §7 stats computed the slow, obvious way over the stored rows."""
    total = len(rows)
    wins = [r for r in rows if r.win_status]
    revenue = sum((r.win_price for r in wins), Decimal(0))
    bid_sum = sum((r.bid_price for r in rows), Decimal(0))

    def div(a: Decimal, b: int, q: Decimal = Q4) -> Decimal:
        return (a / b).quantize(q, rounding=ROUND_HALF_UP) if b else Decimal(0).quantize(q)

    return OutcomeStats(
        total_outcomes=total,
        total_wins=len(wins),
        total_losses=total - len(wins),
        total_revenue=revenue.quantize(Q4),
        average_win_price=div(revenue, len(wins)),
        average_bid_price=div(bid_sum, total),
        enriched_count=sum(r.enriched for r in rows),
        win_rate=div(Decimal(len(wins) * 100), total, Decimal("0.01")),
    )


def brute_daily(rows: list[AuctionOutcome]) -> list[DailyStats]:
    days: dict[Any, list[AuctionOutcome]] = {}
    for r in rows:
        days.setdefault(r.timestamp.astimezone(UTC).date(), []).append(r)
    out = []
    for day in sorted(days):
        s = brute_stats(days[day])
        out.append(
            DailyStats(
                date=day,
                total=s.total_outcomes,
                wins=s.total_wins,
                revenue=s.total_revenue,
                avg_win_price=s.average_win_price,
            )
        )
    return out


def assert_stats_match_rows() -> None:
    rows = list(AuctionOutcome.objects.all())
    assert outcome_stats() == brute_stats(rows)
    assert outcome_stats(queryset=AuctionOutcome.objects.all()) == brute_stats(rows)
    assert outcome_daily_stats() == brute_daily(rows)
    assert outcome_daily_stats(queryset=AuctionOutcome.objects.all()) == brute_daily(rows)


def test_batch_is_inserted() -> None:
    batch = outcome_messages(25)
    assert outcome_record_batch(rows=outcome_rows(batch)) == 25
    assert AuctionOutcome.objects.count() == 25
    assert set(AuctionOutcome.objects.values_list("bid_id", flat=True)) == {m.bid_request_id for m in batch}
    assert_stats_match_rows()


def test_stored_fields_equal_the_message() -> None:
    message = outcome_message(
        bid_request_id="req-abc",
        imp_id="slot-2",
        user_id="user-007",
        site_domain="shop.example",
        received_at="2026-11-26T12:00:00.123Z",
        auction_timestamp="2026-11-26T12:00:00.140Z",
        bid_price=1.2,
        bid_floor=0.75,
        winning_interest="travel",
        user_interests=["travel", "food"],
        won=True,
    )
    before = timezone.now()
    outcome_record_batch(rows=outcome_rows([message]))
    row = AuctionOutcome.objects.get()
    assert (row.bid_id, row.imp_id, row.user_id, row.site_domain) == ("req-abc", "slot-2", "user-007", "shop.example")
    assert (row.win_status, row.win_price, row.bid_price, row.bid_floor) == (
        True,
        Decimal("1.2000"),
        Decimal("1.2000"),
        Decimal("0.7500"),
    )
    assert (row.currency, row.enriched, row.winning_interest, row.loss_reason) == ("USD", True, "travel", None)
    assert row.user_interests == ["travel", "food"]
    assert row.creative_id == "cr-travel"
    # Event time is the request's received_at, not the insert time.
    assert row.timestamp == datetime(2026, 11, 26, 12, 0, 0, 123000, tzinfo=UTC)
    assert row.auction_timestamp == datetime(2026, 11, 26, 12, 0, 0, 140000, tzinfo=UTC)
    assert before <= row.created_at <= timezone.now()
    assert row.raw_data == msgspec.to_builtins(message)
    assert row.is_winner


def test_awkward_strings_are_stored_exactly() -> None:
    awkward = "tab\there\nnew\rline \\N back\\slash \"quoted\" 'single' ünïcødé 🎯"
    message = outcome_message(
        user_id="\\N",  # the text of COPY's NULL marker, not a NULL
        site_domain=awkward[:255],
        winning_interest="a\tb",
        user_interests=[awkward, "\\", ""],
    )
    outcome_record_batch(rows=outcome_rows([message]))
    row = AuctionOutcome.objects.get()
    assert (row.user_id, row.site_domain, row.winning_interest) == ("\\N", awkward[:255], "a\tb")
    assert row.user_interests == [awkward, "\\", ""]
    assert row.raw_data == msgspec.to_builtins(message)


def test_lost_outcome_with_nulls_is_stored() -> None:
    message = outcome_message(
        user_id=None, site_domain=None, winning_interest=None, ad_creative=None, enriched=False, won=False
    )
    outcome_record_batch(rows=outcome_rows([message]))
    row = AuctionOutcome.objects.get()
    assert (row.user_id, row.site_domain, row.winning_interest, row.creative_id) == (None, None, None, None)
    assert (row.win_status, row.win_price, row.loss_reason, row.user_interests) == (False, Decimal(0), "lost", [])


def test_redelivered_batch_changes_nothing() -> None:
    batch = outcome_messages(10)
    assert outcome_record_batch(rows=outcome_rows(batch)) == 10
    before = snapshot()
    assert outcome_record_batch(rows=outcome_rows(batch)) == 0
    # Even a re-run of the auction (new auction_timestamp) is the same outcome: nothing changes.
    rerun = [msgspec.structs.replace(m, auction_timestamp=format_time(BASE_TIME + timedelta(days=1))) for m in batch]
    assert outcome_record_batch(rows=outcome_rows(rerun)) == 0
    assert snapshot() == before


def test_overlapping_batches_store_each_outcome_once() -> None:
    messages = outcome_messages(15)
    assert outcome_record_batch(rows=outcome_rows(messages[:10])) == 10
    assert outcome_record_batch(rows=outcome_rows(messages[5:])) == 5
    assert AuctionOutcome.objects.count() == 15
    [rollup] = OutcomeDailyRollup.objects.all()
    assert rollup.total == 15
    assert_stats_match_rows()


def test_duplicates_inside_one_batch_count_once() -> None:
    message = outcome_message()
    assert outcome_record_batch(rows=outcome_rows([message, message, message])) == 1
    assert OutcomeDailyRollup.objects.get().total == 1
    assert_stats_match_rows()


def test_unstorable_outcome_fails_the_batch_and_stores_nothing() -> None:
    batch = [outcome_message(), outcome_message(received_at="not a time")]
    with pytest.raises(InvalidOutcome):
        outcome_record_batch(rows=outcome_rows(batch))
    assert snapshot() == ([], [])


def test_empty_set_stats_are_zeros() -> None:
    assert outcome_record_batch(rows=outcome_rows([])) == 0
    zero, zero2 = Decimal("0.0000"), Decimal("0.00")
    expected = OutcomeStats(
        total_outcomes=0,
        total_wins=0,
        total_losses=0,
        total_revenue=zero,
        average_win_price=zero,
        average_bid_price=zero,
        enriched_count=0,
        win_rate=zero2,
    )
    assert outcome_stats() == expected
    assert outcome_stats(queryset=AuctionOutcome.objects.none()) == expected
    assert outcome_daily_stats() == []
    assert outcome_daily_stats(queryset=AuctionOutcome.objects.all()) == []


def test_stats_values() -> None:
    day1 = [
        outcome_message(received=BASE_TIME, bid_price=1.2, won=True),
        outcome_message(received=BASE_TIME, bid_price=0.85, won=True, enriched=False),
        outcome_message(received=BASE_TIME, bid_price=0.6, won=False),
    ]
    day2 = [outcome_message(received=BASE_TIME + timedelta(days=1), bid_price=0.35, won=False)]
    outcome_record_batch(rows=outcome_rows(day2 + day1))
    assert outcome_stats() == OutcomeStats(
        total_outcomes=4,
        total_wins=2,
        total_losses=2,
        total_revenue=Decimal("2.0500"),
        average_win_price=Decimal("1.0250"),
        average_bid_price=Decimal("0.7500"),
        enriched_count=3,
        win_rate=Decimal("50.00"),
    )
    assert outcome_daily_stats() == [
        DailyStats(date=BASE_TIME.date(), total=3, wins=2, revenue=Decimal("2.0500"), avg_win_price=Decimal("1.0250")),
        DailyStats(
            date=(BASE_TIME + timedelta(days=1)).date(),
            total=1,
            wins=0,
            revenue=Decimal("0.0000"),
            avg_win_price=Decimal("0.0000"),
        ),
    ]
    outcome_record_batch(rows=outcome_rows([outcome_message(received=BASE_TIME, won=False)]))
    assert outcome_stats().win_rate == Decimal("40.00")


def test_filtered_stats_use_the_rows() -> None:
    outcome_record_batch(rows=outcome_rows([outcome_message(user_id="a", bid_price=1.0), outcome_message(user_id="b")]))
    stats = outcome_stats(queryset=AuctionOutcome.objects.filter(user_id="a"))
    assert (stats.total_outcomes, stats.total_revenue, stats.win_rate) == (1, Decimal("1.0000"), Decimal("100.00"))


def test_listeners_get_the_newly_stored_rows_after_commit(django_capture_on_commit_callbacks) -> None:
    seen: list[list[OutcomeRow]] = []
    remove = outcome_batch_listener_add(listener=lambda stored: seen.append(list(stored)))
    failing = outcome_batch_listener_add(listener=lambda stored: 1 / 0)  # logged, never fatal
    stored_before = REGISTRY.get_sample_value("helios_outcomes_stored_total") or 0.0
    duplicates_before = REGISTRY.get_sample_value("helios_outcomes_duplicates_total") or 0.0
    try:
        first, second = outcome_messages(2)
        with django_capture_on_commit_callbacks(execute=True):
            outcome_record_batch(rows=outcome_rows([first]))
            assert seen == []  # not before the commit
        with django_capture_on_commit_callbacks(execute=True):
            outcome_record_batch(rows=outcome_rows([first, second]))
    finally:
        remove()
        failing()
    assert seen == [outcome_rows([first]), outcome_rows([second])]
    assert REGISTRY.get_sample_value("helios_outcomes_stored_total") == stored_before + 2
    assert REGISTRY.get_sample_value("helios_outcomes_duplicates_total") == duplicates_before + 1


def test_single_writer_fallback_gives_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """The paths for databases without INSERT ... ON CONFLICT ... RETURNING / upsert."""
    monkeypatch.setattr(storage, "supports_insert_returning", lambda: False)
    monkeypatch.setattr(connection.features, "supports_update_conflicts_with_target", False)
    messages = outcome_messages(8)
    assert outcome_record_batch(rows=outcome_rows(messages[:5])) == 5
    assert outcome_record_batch(rows=outcome_rows(messages[3:] + messages[3:4])) == 3
    assert OutcomeDailyRollup.objects.get().total == 8
    assert_stats_match_rows()


# --- rollups equal a brute-force computation, over random sets of outcomes and re-deliveries ---

KEYS = st.tuples(st.sampled_from([f"req-{i}" for i in range(12)]), st.sampled_from(["1", "2"]))


@st.composite
def random_outcomes(draw: st.DrawFn) -> Message:
    bid_id, imp_id = draw(KEYS)
    received = BASE_TIME + timedelta(milliseconds=draw(st.integers(-86_400_000, 3 * 86_400_000)))
    bid = draw(st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False))
    return outcome_message(
        bid_request_id=bid_id,
        imp_id=imp_id,
        received=received,
        bid_price=float(bid),
        won=draw(st.booleans()),
        enriched=draw(st.booleans()),
        user_id=draw(st.one_of(st.none(), st.sampled_from(["u1", "u2"]))),
    )


@given(
    batches=st.lists(st.lists(random_outcomes(), max_size=12), max_size=5),
    redeliver=st.lists(st.integers(min_value=0, max_value=4), max_size=3),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rollups_equal_brute_force(batches: list[list[Message]], redeliver: list[int]) -> None:
    AuctionOutcome.objects.all().delete()
    OutcomeDailyRollup.objects.all().delete()
    inserted = 0
    for batch in batches + [batches[i] for i in redeliver if i < len(batches)]:
        inserted += outcome_record_batch(rows=outcome_rows(batch))
    keys = {(m.bid_request_id, m.imp_id) for batch in batches for m in batch}
    assert inserted == AuctionOutcome.objects.count() == len(keys)
    assert_stats_match_rows()


def test_awkward_text_and_exact_money_are_stored_as_sent() -> None:
    """Tabs, newlines, quotes, backslashes and non-ASCII in text and JSON columns, and 4-place
    prices, come back from the database exactly as the message had them."""
    awkward = 'tab\there\nnew "quoted" back\\slash \\N é 🎯'
    message = outcome_message(
        bid_request_id="awk-1", user_id=awkward, site_domain=awkward, bid_price=1.2345, user_interests=[awkward, "x"]
    )
    assert outcome_record_batch(rows=outcome_rows([message])) == 1
    stored = AuctionOutcome.objects.get(bid_id="awk-1")
    assert (stored.user_id, stored.site_domain, stored.user_interests) == (awkward, awkward, [awkward, "x"])
    assert stored.bid_price == Decimal("1.2345")
    assert stored.raw_data["user_id"] == awkward
