"""Layer 3: the intake app on uvicorn (in this process) with the real producer and the real broker."""

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from unittest.mock import ANY

import pytest
from confluent_kafka import Producer

from conftest import free_port
from intake.app import create_app
from intake.producer import IntakeProducer, Unavailable, wait_reachable
from intake.server import build_server
from intake.tests.helpers import high_watermarks, read_messages
from pipeline import topics
from pipeline.messages import BidRequest, Imp, decode
from pipeline.transports import producer_config


@dataclass
class Handler:
    port: int
    producer: IntakeProducer

    @property
    def topic(self) -> str:
        return self.producer.topic

    def request(
        self,
        method: str,
        path: str = "/bid",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if chunked and body is not None:
                pieces = [body[i : i + 4096] for i in range(0, len(body), 4096)]
                # The server may answer early (413 at the limit) and close: its answer is still readable.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    connection.request(method, path, body=iter(pieces), headers=headers or {}, encode_chunked=True)
            else:
                connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def post(self, doc: Any, content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", "/bid", json.dumps(doc).encode(), {"Content-Type": content_type})


@contextlib.contextmanager
def running_handler(producer: IntakeProducer) -> Iterator[Handler]:
    """The intake app on a real uvicorn server in a thread, stopped the way `serve()` stops it."""
    stop = threading.Event()
    port = free_port()
    server = build_server(create_app(producer), stop, host="127.0.0.1", port=port)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn exited during start-up"
        time.sleep(0.02)
    try:
        yield Handler(port, producer)
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not stop when asked"


@pytest.fixture
def handler(topic_prefix) -> Iterator[Handler]:
    producer = IntakeProducer.from_settings().start()
    try:
        # A topic created a moment ago may take a moment to show in the metadata.
        assert wait_reachable(producer, timeout_s=15), producer.last_error
        with running_handler(producer) as running:
            yield running
    finally:
        producer.close()


def only_message(topic: str, request_id: str) -> BidRequest:
    messages = read_messages(topic, expect=1)
    assert len(messages) == 1
    assert messages[0].key() == request_id.encode()
    return decode(messages[0].value(), BidRequest)


@pytest.mark.kafka
def test_simple_bid_is_acknowledged_by_kafka_then_accepted(handler):
    doc = {
        "request_id": "req-12345",
        "user_id": "user-001",
        "site": {"domain": "news.com", "page": "https://news.com/a"},
        "device": {"ip": "192.0.2.1", "user_agent": "Mozilla/5.0"},
        "ad_slots": [{"id": "slot-1", "min_bid": 0.5, "format": ["300x250"]}],
    }
    status, _, body = handler.post(doc)
    assert status == 202
    assert json.loads(body) == {"status": "accepted", "request_id": "req-12345", "imps": 1}
    message = only_message(handler.topic, "req-12345")
    assert message == BidRequest(
        request_id="req-12345",
        request_digest=ANY,  # its own tests: test_validation.py
        user_id="user-001",
        received_at=message.received_at,
        source="helios",
        site_domain="news.com",
        site_page="https://news.com/a",
        device_ip="192.0.2.1",
        device_ua="Mozilla/5.0",
        imps=[Imp(imp_id="slot-1", bidfloor=0.5, media="banner", w=300, h=250)],
    )
    assert message.received_at.endswith("Z")


@pytest.mark.kafka
def test_openrtb_bid_is_acknowledged_by_kafka_then_accepted(handler):
    doc = {
        "id": "ortb-1",
        "imp": [
            {"id": "1", "bidfloor": 0.4, "banner": {"format": [{"w": 728, "h": 90}]}},
            {"id": "2", "video": {"mimes": ["video/mp4"]}, "bidfloorcur": "EUR"},
        ],
        "app": {"bundle": "com.example.game"},
        "device": {"ua": "Agent/1", "ip": "198.51.100.7"},
        "user": {"buyeruid": "user-007"},
        "tmax": 150,
        "test": 1,
        "regs": {"coppa": 0},
        "ext": {"ignored": True},
    }
    status, _, body = handler.post(doc, content_type="application/json; charset=utf-8")
    assert status == 202
    assert json.loads(body) == {"status": "accepted", "request_id": "ortb-1", "imps": 2}
    message = only_message(handler.topic, "ortb-1")
    assert message == BidRequest(
        request_id="ortb-1",
        request_digest=ANY,  # its own tests: test_validation.py
        user_id="user-007",
        received_at=message.received_at,
        source="openrtb",
        site_domain="com.example.game",
        device_ip="198.51.100.7",
        device_ua="Agent/1",
        tmax_ms=150,
        test=True,
        imps=[
            Imp(imp_id="1", bidfloor=0.4, media="banner", w=728, h=90),
            Imp(imp_id="2", bidfloorcur="EUR", media="video"),
        ],
    )


def _ortb(**extra: Any) -> dict[str, Any]:
    return {"id": "r-1", "imp": [{"id": "1"}], **extra}


VALID = json.dumps(_ortb()).encode()
JSON_CT = {"Content-Type": "application/json"}
HUGE = VALID[:-1] + b', "ext": "' + b"x" * 70 * 1024 + b'"}'


class Case(NamedTuple):
    name: str
    expected: int
    body: bytes = VALID
    method: str = "POST"
    path: str = "/bid"
    headers: dict[str, str] = JSON_CT
    chunked: bool = False


def j(doc: Any) -> bytes:
    return json.dumps(doc).encode()


MALFORMED = [
    Case("not JSON", 400, b"hello"),
    Case("JSON array", 400, b"[" + VALID + b"]"),
    Case("JSON string", 400, b'"bid"'),
    Case("JSON number", 400, b"42"),
    Case("JSON null", 400, b"null"),
    Case("empty body", 400, b""),
    Case("truncated JSON", 400, VALID[:-3]),
    Case("trailing garbage", 400, VALID + b"x"),
    Case("invalid UTF-8", 400, b'{"request_id": "r\xff"}'),
    Case("invalid UTF-8 in an ignored member", 400, VALID[:-1] + b', "ext": "\xc3\x28"}'),
    Case("UTF-16 body", 400, json.dumps(_ortb()).encode("utf-16")),
    Case("deep nesting", 400, b'{"a":' * 3000 + b"1" + b"}" * 3000),
    Case("deep nesting in ext", 400, VALID[:-1] + b', "ext": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
    Case("70 KiB body", 413, HUGE),
    Case("70 KiB body, chunked", 413, HUGE, chunked=True),
    Case("text/plain", 415, headers={"Content-Type": "text/plain"}),
    Case("form encoded", 415, headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("JSON in latin-1", 415, headers={"Content-Type": "application/json; charset=latin-1"}),
    Case("OpenRTB without imp", 400, j({"id": "r-1", "site": {"domain": "a.com"}})),
    Case("imp null", 400, j(_ortb(imp=None))),
    Case("empty imp", 400, j(_ortb(imp=[]))),
    Case("imp an object", 400, j(_ortb(imp={"id": "1"}))),
    Case("imp without id", 400, j(_ortb(imp=[{"bidfloor": 1}]))),
    Case("imp id not a string", 400, j(_ortb(imp=[{"id": 1}]))),
    Case("negative floor", 400, j(_ortb(imp=[{"id": "1", "bidfloor": -0.5}]))),
    Case("bidfloor a string", 400, j(_ortb(imp=[{"id": "1", "bidfloor": "0.5"}]))),
    Case("bidfloorcur not ISO 4217", 400, j(_ortb(imp=[{"id": "1", "bidfloorcur": "dollars"}]))),
    Case("duplicate imp ids", 400, j(_ortb(imp=[{"id": "1"}, {"id": "1"}]))),
    Case("over-long request id", 400, j(_ortb(id="x" * 129))),
    Case("over-long simple request_id", 400, j({"request_id": "x" * 129})),
    Case("over-long imp id", 400, j(_ortb(imp=[{"id": "i" * 129}]))),
    Case("too many imps", 400, j(_ortb(imp=[{"id": str(i)} for i in range(17)]))),
    Case("too many ad slots", 400, j({"ad_slots": [{"id": str(i)} for i in range(17)]})),
    Case("user not an object", 400, j(_ortb(user="user-001"))),
    Case("site not an object", 400, j(_ortb(site=["a.com"]))),
    Case("device.ua not a string", 400, j(_ortb(device={"ua": 5}))),
    Case("test is 2", 400, j(_ortb(test=2))),
    Case("tmax a string", 400, j(_ortb(tmax="100"))),
    Case("simple request_id a number", 400, j({"request_id": 12345})),
    Case("simple negative min_bid", 400, j({"ad_slots": [{"min_bid": -1}]})),
    Case("simple format not WxH", 400, j({"ad_slots": [{"format": ["big"]}]})),
    Case("simple user_id an object", 400, j({"user_id": {"id": "u"}})),
    Case("GET", 405, b"", "GET", headers={}),
    Case("PUT", 405, method="PUT"),
    Case("DELETE", 405, b"", "DELETE", headers={}),
    Case("PATCH", 405, method="PATCH"),
    Case("wrong path", 404, path="/bids"),
]


@pytest.mark.kafka
def test_malformed_requests_get_4xx_and_never_reach_kafka(handler):
    before = high_watermarks(handler.topic)
    answers = {}
    for case in MALFORMED:
        status, headers, body = handler.request(case.method, case.path, case.body, case.headers, chunked=case.chunked)
        answers[case.name] = status
        if status == 400:
            document = json.loads(body)
            assert document["error"] == "invalid_request", case.name
            assert document["detail"], case.name
            assert all(set(d) == {"loc", "msg"} for d in document["detail"]), case.name
        if status == 405:
            assert headers["allow"] == "POST", case.name
    assert answers == {case.name: case.expected for case in MALFORMED}
    # Give any stray message time to land before counting.
    time.sleep(1.0)
    assert high_watermarks(handler.topic) == before
    # The count does move for a valid request: the check above can see a stray message.
    assert handler.request("POST", "/bid", VALID, JSON_CT)[0] == 202
    assert high_watermarks(handler.topic) == before + 1


def test_malformed_table_is_large_enough():
    assert len(MALFORMED) >= 30
    assert len({case.name for case in MALFORMED}) == len(MALFORMED)


@pytest.mark.kafka
def test_healthz_is_ok_while_the_broker_is_reachable(handler):
    status, _, body = handler.request("GET", "/healthz")
    assert (status, body) == (200, b"ok")


@pytest.mark.kafka
def test_healthz_is_503_when_the_topic_is_missing(topic_prefix, settings):
    settings.HELIOS_TOPIC_PREFIX = f"{topic_prefix}missing_"
    producer = IntakeProducer.from_settings().start()
    try:
        assert not producer.reachable()
        assert "missing" in producer.last_error
        with running_handler(producer) as handler:
            assert handler.request("GET", "/healthz")[0] == 503
            status, headers, _ = handler.request("POST", "/bid", VALID, JSON_CT)
            assert status == 503
            assert headers["retry-after"] == str(settings.HELIOS_RETRY_AFTER_S)
    finally:
        producer.close()


@pytest.mark.kafka
def test_many_concurrent_bids_are_all_in_kafka(handler, settings):
    ids = [f"conc-{i}" for i in range(200)]
    statuses: list[int] = []

    def post(request_id: str) -> None:
        statuses.append(handler.post({"request_id": request_id})[0])

    threads = [threading.Thread(target=post, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * len(ids)
    # Every 202 was acknowledged (acks=all) before the reader starts, so each message is below its
    # partition's high watermark: the reader reads every partition up to it (no consumer group).
    keys = sorted(m.key().decode() for m in read_messages(handler.topic, expect=len(ids)))
    # On a failure, the watermarks tell a lost message (fewer than sent) from a reading problem.
    assert keys == sorted(ids), (
        f"missing {sorted(set(ids) - set(keys))}, read {len(keys)}; the topic's high watermarks sum to "
        f"{high_watermarks(handler.topic, settings.HELIOS_TOPIC_PARTITIONS)}"
    )


@pytest.mark.kafka
def test_reader_returns_every_message_below_the_watermarks(topic_prefix, settings):
    """`read_messages` is done when each partition is read up to its high watermark: neither a count
    nor a consumer group decides, so a slow group join or a rebalance cannot make it miss one."""
    topic = topics.resolved(topics.BID_REQUESTS)
    producer = Producer(producer_config())
    keys = [f"r-{i}" for i in range(60)]
    for key in keys:
        producer.produce(topic, b"{}", key.encode())
    assert producer.flush(30) == 0
    first = read_messages(topic)  # no `expect`: the watermarks alone say when it is done
    assert sorted(m.key().decode() for m in first) == sorted(keys)
    assert {m.partition() for m in first} == set(range(settings.HELIOS_TOPIC_PARTITIONS))
    # No state is left behind (no committed offsets): a second read returns the same messages.
    assert [(m.partition(), m.offset()) for m in read_messages(topic)] == [(m.partition(), m.offset()) for m in first]


# --- the broker is unreachable (no Kafka needed: the producer points at a closed port) ---


@pytest.fixture
def unreachable_producer(settings) -> Iterator[IntakeProducer]:
    settings.HELIOS_INTAKE_DEADLINE_S = 0.5
    producer = IntakeProducer.from_settings(**{"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    producer.health_timeout_s = 0.3
    producer.start()
    try:
        yield producer
    finally:
        producer.close(timeout_s=1)


def test_unreachable_broker_gives_503_with_retry_after_and_healthz_503(unreachable_producer, settings):
    assert not unreachable_producer.reachable()
    with running_handler(unreachable_producer) as handler:
        started = time.monotonic()
        status, headers, body = handler.request("POST", "/bid", VALID, JSON_CT)
        assert status == 503
        assert headers["retry-after"] == str(settings.HELIOS_RETRY_AFTER_S)
        assert json.loads(body) == {"error": "unavailable"}
        assert time.monotonic() - started < 5
        assert handler.request("GET", "/healthz")[0] == 503
        # Invalid requests are still told so: validation does not need the broker.
        assert handler.request("POST", "/bid", b"[]", JSON_CT)[0] == 400


def test_no_ack_within_the_deadline_is_unavailable(unreachable_producer):
    import asyncio

    started = time.monotonic()
    with pytest.raises(Unavailable) as info:
        asyncio.run(unreachable_producer.publish(b"k", b"{}"))
    assert info.value.reason in ("timeout", "delivery_failed")
    assert time.monotonic() - started < 3


def test_full_producer_queue_is_unavailable(settings):
    import asyncio

    settings.HELIOS_PRODUCER_QUEUE_MAX = 1
    settings.HELIOS_INTAKE_DEADLINE_S = 0.5
    producer = IntakeProducer.from_settings(**{"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    producer.health_timeout_s = 0.3
    producer.start()

    async def two_at_once() -> list[BaseException | None]:
        results = await asyncio.gather(
            producer.publish(b"a", b"{}"), producer.publish(b"b", b"{}"), return_exceptions=True
        )
        return list(results)

    try:
        first, second = asyncio.run(two_at_once())
        assert isinstance(second, Unavailable)
        assert second.reason == "queue_full"
        assert isinstance(first, Unavailable)  # nobody acknowledges it either
    finally:
        producer.close(timeout_s=1)
