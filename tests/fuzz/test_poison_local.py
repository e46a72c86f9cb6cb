"""Fast regressions (in-process broker, no services) for the poison messages the topic fuzz found:
each used to crash its role, which then crash-looped on the same message after every restart."""

import pytest

from outcomes.models import AuctionOutcome
from outcomes.tests.factories import outcome_message
from pipeline import topics
from pipeline.messages import BidResponse, encode
from pipeline.runner import build_role
from pipeline.strategies import ERROR_HEADER
from pipeline.testing import produce, read_all, run_until
from pipeline.transports import LocalTransport
from tests.fuzz.garbage import OVERFLOWING_TIMES, VALID

DEEP = b'{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(partitions=1)


def test_json_nested_deeper_than_the_decoder_recurses_is_dead_lettered(transport):
    """The decode step is shared by every consumer role; the auction shows it."""
    produce(transport, topics.BID_RESPONSES, DEEP, b"deep")
    produce(transport, topics.BID_RESPONSES, encode(VALID[BidResponse]), b"valid")
    role = build_role("auction", transport)
    run_until(role, lambda: len(read_all(transport, topics.AUCTION_OUTCOMES)) >= 1)

    [dead] = read_all(transport, topics.dlq(topics.BID_RESPONSES))
    assert dead.key == b"deep"
    assert b"RecursionError" in dict(dead.headers)[ERROR_HEADER]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("field", ["received_at", "auction_timestamp"])
@pytest.mark.parametrize("moment", OVERFLOWING_TIMES)
def test_outcome_whose_time_overflows_in_utc_is_dead_lettered(transport, settings, field, moment):
    settings.HELIOS_COMMIT_INTERVAL_S = 0
    good = outcome_message()
    produce(transport, topics.AUCTION_OUTCOMES, encode(outcome_message(**{field: moment})), b"overflow")
    produce(transport, topics.AUCTION_OUTCOMES, encode(good), b"good")
    role = build_role("outcomes", transport)
    run_until(role, lambda: AuctionOutcome.objects.filter(bid_id=good.bid_request_id).exists())

    [dead] = read_all(transport, topics.dlq(topics.AUCTION_OUTCOMES))
    assert dead.key == b"overflow"
    reason = dict(dead.headers)[ERROR_HEADER]
    assert b"OverflowError" in reason or b"InvalidOutcome" in reason
    assert AuctionOutcome.objects.count() == 1
