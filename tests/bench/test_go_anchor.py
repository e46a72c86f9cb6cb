"""The Go anchor of the intake benchmark (bench/anchors/) answers like Helios's POST /bid, on the
real broker: 202 only once the message is on the topic, 400 for a bad body, 503 when the broker is
unreachable. Skipped without a Go toolchain."""

import http.client
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.tests.helpers import high_watermarks, read_messages
from pipeline import topics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench/ holds scripts, not a package
import anchor

pytestmark = pytest.mark.kafka


def post(port: int, body: bytes) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/bid", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def go_anchor(topic_prefix) -> Iterator[anchor.Anchor]:
    try:
        anchor.go_binary()
    except RuntimeError:
        pytest.skip("no Go toolchain")
    started = anchor.Anchor(topics.resolved(topics.BID_REQUESTS), Path(tempfile.mkdtemp(prefix="helios-anchor-")))
    started.start()
    yield started
    started.stop()


BID = {
    "request_id": "anchor-1",
    "user_id": "user-001",
    "site": {"domain": "news.com"},
    "ad_slots": [{"id": "slot-1", "min_bid": 0.5, "format": ["300x250"]}],
}


def test_a_bid_is_accepted_once_it_is_on_the_topic(go_anchor):
    status, answer = post(go_anchor.port, json.dumps(BID).encode())
    assert (status, answer) == (202, {"status": "accepted", "request_id": "anchor-1", "imps": 1})
    [message] = read_messages(go_anchor.topic, expect=1)
    assert message.key() == b"anchor-1"
    stored = json.loads(message.value())
    assert stored["ad_slots"][0]["id"] == "slot-1"
    assert stored["received_at"].endswith("Z")


def test_a_bad_body_is_400_and_writes_nothing(go_anchor):
    for body in (b"{not json", json.dumps({"request_id": "r"}).encode()):
        status, answer = post(go_anchor.port, body)
        assert status == 400 and answer["error"] == "invalid_request"
    assert high_watermarks(go_anchor.topic) == 0


def test_an_unreachable_broker_is_503(go_anchor, monkeypatch):
    go_anchor.stop()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    go_anchor.start()
    status, answer = post(go_anchor.port, json.dumps(BID).encode())
    assert (status, answer) == (503, {"error": "unavailable"})
