"""Fuzzing the pipeline at its topics (SPEC §3: a poison message never stops or crashes a role).

Hundreds of payloads no role can use go straight into each topic of a running pipeline (real
Kafka, every role its own process): random bytes, damaged and truncated messages, wrong types,
JSON nested deeper than any decoder recurses, outcomes that decode but cannot be stored. Then bid
requests that decode but carry hostile values everywhere the schema allows. Afterwards: every role
is the same process as before, each garbage message sits in its topic's DLQ, every hostile
impression is either stored or dead-lettered, and valid bids sent last are all stored as the rules
say.
"""

import os
import random
import time

import msgspec
import pytest
from confluent_kafka import Producer

from intake.tests.helpers import high_watermarks
from outcomes.models import AuctionOutcome
from pipeline import topics
from pipeline.messages import AuctionNotice, AuctionOutcomeMessage, BidRequest, BidResponse, encode
from pipeline.transports import bootstrap_servers
from tests.e2e.harness import Platform, expected_outcomes, make_bids, post_all, wait_for
from tests.e2e.test_pipeline import assert_matches_rules, redis_url, stored
from tests.faults.support import metric_value
from tests.fuzz.garbage import garbage, hostile_request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PER_TOPIC = 300
HOSTILE_REQUESTS = 60
KINDS: dict[str, type[msgspec.Struct]] = {
    topics.BID_REQUESTS: BidRequest,
    topics.BID_RESPONSES: BidResponse,
    topics.AUCTION_OUTCOMES: AuctionOutcomeMessage,
    topics.AUCTION_NOTICES: AuctionNotice,
}
# auction_notices has two consumers; the auction role dead-letters, the outcomes role skips.
CONSUMER = {
    topics.BID_REQUESTS: "bidder",
    topics.BID_RESPONSES: "auction",
    topics.AUCTION_OUTCOMES: "outcomes",
    topics.AUCTION_NOTICES: "auction",
}


@pytest.fixture
def platform(topic_prefix, tmp_path):
    with Platform(tmp_path, topic_prefix, redis_url()) as pf:
        pf.seed_profiles()
        yield pf


def produce_all(messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": ",".join(bootstrap_servers()), "linger.ms": 5})
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


def dlq_counts() -> dict[str, int]:
    return {t: high_watermarks(topics.dlq(topics.resolved(t))) for t in topics.PIPELINE_TOPICS}


def test_garbage_and_hostile_messages_in_every_topic_crash_no_role(platform):
    seed = int(os.environ.get("HELIOS_FUZZ_SEED") or time.time_ns() % 2**32)
    rng = random.Random(seed)
    note = f"(HELIOS_FUZZ_SEED={seed}; role logs in {platform.workdir})"
    platform.start_all()
    pids = {role: proc.pid for role, proc in platform.procs.items()}

    produce_all(
        [
            (topics.resolved(topic), f"garbage-{i}".encode(), garbage(rng, kind))
            for topic, kind in KINDS.items()
            for i in range(PER_TOPIC)
        ]
    )
    want = dict.fromkeys(topics.PIPELINE_TOPICS, PER_TOPIC)
    wait_for(lambda: dlq_counts() == want, 90, f"{PER_TOPIC} messages in each DLQ {note}", interval_s=0.5)
    for topic, role in CONSUMER.items():
        dlq_name = topics.dlq(topics.resolved(topic))
        counted = metric_value(platform.metrics(role), f'helios_dlq_messages_total{{topic="{dlq_name}"}}')
        assert counted == PER_TOPIC, (role, counted, note)

    # Decodable, hostile: each impression is stored, or dead-lettered by the outcomes role.
    hostile = [hostile_request(rng, i) for i in range(HOSTILE_REQUESTS)]
    produce_all([(topics.resolved(topics.BID_REQUESTS), r.request_id.encode(), encode(r)) for r in hostile])
    impressions = sum(len(r.imps) for r in hostile)

    def accounted() -> int:
        stored_rows = AuctionOutcome.objects.filter(bid_id__startswith="hostile-").count()
        return stored_rows + dlq_counts()[topics.AUCTION_OUTCOMES] - PER_TOPIC

    wait_for(lambda: accounted() >= impressions, 90, f"{impressions} hostile impressions accounted {note}")
    assert accounted() == impressions, note
    assert dlq_counts()[topics.BID_REQUESTS] == dlq_counts()[topics.BID_RESPONSES] == PER_TOPIC

    sent = post_all(platform.handler_port, make_bids(200, seed=17))
    assert {s.status for s in sent} == {202}
    expected = expected_outcomes(sent)
    wait_for(lambda: set(expected) <= set(stored()), 90, f"valid bids stored after the fuzz {note}", interval_s=0.5)
    rows = {key: row for key, row in stored().items() if key in expected}
    assert_matches_rules(expected, rows)

    for role, proc in platform.procs.items():
        assert proc.poll() is None, f"{role} exited with {proc.returncode} {note}"
        assert proc.pid == pids[role], f"{role} was restarted {note}"
