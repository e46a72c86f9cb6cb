"""The bidder role as `runkafka bidder` builds it (`build_role`), on the in-process broker."""

import msgspec
import pytest

from bidding import consumer
from bidding.tests.fakes import DEMO_PROFILES, FakeLookup, request, unavailable
from pipeline import topics
from pipeline.messages import BidRequest, BidResponse, encode
from pipeline.runner import BuiltRole, build_role
from pipeline.strategies import ERROR_HEADER
from pipeline.testing import produce, read_all, run_until
from pipeline.transports import LocalTransport

PARTITIONS = 3
BID_REQUESTS_DLQ = topics.dlq(topics.BID_REQUESTS)  # read_all resolves the prefix


@pytest.fixture
def lookup(monkeypatch: pytest.MonkeyPatch) -> FakeLookup:
    """The fake that `build_role` -> `bidder_factory(ctx)` gets from the `make_lookup` hook."""
    fake = FakeLookup(DEMO_PROFILES)
    monkeypatch.setattr(consumer, "make_lookup", lambda: fake)
    return fake


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(partitions=PARTITIONS)


@pytest.fixture
def role(lookup: FakeLookup, transport: LocalTransport) -> BuiltRole:
    return build_role("bidder", transport)  # `run_until` stops it


def responses(transport: LocalTransport) -> list[BidResponse]:
    return [msgspec.json.decode(p.value, type=BidResponse) for p in read_all(transport, topics.BID_RESPONSES)]


def send(transport: LocalTransport, *messages: BidRequest) -> None:
    for index, message in enumerate(messages):
        key = message.request_id.encode()
        produce(transport, topics.BID_REQUESTS, encode(message), key, partition=index % PARTITIONS)


def test_one_bid_response_per_impression(role: BuiltRole, transport: LocalTransport, lookup: FakeLookup) -> None:
    send(
        transport,
        request("req-1", "user-premium", 0.5, 2.0),
        request("req-2", "user-mid"),
        request("req-3", None, 0.1),
        request("req-4", "ghost", (0.1, "EUR")),
    )
    run_until(role, lambda: len(responses(transport)) >= 5)

    payloads = read_all(transport, topics.BID_RESPONSES)
    out = {(r.bid_request_id, r.imp_id): r for r in responses(transport)}
    assert len(payloads) == len(out) == 5
    assert {(k, v.bid_price, v.no_bid_reason, v.enriched) for k, v in out.items()} == {
        (("req-1", "1"), 1.2, None, True),
        (("req-1", "2"), 0.0, "below_floor", True),
        (("req-2", "1"), 0.6, None, True),
        (("req-3", "1"), 0.35, None, False),
        (("req-4", "1"), 0.0, "currency", False),
    }
    assert sorted(p.key or b"" for p in payloads) == [
        b"req-1",
        b"req-1",
        b"req-2",
        b"req-3",
        b"req-4",
    ]  # key = request id
    # Batched: each user looked up once, in calls that cover whole batches (not one per message).
    assert sorted(u for ids, _ in lookup.calls for u in ids) == ["ghost", "user-mid", "user-premium"]
    assert "profiles" in role.ctx.ready_checks


def test_poison_message_goes_to_the_dlq_and_the_next_is_processed(role: BuiltRole, transport: LocalTransport) -> None:
    produce(transport, topics.BID_REQUESTS, b"this is not json", b"bad-1")
    produce(
        transport,
        topics.BID_REQUESTS,
        b'{"request_id": "r-bad", "received_at": "x", "source": "helios", "imps": []}',
        b"bad-2",
    )
    send(transport, request("req-ok", "user-standard", 0.5))
    run_until(role, lambda: len(responses(transport)) >= 1 and len(read_all(transport, BID_REQUESTS_DLQ)) >= 2)

    dead = sorted(read_all(transport, BID_REQUESTS_DLQ), key=lambda p: p.key or b"")  # DLQ partitions are random here
    assert [p.key for p in dead] == [b"bad-1", b"bad-2"]
    assert dead[0].value == b"this is not json"
    for p in dead:
        headers = dict(p.headers)
        assert headers[ERROR_HEADER]
        assert headers["original_topic"] == topics.resolved(topics.BID_REQUESTS).encode()
    assert b"imps" in dict(dead[1].headers)[ERROR_HEADER]

    [ok] = responses(transport)
    assert (ok.bid_request_id, ok.bid_price, ok.enriched) == ("req-ok", 0.85, True)


def test_profile_outage_bids_unenriched_and_keeps_going(
    role: BuiltRole, transport: LocalTransport, lookup: FakeLookup
) -> None:
    lookup.error = unavailable()
    send(transport, *[request(f"req-{i}", "user-premium", 0.3) for i in range(50)])
    run_until(role, lambda: len(responses(transport)) >= 50)
    out = responses(transport)
    assert len(out) == 50
    assert {(r.bid_price, r.enriched) for r in out} == {(0.35, False)}
    assert 1 <= len(lookup.calls) <= 5  # one call per batch, and the breaker stops them after 5
    assert read_all(transport, BID_REQUESTS_DLQ) == []
