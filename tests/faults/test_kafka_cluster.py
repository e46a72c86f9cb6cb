"""Helios on a 3-broker Kafka cluster: one broker killed with kill -9 mid-stream (then restarted)
while 5,000 bids flow through every role as its own OS process. Nothing accepted is lost, nothing
is stored twice, no role restarts.

The cluster is the test's own (tests/faults/cluster.py: free ports, data under the tmp dir), so
this case may run beside the shared single-node broker. Topics are created the way a user creates
them, `manage.py kafka_topics` with the 3-broker bootstrap list: the defaults must give 3 replicas
and min.insync.replicas 2. The row goes to test-artifacts/kafka_cluster.json (and .md); `python -m
tests.faults.report --update-docs` puts it into docs/reliability.md.
"""

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import ConfigResource
from django.conf import settings
from django.db import connection
from django.test import override_settings

from conftest import REPO, service_env
from outcomes.models import AuctionOutcome
from pipeline import topics
from profiles.demo import DEMO_BY_ID
from tests.e2e.harness import Platform, make_bids, wait_for
from tests.faults.cluster import KafkaCluster
from tests.faults.report import write_markdown
from tests.faults.support import CaseResult, Sender, accepted_keys, group_backlog, record_result, sent_keys
from tests.faults.test_fault_matrix import DuplicateMeter, dlq_total, duplicate_rows, stored_keys

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BIDS = 5000
FAULT_AFTER = 1200  # bids answered before the broker is killed
DOWN_FOR_S = 5.0  # the killed broker stays down this long (bids keep flowing) before its restart
RESULTS = "kafka_cluster.json"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[KafkaCluster]:
    kafka = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster")).start()
    try:
        yield kafka
    finally:
        kafka.stop()


def create_topics(cluster: KafkaCluster, prefix: str) -> str:
    """`manage.py kafka_topics` as a user runs it against the cluster, with the default settings."""
    env = service_env(KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap, HELIOS_TOPIC_PREFIX=prefix)
    for name in ("HELIOS_TOPIC_REPLICATION_FACTOR", "HELIOS_TOPIC_MIN_INSYNC_REPLICAS"):
        env.pop(name, None)
    run = subprocess.run(
        [sys.executable, "manage.py", "kafka_topics"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def replication(cluster: KafkaCluster) -> dict[str, tuple[set[int], str]]:
    """Per topic: the replica counts of its partitions and its min.insync.replicas."""
    admin = cluster.admin()
    names = topics.all_topics()
    metadata = admin.list_topics(timeout=30).topics
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    configs = {r.name: f.result(timeout=30) for r, f in admin.describe_configs(resources).items()}
    return {
        n: ({len(p.replicas) for p in metadata[n].partitions.values()}, configs[n]["min.insync.replicas"].value)
        for n in names
    }


def test_a_broker_killed_mid_stream_loses_and_doubles_nothing(cluster, tmp_path):
    started = time.monotonic()
    prefix = f"c{uuid.uuid4().hex[:10]}_"
    overrides = {
        "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
        "HELIOS_TOPIC_PREFIX": prefix,
        "HELIOS_CONSUMER_GROUP_PREFIX": f"{prefix}helios",
    }
    with override_settings(**overrides):
        out = create_topics(cluster, prefix)
        assert out.count("(created) replication factor 3, min.insync.replicas 2") == len(topics.all_topics()), out
        assert replication(cluster) == dict.fromkeys(topics.all_topics(), ({3}, "2"))

        with Platform(tmp_path, prefix, settings.REDIS_URL, KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap) as platform:
            platform.seed_profiles()
            platform.start_all()
            pids = {role: proc.pid for role, proc in platform.procs.items()}
            bids = make_bids(BIDS, seed=2000)
            dlq_before = dlq_total()
            meter = DuplicateMeter(platform)

            sender = Sender(platform.handler_port, bids).start()
            wait_for(lambda: sender.answered >= FAULT_AFTER, 120, f"{FAULT_AFTER} bids answered")
            # The leader of the handler's first partition: its writes must move to another replica.
            victim = cluster.leader_of(topics.resolved(topics.BID_REQUESTS))
            at_fault = sender.answered
            cluster.kill(victim)
            time.sleep(DOWN_FOR_S)
            notes: dict[str, object] = {
                "killed_node": victim,
                "answered_at_fault": at_fault,
                "answered_while_down": sender.answered - at_fault,
            }
            cluster.start_node(victim)
            cluster.wait_brokers(3)
            sender.join(300)

            accepted = accepted_keys(sender.sent)
            connection.close()
            prefix_ids = "e2e-2000-"
            try:
                wait_for(lambda: accepted <= stored_keys(prefix_ids), 180, "every accepted impression stored", 0.5)
            except TimeoutError:
                missing = sorted(accepted - stored_keys(prefix_ids))
                pytest.fail(f"{len(missing)} accepted impressions not stored, e.g. {missing[:5]}; {group_backlog()}")
            stored = stored_keys(prefix_ids)
            statuses = sender.statuses()
            known_users = [u for u in DEMO_BY_ID if u]
            notes["unenriched_known_users"] = AuctionOutcome.objects.filter(
                bid_id__startswith=prefix_ids, enriched=False, user_id__in=known_users
            ).count()
            result = CaseResult(
                case="kill-broker-3",
                fault="kill -9 one of 3 brokers (RF 3, min ISR 2), restart after 5 s",
                sent_requests=len(bids),
                answers={str(code): n for code, n in sorted(statuses.items())},
                accepted_imps=len(accepted),
                stored=len(stored & accepted),
                lost=len(accepted - stored),
                duplicate_rows=duplicate_rows(prefix_ids),
                duplicate_deliveries=meter.total(),
                stored_without_202=len(stored - accepted),
                dlq=dlq_total() - dlq_before,
                notes=notes,
                duration_s=round(time.monotonic() - started, 1),
            )
            write_markdown(record_result(result, RESULTS))

            assert result.lost == 0
            assert result.stored == result.accepted_imps > 0
            assert result.duplicate_rows == 0
            assert result.dlq == 0
            assert stored - accepted <= sent_keys(sender.sent)
            assert set(statuses) <= {202, 503}, statuses
            for role, proc in platform.procs.items():
                assert proc.poll() is None, f"{role} exited with {proc.returncode}"
                assert proc.pid == pids[role], f"{role} was restarted"
