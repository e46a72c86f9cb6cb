"""The runtime on arroyo's in-process broker: the auction role as the demo of a transform role."""

import msgspec
import pytest
from arroyo.types import Partition, Topic

from auction.consumer import auction_settings
from auction.rules import run_auction
from pipeline import topics
from pipeline.messages import AuctionOutcomeMessage, BidResponse, decode, encode
from pipeline.runner import build_role
from pipeline.strategies import ERROR_HEADER
from pipeline.testing import produce, read_all, run_until
from pipeline.transports import BoundedMemoryStorage, LocalTransport


def response(i: int, price: float = 0.85) -> BidResponse:
    return BidResponse(
        bid_request_id=f"req-{i}",
        imp_id="1",
        received_at="2026-11-26T12:00:00.000Z",
        bid_price=price,
        bid_floor=0.0,
        timestamp="2026-11-26T12:00:00.001Z",
        enriched=False,
    )


@pytest.fixture
def transport():
    return LocalTransport(partitions=3)


def test_every_input_gives_exactly_one_output_with_the_rule_result(transport, settings):
    for i in range(300):
        produce(transport, topics.BID_RESPONSES, encode(response(i, price=[0, 0.3, 0.35, 1.2][i % 4])), partition=i % 3)
    role = build_role("auction", transport)
    run_until(role, lambda: len(read_all(transport, topics.AUCTION_OUTCOMES)) >= 300)

    outcomes = [decode(p.value, AuctionOutcomeMessage) for p in read_all(transport, topics.AUCTION_OUTCOMES)]
    assert sorted(o.bid_request_id for o in outcomes) == sorted(f"req-{i}" for i in range(300))
    for outcome in outcomes:
        expected = run_auction(
            bid_price=outcome.bid_price,
            bid_request_id=outcome.bid_request_id,
            imp_id=outcome.imp_id,
            settings=auction_settings(),
        )
        assert (outcome.win_status, outcome.win_price, outcome.loss_reason) == (
            expected.win_status,
            expected.win_price,
            expected.loss_reason,
        )
    # Every input offset is committed once the outputs exist.
    committed = transport.broker._LocalBroker__offsets["helios-auction"]
    assert sum(committed.values()) == 300


def test_poison_message_goes_to_dlq_with_reason_and_role_continues(transport):
    produce(transport, topics.BID_RESPONSES, b"{not json")
    produce(transport, topics.BID_RESPONSES, msgspec.json.encode({"bid_request_id": 7}))
    produce(transport, topics.BID_RESPONSES, encode(response(1)))
    role = build_role("auction", transport)
    run_until(role, lambda: len(read_all(transport, topics.AUCTION_OUTCOMES)) >= 1)

    dead = sorted(
        read_all(transport, topics.dlq(topics.BID_RESPONSES)), key=lambda p: dict(p.headers)["original_offset"]
    )
    assert [p.value for p in dead] == [b"{not json", b'{"bid_request_id":7}']
    reasons = [dict(p.headers)[ERROR_HEADER].decode() for p in dead]
    assert "DecodeError" in reasons[0]
    assert "ValidationError" in reasons[1] and "bid_request_id" in reasons[1]
    assert dict(dead[0].headers)["original_offset"] == b"0"
    [outcome] = read_all(transport, topics.AUCTION_OUTCOMES)
    assert decode(outcome.value, AuctionOutcomeMessage).bid_request_id == "req-1"


def test_local_storage_frees_what_every_group_committed(transport):
    for i in range(50):
        produce(transport, topics.BID_RESPONSES, encode(response(i)))
    role = build_role("auction", transport)
    run_until(role, lambda: len(read_all(transport, topics.AUCTION_OUTCOMES)) >= 50)
    partition = Partition(Topic(topics.resolved(topics.BID_RESPONSES)), 0)
    assert transport.storage.size(partition) == 0  # consumed and committed: memory released
    # Nobody consumes auction_outcomes here, so those stay until retention.
    assert len(read_all(transport, topics.AUCTION_OUTCOMES)) == 50


def test_retention_caps_a_partition_nobody_consumes():
    storage = BoundedMemoryStorage(retention=10)
    topic = Topic("t")
    storage.create_topic(topic, 1)
    from arroyo.backends.kafka import KafkaPayload

    offsets = [storage.produce(Partition(topic, 0), KafkaPayload(None, b"x", []), None).offset for _ in range(25)]  # type: ignore[arg-type]
    assert offsets == list(range(25))  # offsets keep growing
    assert storage.size(Partition(topic, 0)) == 10
    assert storage.consume(Partition(topic, 0), 24) is not None


def test_a_dlq_offset_is_not_committed_ahead_of_a_batch_still_held(transport, settings):
    settings.HELIOS_BATCH_TIME_S = 3600.0  # the batch stays open until the role stops
    settings.HELIOS_ADAPTIVE_BATCHES = False  # (as when the rate fills its window)
    settings.HELIOS_COMMIT_INTERVAL_S = 0.0  # and any offset handed to the commit step is committed
    produce(transport, topics.BID_RESPONSES, encode(response(1)))
    produce(transport, topics.BID_RESPONSES, b"poison")
    produce(transport, topics.BID_RESPONSES, encode(response(2)))
    role = build_role("auction", transport)
    for _ in range(50):
        role.processor._run_once()
    assert len(read_all(transport, topics.dlq(topics.BID_RESPONSES))) == 1
    assert read_all(transport, topics.AUCTION_OUTCOMES) == []
    committed = transport.broker._LocalBroker__offsets["helios-auction"]
    assert sum(committed.values()) == 0, "nothing may be committed before the held batch is produced"
    role.shutdown()
    role.run()
    assert len(read_all(transport, topics.AUCTION_OUTCOMES)) == 2
    assert sum(transport.broker._LocalBroker__offsets["helios-auction"].values()) == 3
