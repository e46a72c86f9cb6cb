"""The streaming runtime's guarantees on the real local broker, with real role processes."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import REPO, free_port, manage, service_env
from pipeline import topics
from pipeline.admin_kafka import admin_client, ensure_topics
from pipeline.messages import AuctionOutcomeMessage, BidResponse, decode, encode
from pipeline.roles import consumer_group
from pipeline.strategies import ERROR_HEADER
from pipeline.transports import bootstrap_servers

pytestmark = pytest.mark.kafka

N = 2000


def bid_response(i: int) -> BidResponse:
    return BidResponse(
        bid_request_id=f"req-{i}",
        imp_id=str(i % 3),
        received_at="2026-11-26T12:00:00.000Z",
        bid_price=0.85,
        bid_floor=0.0,
        timestamp="2026-11-26T12:00:00.001Z",
        enriched=False,
    )


def producer() -> Producer:
    return Producer({"bootstrap.servers": ",".join(bootstrap_servers()), "enable.idempotence": True})


def read_topic(name: str, *, expect: int, timeout_s: float = 60.0) -> list:
    """All messages of a topic from the beginning, waiting until at least `expect` arrived."""
    consumer = Consumer(
        {
            "bootstrap.servers": ",".join(bootstrap_servers()),
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([name])
    out: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is None:
                    out.append(message)
            if len(out) >= expect:
                # Anything beyond `expect` (duplicates) has had a moment to arrive as well.
                out.extend(m for m in consumer.consume(500, timeout=1.0) if m.error() is None)
                return out
    finally:
        consumer.close()
    return out


def committed_total(group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": ",".join(bootstrap_servers()), "group.id": group})
    try:
        partitions = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in partitions)


def start_auction(prefix: str, log, **env: str):
    return manage(
        "runkafka",
        "auction",
        env=service_env(
            HELIOS_TOPIC_PREFIX=prefix,
            HELIOS_CONSUMER_GROUP_PREFIX=f"{prefix}helios",
            HELIOS_AUCTION_METRICS_PORT=str(free_port()),
            **env,
        ),
        log=log,
    )


def test_kafka_topics_is_idempotent(settings):
    settings.HELIOS_TOPIC_PREFIX = f"t{uuid.uuid4().hex[:10]}_"
    env = service_env(HELIOS_TOPIC_PREFIX=settings.HELIOS_TOPIC_PREFIX)
    runs = [
        subprocess.run(
            [sys.executable, "manage.py", "kafka_topics"], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    try:
        assert runs[0].stdout.count("(created)") == 8  # 4 pipeline topics and their DLQs
        assert "(created)" not in runs[1].stdout
        metadata = admin_client().list_topics(timeout=10).topics
        names = topics.all_topics()
        assert len(names) == 8
        assert {n: len(metadata[n].partitions) for n in names} == dict.fromkeys(names, 3)
        assert ensure_topics(partitions=3) == dict.fromkeys(names, (3, False))
    finally:
        admin_client().delete_topics(topics.all_topics(), operation_timeout=10)


def test_exactly_one_output_per_input_across_kill_9_between_produce_and_commit(topic_prefix, tmp_path, settings):
    source = topics.resolved(topics.BID_RESPONSES)
    sink = topics.resolved(topics.AUCTION_OUTCOMES)
    p = producer()
    for i in range(N):
        p.produce(source, encode(bid_response(i)), key=f"req-{i}")
    p.flush(30)

    # A long commit interval guarantees outputs are produced but their inputs not yet committed.
    role = start_auction(topic_prefix, tmp_path / "auction-1.log", HELIOS_COMMIT_INTERVAL_S="60")
    first = read_topic(sink, expect=N)
    assert len(first) >= N
    role.send_signal(signal.SIGKILL)
    role.wait(10)
    group = consumer_group("auction")
    assert committed_total(group, source) < N, "the kill must land between produce and commit"

    role = start_auction(topic_prefix, tmp_path / "auction-2.log")
    try:
        outputs = read_topic(sink, expect=len(first) + 1, timeout_s=60)
        # The restarted role re-produced what was not committed: duplicates exist on the topic...
        assert len(outputs) > N
        # ...and an idempotent sink (keyed by request and impression) sees every input exactly once.
        sink_rows = {}
        for message in outputs:
            outcome = decode(message.value(), AuctionOutcomeMessage)
            sink_rows[(outcome.bid_request_id, outcome.imp_id)] = outcome
        assert set(sink_rows) == {(f"req-{i}", str(i % 3)) for i in range(N)}
        # Re-processing gives the same deterministic outcome.
        first_seen = {
            (o.bid_request_id, o.imp_id): o.win_status
            for o in (decode(m.value(), AuctionOutcomeMessage) for m in first)
        }
        assert all(sink_rows[k].win_status == v for k, v in first_seen.items())
        deadline = time.monotonic() + 30
        while committed_total(group, source) < N and time.monotonic() < deadline:
            time.sleep(0.2)
        assert committed_total(group, source) == N
    finally:
        role.send_signal(signal.SIGTERM)
        assert role.wait(30) == 0


def test_poison_message_goes_to_dlq_and_the_role_keeps_going(topic_prefix, tmp_path):
    source = topics.resolved(topics.BID_RESPONSES)
    p = producer()
    p.produce(source, b"\x00\x01 definitely not json", key="bad", partition=0)
    p.produce(source, b'{"bid_request_id": 42}', key="bad2", partition=0)
    p.produce(source, encode(bid_response(1)), key="req-1", partition=0)
    p.flush(30)
    role = start_auction(topic_prefix, tmp_path / "auction.log")
    try:
        [good] = read_topic(topics.resolved(topics.AUCTION_OUTCOMES), expect=1)
        assert decode(good.value(), AuctionOutcomeMessage).bid_request_id == "req-1"
        dead = read_topic(topics.dlq(source), expect=2)
        assert sorted(m.key() for m in dead) == [b"bad", b"bad2"]
        for message in dead:
            headers = dict(message.headers())
            assert headers[ERROR_HEADER]
            assert headers["original_topic"] == source.encode()
            assert headers["original_partition"] == b"0"
        assert role.poll() is None, "the role must still be running"
    finally:
        role.send_signal(signal.SIGTERM)
        assert role.wait(30) == 0


def test_unknown_role_exits_2_listing_the_roles():
    result = subprocess.run(
        [sys.executable, "manage.py", "runkafka", "nonsense"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert result.returncode == 2
    for role in ("handler", "bidder", "auction", "outcomes"):
        assert role in result.stderr


def test_manage_check_is_clean():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
