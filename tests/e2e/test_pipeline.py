"""End to end: every role a separate OS process on the real Kafka, Redis and PostgreSQL."""

import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from outcomes.models import AuctionOutcome
from tests.e2e.harness import Platform, expected_outcomes, make_bids, post_all, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

E2E_REDIS_DB = 5


def redis_url(db: int = E2E_REDIS_DB, port: int | None = None) -> str:
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    if port is not None:
        base = f"redis://127.0.0.1:{port}"
    return f"{base}/{db}"


@pytest.fixture
def platform(topic_prefix, tmp_path):
    with Platform(tmp_path, topic_prefix, redis_url()) as pf:
        pf.seed_profiles()
        yield pf


def stored() -> dict[tuple[str, str], AuctionOutcome]:
    return {(o.bid_id, o.imp_id): o for o in AuctionOutcome.objects.all()}


def wait_stored(count: int, timeout_s: float = 120) -> None:
    wait_for(lambda: AuctionOutcome.objects.count() >= count, timeout_s, f"{count} stored outcomes", interval_s=0.5)
    time.sleep(2)  # anything extra (a duplicate) would show up by now


def assert_matches_rules(expected: dict, rows: dict) -> None:
    assert set(rows) == set(expected)
    for key, want in expected.items():
        row = rows[key]
        got = {
            "user_id": row.user_id,
            "bid_price": float(row.bid_price),
            "enriched": row.enriched,
            "winning_interest": row.winning_interest,
            "no_bid_reason": row.raw_data["no_bid_reason"],
            "win_status": row.win_status,
            "win_price": float(row.win_price),
            "loss_reason": row.loss_reason,
        }
        assert got == want, key


def test_2000_bids_give_one_outcome_per_impression_with_the_rules_values(platform):
    platform.start_all()
    sent = post_all(platform.handler_port, make_bids(2000))
    assert {s.status for s in sent} == {202}
    expected = expected_outcomes(sent)
    assert len(expected) > 2000  # several impressions per OpenRTB request

    wait_stored(len(expected))
    rows = stored()
    assert AuctionOutcome.objects.count() == len(expected)
    assert_matches_rules(expected, rows)
    # The mix really covers the cases the rules distinguish.
    reasons = {(r.raw_data["no_bid_reason"], r.loss_reason, r.enriched) for r in rows.values()}
    assert {("below_floor", "no_bid", True), ("currency", "no_bid", True)} <= reasons
    assert {(None, None, True), (None, "lost", True), (None, None, False)} <= reasons
    assert {r.raw_data["ad_creative"]["bid_tier"] for r in rows.values() if r.raw_data["ad_creative"]} == {
        "premium",
        "standard",
        "mid",
        "base",
    }
    # Event time is the request's received time, before the auction.
    assert all(r.timestamp <= r.auction_timestamp for r in rows.values())


def test_kill_9_of_bidder_auction_and_outcomes_mid_stream_loses_and_doubles_nothing(platform):
    platform.start_all()
    bids = make_bids(5000, seed=11)
    sent = []
    done = threading.Event()

    def send() -> None:
        for start in range(0, len(bids), 250):
            sent.extend(post_all(platform.handler_port, bids[start : start + 250], threads=4))
        done.set()

    sender = threading.Thread(target=send)
    sender.start()

    def sent_at_least(count: int) -> Callable[[], bool]:
        return lambda: len(sent) >= count

    for role, after in (("bidder", 1000), ("auction", 2250), ("outcomes", 3500)):
        wait_for(sent_at_least(after), 120, f"{after} bids sent")
        platform.kill(role)
        time.sleep(0.5)  # bids keep arriving while the role is down
        platform.start(role)
    sender.join(300)
    assert done.is_set()
    assert {s.status for s in sent} == {202}

    expected = expected_outcomes(sent)
    wait_stored(len(expected), timeout_s=180)
    rows = stored()
    assert AuctionOutcome.objects.count() == len(expected)  # nothing lost, nothing doubled
    assert_matches_rules(expected, rows)


def fresh_ids(body: dict) -> dict:
    """The same bid under a new request id (a retried request id would be deduplicated)."""
    return {**body, "request_id": f"{body['request_id']}-{uuid.uuid4().hex[:8]}"}


def breaker_state(platform) -> float:
    match = re.search(r'^circuit_breaker_state\{service="profiles"\} (\S+)$', platform.metrics("bidder"), re.M)
    assert match, "bidder must export circuit_breaker_state"
    return float(match.group(1))


def test_redis_outage_bids_unenriched_then_recovers_without_restarts(topic_prefix, tmp_path, private_redis):
    with Platform(tmp_path, topic_prefix, redis_url(0, private_redis.port), HELIOS_BREAKER_OPEN_S="2") as pf:
        pf.seed_profiles()
        pf.start_all()
        seeded = [b for b in make_bids(400, seed=3) if b.get("user_id", "").startswith("user-")]
        assert len(seeded) >= 60
        first = post_all(pf.handler_port, seeded[:20])
        wait_stored(len(expected_outcomes(first)))
        assert all(o.enriched for o in AuctionOutcome.objects.all())

        private_redis.stop()
        # The bidder looks profiles up once per batch: keep bidding until enough lookups failed to open the breaker.
        during: list = []

        def breaker_opened() -> bool:
            during.extend(post_all(pf.handler_port, [fresh_ids(b) for b in seeded[20:25]]))
            return breaker_state(pf) in (1.0, 2.0)  # open (or probing)

        wait_for(breaker_opened, 60, "the breaker to open", interval_s=0.3)
        assert {s.status for s in during} == {202}
        during_keys = set(expected_outcomes(during))
        wait_for(
            lambda: during_keys <= set(stored()), 60, "outcomes of the bids sent during the outage", interval_s=0.5
        )
        rows = stored()
        assert all(not rows[k].enriched for k in during_keys)
        assert all(float(rows[k].bid_price) in (0.0, 0.35) for k in during_keys)
        assert {rows[k].raw_data["ad_creative"]["bid_tier"] for k in during_keys if rows[k].bid_price} == {"base"}

        private_redis.start()
        pf.seed_profiles()

        def enriched_again() -> bool:
            batch = post_all(pf.handler_port, [fresh_ids(b) for b in seeded[40:45]])
            keys = set(expected_outcomes(batch))
            wait_for(lambda: keys <= set(stored()), 30, "outcomes after recovery", interval_s=0.2)
            rows = stored()
            return all(rows[k].enriched for k in keys)

        wait_for(enriched_again, 60, "bids to be enriched again", interval_s=1)
        assert breaker_state(pf) == 0.0


def test_poison_in_every_topic_goes_to_its_dlq_and_the_pipeline_keeps_flowing(platform, topic_prefix):
    from confluent_kafka import Consumer, Producer

    from pipeline import topics
    from pipeline.strategies import ERROR_HEADER
    from pipeline.transports import bootstrap_servers

    platform.start_all()
    producer = Producer({"bootstrap.servers": ",".join(bootstrap_servers())})
    for topic in topics.PIPELINE_TOPICS:
        producer.produce(topics.resolved(topic), b'{"this is": "not a valid message"', key=f"poison-{topic}")
    producer.flush(10)
    sent = post_all(platform.handler_port, make_bids(20, seed=5))
    expected = expected_outcomes(sent)
    wait_stored(len(expected))
    assert set(stored()) == set(expected)

    reader = Consumer(
        {
            "bootstrap.servers": ",".join(bootstrap_servers()),
            "group.id": f"{topic_prefix}dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([topics.dlq(topics.resolved(t)) for t in topics.PIPELINE_TOPICS])
    dead: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while len(dead) < len(topics.PIPELINE_TOPICS) and time.monotonic() < deadline:
        for message in reader.consume(10, timeout=0.5):
            if message.error() is None:
                dead[str(message.topic())] = message
    reader.close()
    assert set(dead) == {topics.dlq(topics.resolved(t)) for t in topics.PIPELINE_TOPICS}
    for message in dead.values():
        assert (message.key() or b"").startswith(b"poison-")
        headers = dict(message.headers() or [])
        assert b"DecodeError" in headers[ERROR_HEADER]
