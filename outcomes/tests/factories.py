"""Factories for outcomes.

`OutcomeMessageFactory` (typed shortcuts: `outcome_message`, `outcome_messages`) builds
`auction_outcomes` messages: store them with `outcome_record_batch(rows=outcome_rows(messages))`
(the sink's path: each message to its row, then the batch insert), which keeps the rollups (and so the stats) in step. `AuctionOutcomeFactory`
creates rows directly, for list/filter tests: such rows are NOT in the rollups, so unfiltered stats
(read from the rollups) do not see them.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import factory
from factory.django import DjangoModelFactory

from outcomes.models import AuctionOutcome
from outcomes.rows import OutcomeRow, outcome_row
from pipeline import messages

BASE_TIME = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
INTERESTS = ["sports", "technology", "travel", "food", "finance", "gaming", "music", "automotive", "fitness", "fashion"]


class OutcomeMessageFactory(factory.Factory):
    """A consistent `AuctionOutcomeMessage`; `won=False` makes a lost one (`win_price` 0)."""

    class Meta:
        model = messages.AuctionOutcomeMessage

    class Params:
        won = True
        received = factory.Sequence(lambda n: BASE_TIME + timedelta(seconds=n))

    bid_request_id = factory.Sequence(lambda n: f"req-{n:06d}")
    imp_id = "1"
    user_id = factory.Sequence(lambda n: f"user-{n % 20 + 1:03d}")
    received_at = factory.LazyAttribute(lambda o: messages.format_time(o.received))
    site_domain = "news.com"
    bid_price = 0.85
    bid_floor = 0.5
    currency = "USD"
    timestamp = factory.LazyAttribute(lambda o: messages.format_time(o.received + timedelta(milliseconds=2)))
    enriched = True
    winning_interest = factory.Sequence(lambda n: INTERESTS[n % len(INTERESTS)])
    interest_score = 0.8
    user_interests = factory.LazyAttribute(lambda o: [o.winning_interest] if o.winning_interest else [])
    ad_creative = factory.LazyAttribute(
        lambda o: messages.AdCreative(
            creative_id=f"cr-{o.winning_interest or 'default'}",
            title="An ad",
            image_url="https://cdn.example/ad.png",
            landing_url="https://example.com/",
            bid_tier="standard",
        )
    )
    win_status = factory.LazyAttribute(lambda o: o.won)
    win_price = factory.LazyAttribute(lambda o: o.bid_price if o.won else 0.0)
    auction_timestamp = factory.LazyAttribute(lambda o: messages.format_time(o.received + timedelta(milliseconds=3)))
    loss_reason = factory.LazyAttribute(lambda o: None if o.won else "lost")


def outcome_message(**overrides: Any) -> messages.AuctionOutcomeMessage:
    """`OutcomeMessageFactory.build(**overrides)`, typed."""
    return cast(messages.AuctionOutcomeMessage, OutcomeMessageFactory.build(**overrides))


def outcome_messages(count: int, **overrides: Any) -> list[messages.AuctionOutcomeMessage]:
    return [outcome_message(**overrides) for _ in range(count)]


def outcome_rows(outcomes: Iterable[messages.AuctionOutcomeMessage]) -> list[OutcomeRow]:
    """The rows the sink stores for these messages."""
    return [outcome_row(outcome) for outcome in outcomes]


class AuctionOutcomeFactory(DjangoModelFactory):
    """A stored row, created directly (bypasses the rollups: see the module docstring)."""

    class Meta:
        model = AuctionOutcome

    class Params:
        won = True

    bid_id = factory.Sequence(lambda n: f"req-{n:06d}")
    imp_id = "1"
    user_id = factory.Sequence(lambda n: f"user-{n % 20 + 1:03d}")
    site_domain = "news.com"
    win_status = factory.LazyAttribute(lambda o: o.won)
    bid_price = Decimal("0.8500")
    win_price = factory.LazyAttribute(lambda o: o.bid_price if o.won else Decimal("0.0000"))
    bid_floor = Decimal("0.5000")
    currency = "USD"
    enriched = True
    winning_interest = factory.Sequence(lambda n: INTERESTS[n % len(INTERESTS)])
    user_interests = factory.LazyAttribute(lambda o: [o.winning_interest] if o.winning_interest else [])
    creative_id = factory.LazyAttribute(lambda o: f"cr-{o.winning_interest or 'default'}")
    loss_reason = factory.LazyAttribute(lambda o: None if o.won else "lost")
    timestamp = factory.Sequence(lambda n: BASE_TIME + timedelta(seconds=n))
    auction_timestamp = factory.LazyAttribute(lambda o: o.timestamp + timedelta(milliseconds=3))
    raw_data = factory.LazyAttribute(
        lambda o: {
            "bid_request_id": o.bid_id,
            "imp_id": o.imp_id,
            "user_id": o.user_id,
            "received_at": messages.format_time(o.timestamp),
            "site_domain": o.site_domain,
            "bid_price": float(o.bid_price),
            "bid_floor": float(o.bid_floor),
            "currency": o.currency,
            "enriched": o.enriched,
            "winning_interest": o.winning_interest,
            "user_interests": o.user_interests,
            "win_status": o.win_status,
            "win_price": float(o.win_price),
            "auction_timestamp": messages.format_time(o.auction_timestamp),
            "loss_reason": o.loss_reason,
        }
    )
