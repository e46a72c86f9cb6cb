"""`/notice/win|bill|loss` (SPEC §14): in-process with a fake publisher, and on the real broker."""

import json
import time
from urllib.parse import urlencode

import pytest

from intake.app import create_app
from intake.producer import IntakeProducer, wait_reachable
from intake.tests.helpers import FakePublisher, call, read_messages
from pipeline import topics
from pipeline.messages import AuctionNotice, decode
from rtb.notices import notice_routes
from rtb.tokens import NoticeClaims, sign

SECRET = b"notice-secret"
TTL_S = 3600


def claims(**fields) -> NoticeClaims:
    base = {"request_id": "r1", "request_digest": "d1", "imp_id": "1", "bid_id": "b1", "campaign_id": 7,
            "crid": "cr-7", "price_micros": 2_500_000, "user_id": "fan", "issued_at": int(time.time())}  # fmt: skip
    return NoticeClaims(**{**base, **fields})


def app(publisher):
    routes = notice_routes(publisher, secret=SECRET, ttl_s=TTL_S, ack_timeout_s=5)
    return create_app(publisher, max_body_bytes=65536, max_imps=16, retry_after_s=1, routes=routes)


def notice(publisher, kind: str, token: str, method: str = "GET", **params: str):
    query = urlencode({"t": token, "auction": "r1", "bid": "b1", "imp": "1", "cur": "USD", **params})
    return call(app(publisher), method, f"/notice/{kind}", query=query, content_type=None)


def sent(publisher: FakePublisher) -> list[AuctionNotice]:
    return [decode(value, AuctionNotice) for _, _, value in publisher.sent]


@pytest.mark.parametrize("kind", ["win", "bill", "loss"])
def test_a_forged_token_is_403_and_nothing_is_produced(kind):
    publisher = FakePublisher()
    forged = sign(claims(), b"not-the-secret")
    assert notice(publisher, kind, forged, price="1.5", loss="102").status == 403
    assert notice(publisher, kind, "garbage", price="1.5", loss="102").status == 403
    assert notice(publisher, kind, "", price="1.5", loss="102").status == 403
    assert publisher.sent == []


def test_a_tampered_token_is_403():
    publisher = FakePublisher()
    genuine = sign(claims(), SECRET)
    higher = sign(claims(price_micros=99_000_000), SECRET)
    tampered = higher.split(".")[0] + "." + genuine.split(".")[1]  # a dearer bid under the genuine signature
    assert notice(publisher, "bill", tampered, price="50").status == 403
    assert publisher.sent == []


def test_an_expired_token_is_403():
    publisher = FakePublisher()
    old = sign(claims(issued_at=int(time.time()) - TTL_S - 5), SECRET)
    assert notice(publisher, "bill", old, price="1").status == 403
    assert publisher.sent == []


@pytest.mark.parametrize("price", ["2.5001", "3", None, "${AUCTION_PRICE}", "abc", "-1", "NaN", "Infinity", ""])
def test_a_bill_without_a_usable_price_or_above_the_bid_is_400(price):
    publisher = FakePublisher()
    params = {} if price is None else {"price": price}
    result = notice(publisher, "bill", sign(claims(), SECRET), **params)
    assert result.status == 400, result.body
    assert result.json()["error"] == "invalid_notice"
    assert publisher.sent == []


def test_a_loss_needs_an_integer_loss_code():
    publisher = FakePublisher()
    token = sign(claims(), SECRET)
    assert notice(publisher, "loss", token, loss="${AUCTION_LOSS}").status == 400
    assert notice(publisher, "loss", token, loss="lost").status == 400
    assert notice(publisher, "loss", token, loss="99999999999").status == 400
    assert notice(publisher, "loss", token, loss="102", price="1e30").status == 400
    assert publisher.sent == []


def test_a_bill_at_the_bid_price_is_204_with_its_notice_message():
    publisher = FakePublisher()
    result = notice(publisher, "bill", sign(claims(), SECRET), price="2.5")
    assert result.status == 204
    [(topic, key, _)] = publisher.sent
    assert topic == topics.resolved(topics.AUCTION_NOTICES) and key == b"r1"
    [message] = sent(publisher)
    assert (message.kind, message.bid_id, message.campaign_id, message.clearing_micros) == ("bill", "b1", 7, 2_500_000)
    assert (message.price_micros, message.user_id, message.request_id, message.imp_id) == (2_500_000, "fan", "r1", "1")


def test_a_loss_carries_its_code_and_the_winners_price_is_not_bounded_by_the_bid():
    publisher = FakePublisher()
    token = sign(claims(), SECRET)
    assert notice(publisher, "loss", token, price="9.99", loss="102", min="3.01").status == 204
    assert notice(publisher, "loss", token, price="${AUCTION_PRICE}", loss="100").status == 204
    first, second = sent(publisher)
    assert (first.kind, first.loss_code, first.clearing_micros, first.min_to_win_micros) == (
        "loss", 102, 9_990_000, 3_010_000,
    )  # fmt: skip
    assert (second.loss_code, second.clearing_micros) == (100, None)


def test_post_takes_the_parameters_from_a_form_or_a_json_body():
    publisher = FakePublisher()
    token = sign(claims(), SECRET)
    shop = app(publisher)
    form = urlencode({"t": token, "price": "1.25"}).encode()
    assert call(shop, "POST", "/notice/win", form, content_type="application/x-www-form-urlencoded").status == 204
    body = json.dumps({"t": token, "price": 1.5}).encode()
    assert call(shop, "POST", "/notice/bill", body, content_type="application/json").status == 204
    assert call(shop, "POST", "/notice/bill", b"[1]", content_type="application/json").status == 400
    assert call(shop, "PUT", "/notice/bill", body).status == 405
    assert [(m.kind, m.clearing_micros) for m in sent(publisher)] == [("win", 1_250_000), ("bill", 1_500_000)]


def test_a_notice_kafka_does_not_take_is_503_with_retry_after():
    publisher = FakePublisher(fail="queue_full")
    result = notice(publisher, "bill", sign(claims(), SECRET), price="1")
    assert result.status == 503 and result.headers["retry-after"] == "1"
    unacked = FakePublisher(ack=False)
    routes = notice_routes(unacked, secret=SECRET, ttl_s=TTL_S, ack_timeout_s=0.05)
    shop = create_app(unacked, max_body_bytes=65536, max_imps=16, retry_after_s=1, routes=routes)
    query = urlencode({"t": sign(claims(), SECRET), "price": "1"})
    assert call(shop, "GET", "/notice/bill", query=query, content_type=None).status == 503


@pytest.mark.kafka
def test_a_notice_is_answered_204_once_on_the_real_auction_notices_topic(topic_prefix):
    producer = IntakeProducer.from_settings().start()
    try:
        assert wait_reachable(producer, timeout_s=15), producer.last_error
        token = sign(claims(request_id="req-k"), SECRET)
        assert notice(producer, "win", token, price="2").status == 204
        assert notice(producer, "bill", token, "POST", price="2").status == 204
        assert notice(producer, "bill", sign(claims(), b"forged"), price="2").status == 403
    finally:
        producer.close()
    messages = read_messages(topics.resolved(topics.AUCTION_NOTICES), expect=2)
    assert [m.key() for m in messages] == [b"req-k", b"req-k"]
    assert [decode(m.value(), AuctionNotice).kind for m in messages] == ["win", "bill"]


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_a_bill_reaches_the_ledger_and_the_stored_outcome(settings):
    """The handler's publisher of embedded mode (the in-process broker), then the auction and
    outcomes roles' notice streams on it, as `runembedded` wires them."""
    from auction.tests.fakes import SHARED
    from intake.local import LocalPublisher
    from outcomes.models import AuctionOutcome
    from outcomes.services import outcome_record_batch
    from outcomes.tests.factories import outcome_message, outcome_rows
    from pipeline.runner import build_role
    from pipeline.testing import step_until
    from pipeline.transports import LocalTransport

    settings.HELIOS_NOTICE_LEDGER = "auction.tests.fakes.shared_ledger"
    SHARED.__init__()  # type: ignore[misc]
    transport = LocalTransport(partitions=1)
    row = outcome_message(bid_request_id="r1", source="rtb", campaign_id=7, bid_id="b1", bid_price=2.5, price_cpm=2.5,
                          win_status=False, win_price=0.0)  # fmt: skip
    outcome_record_batch(rows=outcome_rows([row]))
    assert notice(LocalPublisher(transport), "bill", sign(claims(), SECRET), price="2.25").status == 204
    auction, outcomes = build_role("auction", transport), build_role("outcomes", transport)
    step_until(auction.streams[0], lambda: SHARED.applied("settle") == {"b1": 2_250_000})
    step_until(outcomes.streams[0], lambda: AuctionOutcome.objects.get(rtb_bid_id="b1").status == "billed")
    for role in (auction, outcomes):
        role.shutdown()
        role.run()
