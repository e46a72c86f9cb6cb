"""Kafka topic names. Every topic has a dead-letter twin `<name>_dlq` for messages its consumer
cannot decode or process; the error travels in the DLQ message's headers."""

from django.conf import settings


def _name(base: str) -> str:
    return f"{settings.HELIOS_TOPIC_PREFIX}{base}"


def dlq(topic: str) -> str:
    return f"{topic}_dlq"


# Produced by the handler (intake), consumed by the bidder.
BID_REQUESTS = "bid_requests"
# Produced by the bidder, consumed by the auction.
BID_RESPONSES = "bid_responses"
# Produced by the auction, consumed by the outcomes role (PostgreSQL sink + dashboard).
AUCTION_OUTCOMES = "auction_outcomes"

# Produced by the handler (`/notice/win|bill|loss`, SPEC §14), consumed by the auction role's
# post-auction loop (the ledger) and by the outcomes role (the stored outcome's status).
AUCTION_NOTICES = "auction_notices"

PIPELINE_TOPICS = (BID_REQUESTS, BID_RESPONSES, AUCTION_OUTCOMES, AUCTION_NOTICES)


def resolved(topic: str) -> str:
    """The topic's name on the broker: HELIOS_TOPIC_PREFIX lets tests and tenants share a broker."""
    return _name(topic)


def all_topics() -> list[str]:
    """The pipeline topics and their DLQs, as named on the broker."""
    names = [resolved(t) for t in PIPELINE_TOPICS]
    return names + [dlq(n) for n in names]
