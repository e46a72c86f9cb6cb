"""Topic administration on the real broker."""

import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings

from pipeline import topics
from pipeline.transports import client_config

TIMEOUT_S = 30.0


def admin_client() -> AdminClient:
    return AdminClient(client_config())


def new_topic(name: str, partitions: int) -> NewTopic:
    """A topic as Helios creates it: HELIOS_TOPIC_REPLICATION_FACTOR replicas, of which
    HELIOS_TOPIC_MIN_INSYNC_REPLICAS must hold a write before the producers (acks=all) get it acked."""
    return NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=settings.HELIOS_TOPIC_REPLICATION_FACTOR,
        config={"min.insync.replicas": str(settings.HELIOS_TOPIC_MIN_INSYNC_REPLICAS)},
    )


def ensure_topics(*, partitions: int, names: list[str] | None = None) -> dict[str, tuple[int, bool]]:
    """Creates the missing topics; returns {name: (partition count, created now)}. Idempotent."""
    admin = admin_client()
    wanted = names or topics.all_topics()
    existing = admin.list_topics(timeout=TIMEOUT_S).topics
    missing = [new_topic(n, partitions) for n in wanted if n not in existing]
    created: set[str] = set()
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=TIMEOUT_S).items():
            try:
                future.result()
                created.add(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    metadata = _wait_listed(admin, wanted)
    return {n: (len(metadata[n].partitions), n in created) for n in wanted}


def _wait_listed(admin: AdminClient, names: list[str]) -> dict:
    """Topic metadata once every topic is listed with a leader for each partition: right after
    creation the broker may not list a topic yet."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        metadata = admin.list_topics(timeout=TIMEOUT_S).topics
        if all(
            n in metadata
            and metadata[n].error is None
            and metadata[n].partitions
            and all(p.leader >= 0 for p in metadata[n].partitions.values())
            for n in names
        ):
            return metadata
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not ready after {TIMEOUT_S} s: {names}")
        time.sleep(0.1)
