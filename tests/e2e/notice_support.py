"""The post-auction loop as real role processes (auction and outcomes on Kafka and PostgreSQL), fed
RTB bids (`bid_responses`, as `/openrtb2/bid` produces them) and notices (`auction_notices`, as the
handler's `/notice/*` produce them) straight to Kafka; the ledger is the recording fake of
auction/tests/fakes.py, its calls appended to a file the test reads."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from pipeline import topics
from pipeline.messages import AuctionNotice, BidResponse, encode, format_time
from pipeline.transports import bootstrap_servers

CAMPAIGN = 42
BID_MICROS = 2_000_000


def rtb_bid(bid_id: str, *, age_s: float = 0) -> BidResponse:
    received = format_time(datetime.now(UTC) - timedelta(seconds=age_s))
    return BidResponse(
        bid_request_id=f"req-{bid_id}", imp_id="1", received_at=received, bid_price=2.0, bid_floor=0.5,
        timestamp=received, enriched=False, source="rtb", campaign_id=CAMPAIGN, creative_id="cr-42",
        bid_id=bid_id, price_cpm=2.0,
    )  # fmt: skip


def notice(kind: str, bid_id: str, *, clearing: int | None = 1_500_000, loss: int | None = None) -> AuctionNotice:
    return AuctionNotice(
        kind=kind, request_id=f"req-{bid_id}", imp_id="1", bid_id=bid_id, campaign_id=CAMPAIGN,  # type: ignore[arg-type]
        crid="cr-42", price_micros=BID_MICROS, user_id=None, issued_at=int(datetime.now(UTC).timestamp()),
        clearing_micros=clearing, loss_code=loss, received_at=format_time(datetime.now(UTC)),
    )  # fmt: skip


class Feed:
    """Produces bids and notices to the test's topics, acks=all, keyed by request id."""

    def __init__(self) -> None:
        self.producer = Producer({"bootstrap.servers": ",".join(bootstrap_servers()), "enable.idempotence": True})

    def bids(self, *bids: BidResponse) -> None:
        for bid in bids:
            self.producer.produce(topics.resolved(topics.BID_RESPONSES), encode(bid), bid.bid_request_id.encode())
        assert self.producer.flush(30) == 0

    def notices(self, *notices: AuctionNotice) -> None:
        for item in notices:
            self.producer.produce(topics.resolved(topics.AUCTION_NOTICES), encode(item), item.request_id.encode())
        assert self.producer.flush(30) == 0


def ledger_calls(path: Path) -> Counter[tuple[str, str, Any]]:
    """Each (op, bid id, clearing micros) the role processes applied to the fake ledger, counted."""
    if not path.exists():
        return Counter()
    return Counter(tuple(json.loads(line)) for line in path.read_text().splitlines() if line.strip())
