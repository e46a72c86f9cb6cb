import msgspec
import pytest

from pipeline.messages import (
    AdCreative,
    AuctionOutcomeMessage,
    BidRequest,
    BidResponse,
    Imp,
    decode,
    encode,
    format_time,
    parse_time,
    utc_now,
)

REQUEST = BidRequest(
    request_id="req-1",
    user_id="user-001",
    received_at="2026-11-26T12:00:00.123Z",
    source="openrtb",
    site_domain="news.com",
    site_page="https://news.com/a",
    device_ip="192.0.2.1",
    device_ua="Mozilla/5.0",
    tmax_ms=120,
    test=False,
    imps=[Imp(imp_id="1", bidfloor=0.5, bidfloorcur="USD", media="banner", w=300, h=250)],
)
RESPONSE = BidResponse(
    bid_request_id="req-1",
    imp_id="1",
    user_id="user-001",
    received_at="2026-11-26T12:00:00.123Z",
    site_domain="news.com",
    bid_price=1.2,
    bid_floor=0.5,
    timestamp="2026-11-26T12:00:00.130Z",
    enriched=True,
    winning_interest="sports",
    interest_score=0.95,
    user_interests=["sports", "travel"],
    ad_creative=AdCreative(
        creative_id="cr-sports", title="t", image_url="/i.png", landing_url="https://x", bid_tier="premium"
    ),
)


@pytest.mark.parametrize("message", [REQUEST, RESPONSE])
def test_round_trip(message):
    assert decode(encode(message), type(message)) == message


def test_outcome_carries_every_response_field():
    outcome = AuctionOutcomeMessage(
        **msgspec.structs.asdict(RESPONSE),
        win_status=True,
        win_price=1.2,
        auction_timestamp="2026-11-26T12:00:00.140Z",
    )
    data = msgspec.json.decode(encode(outcome))
    assert set(msgspec.json.decode(encode(RESPONSE))) < set(data)
    assert data["loss_reason"] is None and data["win_price"] == 1.2
    assert decode(encode(outcome), AuctionOutcomeMessage) == outcome


def test_wire_format_is_the_spec_json():
    data = msgspec.json.decode(encode(REQUEST))
    assert data["imps"] == [
        {"imp_id": "1", "bidfloor": 0.5, "bidfloorcur": "USD", "media": "banner", "w": 300, "h": 250}
    ]
    assert data["source"] == "openrtb" and data["tmax_ms"] == 120


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"request_id": 5}, "request_id"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"imps": []}, "imps"),
        ({"imps": [{"imp_id": "1", "bidfloor": -1}]}, "bidfloor"),
        ({"imps": [{"imp_id": "1", "media": "hologram"}]}, "media"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"test": "yes"}, "test"),
        ({"tmax_ms": 1.5}, "tmax_ms"),
    ],
)
def test_rejects_wrong_types(patch, where):
    data = msgspec.json.decode(encode(REQUEST))
    data.update(patch)
    with pytest.raises(msgspec.ValidationError, match=where):
        decode(msgspec.json.encode(data), BidRequest)


def test_rejects_missing_required_and_garbage():
    data = msgspec.json.decode(encode(RESPONSE))
    del data["bid_price"]
    with pytest.raises(msgspec.ValidationError, match="bid_price"):
        decode(msgspec.json.encode(data), BidResponse)
    with pytest.raises(msgspec.DecodeError):
        decode(b"\xff\xfe not json", BidResponse)


def test_times_are_rfc3339_utc_milliseconds():
    now = utc_now()
    assert now.endswith("Z") and len(now) == len("2026-11-26T12:00:00.123Z")
    assert format_time(parse_time(now)) == now
