"""Layer 1-2: the ASGI app called directly, with a fake publisher (no network)."""

import asyncio
import json
import logging

import pytest
from prometheus_client import REGISTRY

from intake.app import create_app, is_json_media_type
from intake.tests.helpers import FakePublisher, call
from pipeline.messages import BidRequest, decode

SIMPLE = {"request_id": "req-1", "user_id": "user-001", "ad_slots": [{"id": "s1", "min_bid": 0.5}]}
ORTB = {"id": "ortb-1", "imp": [{"id": "1"}, {"id": "2", "video": {}}], "user": {"id": "user-002"}}


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def publisher():
    return FakePublisher()


@pytest.fixture
def app(publisher):
    return create_app(publisher, max_body_bytes=1024, max_imps=16, retry_after_s=3)


def post(app, doc, **kwargs):
    return call(app, "POST", "/bid", json.dumps(doc).encode(), **kwargs)


def test_valid_simple_request_is_published_and_accepted(app, publisher):
    result = post(app, SIMPLE)
    assert result.status == 202
    assert result.json() == {"status": "accepted", "request_id": "req-1", "imps": 1}
    assert result.headers["content-type"] == "application/json"
    [(key, value)] = publisher.published
    assert key == b"req-1"
    message = decode(value, BidRequest)
    assert (message.request_id, message.user_id, message.source) == ("req-1", "user-001", "helios")
    assert message.imps[0].bidfloor == 0.5


def test_valid_openrtb_request_is_published_and_accepted(app, publisher):
    result = post(app, ORTB)
    assert result.status == 202
    assert result.json() == {"status": "accepted", "request_id": "ortb-1", "imps": 2}
    assert decode(publisher.published[0][1], BidRequest).source == "openrtb"


def test_generated_request_id_is_returned_and_used_as_key(app, publisher):
    result = post(app, {})
    request_id = result.json()["request_id"]
    assert publisher.published[0][0] == request_id.encode()


def test_body_may_arrive_in_chunks(app, publisher):
    body = json.dumps(SIMPLE).encode()
    result = call(app, body=[body[:5], body[5:20], body[20:]])
    assert result.status == 202
    assert publisher.published


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; Charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/vnd.openrtb+json",
        "application/vnd.openrtb.bid-request.v2.6+json; charset=utf-8",
    ],
)
def test_json_content_types_are_accepted(app, content_type):
    assert post(app, SIMPLE, content_type=content_type).status == 202


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/json",
        "application/xml",
        "",
        "application/json; charset=latin-1",
    ],
)
def test_other_content_types_get_415(app, publisher, content_type):
    result = post(app, SIMPLE, content_type=content_type)
    assert result.status == 415
    assert result.json() == {"error": "unsupported_media_type"}
    assert not publisher.published


def test_is_json_media_type():
    assert is_json_media_type(b"application/problem+json")
    assert not is_json_media_type(b"application/jsonx")
    assert not is_json_media_type(b"text/plain+json")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_other_methods_on_bid_get_405_with_allow(app, publisher, method):
    result = call(app, method, "/bid", json.dumps(SIMPLE).encode())
    assert result.status == 405
    assert result.headers["allow"] == "POST"
    assert not publisher.published


def test_body_over_the_limit_by_content_length_gets_413_without_reading(app, publisher):
    result = call(app, body=b"{}", headers=[("content-length", "1025")])
    assert result.status == 413
    assert result.received == 0  # refused before reading a byte
    assert result.headers["connection"] == "close"
    assert result.json() == {"error": "payload_too_large", "max_bytes": 1024}
    assert not publisher.published


def test_streamed_body_over_the_limit_gets_413_and_reading_stops(app, publisher):
    chunks = [b" " * 400] * 10  # no Content-Length (chunked): counted while streaming
    result = call(app, body=chunks)
    assert result.status == 413
    assert result.received == 3  # 1200 bytes > 1024: stopped there
    assert not publisher.published


def test_body_exactly_at_the_limit_is_read(app):
    body = json.dumps(SIMPLE).encode()
    padded = body[:-1] + b" " * (1024 - len(body)) + b"}"
    assert len(padded) == 1024
    assert call(app, body=padded).status == 202


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"id": "r", "imp": []}', b'{"ad_slots": [{"min_bid": -1}]}', b'{"a": "\xff"}', b""],
)
def test_invalid_requests_get_400_with_detail(app, publisher, body):
    result = call(app, body=body)
    assert result.status == 400
    document = result.json()
    assert document["error"] == "invalid_request"
    assert document["detail"]
    assert all(set(item) == {"loc", "msg"} for item in document["detail"])
    assert not publisher.published


def test_400_detail_points_at_the_field(app):
    result = post(app, {"id": "r", "imp": [{"id": 1}]})
    assert result.json()["detail"] == [{"loc": "imp[0].id", "msg": "Expected `str`, got `int`"}]


def test_max_imps_comes_from_the_app(publisher):
    app = create_app(publisher, max_body_bytes=1024, max_imps=2, retry_after_s=1)
    assert post(app, {"id": "r", "imp": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}).status == 400


@pytest.mark.parametrize("reason", ["queue_full", "timeout", "delivery_failed"])
def test_publish_failure_gets_503_with_retry_after(app, publisher, reason):
    publisher.fail = reason
    errors_before = metric("kafka_publish_errors_total")
    result = post(app, SIMPLE)
    assert result.status == 503
    assert result.headers["retry-after"] == "3"
    assert result.json() == {"error": "unavailable"}
    assert metric("kafka_publish_errors_total") == errors_before + 1


def test_unreachable_broker_gets_503_without_publishing(app, publisher):
    publisher.is_reachable = False
    result = post(app, SIMPLE)
    assert result.status == 503
    assert result.headers["retry-after"] == "3"
    assert not publisher.published


def test_publish_failures_are_logged_with_the_request_id_and_throttled(app, publisher, caplog):
    publisher.fail = "timeout"
    with caplog.at_level(logging.INFO, logger="intake"):
        for _ in range(5):
            post(app, SIMPLE)
    records = [r for r in caplog.records if r.name == "intake.app"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].request_id == "req-1"


def test_accepted_and_rejected_requests_are_not_logged_at_info(app, caplog):
    with caplog.at_level(logging.INFO):
        post(app, SIMPLE)
        post(app, {"id": 5, "imp": [{}]})
        call(app, "GET", "/bid")
    assert not [r for r in caplog.records if r.name.startswith("intake")]


def test_healthz_follows_broker_reachability(app, publisher):
    result = call(app, "GET", "/healthz", content_type=None)
    assert (result.status, result.body) == (200, b"ok")
    publisher.is_reachable = False
    assert call(app, "GET", "/healthz", content_type=None).status == 503
    assert call(app, "POST", "/healthz").status == 405


@pytest.mark.parametrize("path", ["/", "/bid/", "/bids", "/metrics", "/healthz/x"])
def test_other_paths_get_404(app, path):
    assert call(app, "GET", path).status == 404


def test_metrics_count_answers_by_status_and_time_them(app, publisher):
    before = {s: metric("bid_requests_total", status=s) for s in ("202", "400", "405", "413", "415", "503")}
    count_before = metric("request_processing_duration_seconds_count", endpoint="/bid")
    post(app, SIMPLE)
    call(app, body=b"[]")
    call(app, "GET", "/bid")
    call(app, body=b"{}", headers=[("content-length", "5000")])
    post(app, SIMPLE, content_type="text/plain")
    publisher.fail = "timeout"
    post(app, SIMPLE)
    for status in before:
        assert metric("bid_requests_total", status=status) == before[status] + 1, status
    assert metric("request_processing_duration_seconds_count", endpoint="/bid") == count_before + 6
    assert metric("active_requests") == 0


def test_client_disconnect_mid_body_publishes_nothing(app, publisher):
    before = metric("bid_requests_total", status="client_closed")
    result = call(app, body=[b'{"request_id":'], disconnect=True)
    assert result.status is None
    assert not publisher.published
    assert metric("bid_requests_total", status="client_closed") == before + 1


def test_unexpected_error_gets_500_and_is_logged(publisher, caplog):
    async def broken(key, value):
        raise RuntimeError("boom")

    publisher.publish = broken
    app = create_app(publisher, max_body_bytes=1024, max_imps=16, retry_after_s=1)
    with caplog.at_level(logging.ERROR):
        assert post(app, SIMPLE).status == 500
    assert any(r.exc_info for r in caplog.records)


def test_lifespan_is_acknowledged(app):
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(incoming)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_defaults_come_from_settings(settings, publisher):
    settings.HELIOS_MAX_BODY_BYTES = 10
    settings.HELIOS_RETRY_AFTER_S = 7
    app = create_app(publisher)
    assert post(app, SIMPLE).status == 413
    publisher.is_reachable = False
    assert call(app, body=b"{}").headers["retry-after"] == "7"
