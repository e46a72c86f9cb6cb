"""How roles reach each other: real Kafka, or arroyo's in-process LocalBroker for embedded mode.

Both give arroyo `Consumer`/`Producer` objects over `KafkaPayload`, so a role's strategy factory
is the same in both modes; only this wiring differs.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from arroyo.backends.abstract import Consumer, Producer
from arroyo.backends.kafka import KafkaConsumer, KafkaPayload, KafkaProducer
from arroyo.backends.kafka.configuration import (
    build_kafka_configuration,
    build_kafka_consumer_configuration,
)
from arroyo.backends.local.backend import LocalBroker, LocalConsumer
from arroyo.backends.local.storages.abstract import (
    MessageStorage,
    PartitionDoesNotExist,
    TopicDoesNotExist,
    TopicExists,
)
from arroyo.errors import OffsetOutOfRange
from arroyo.types import BrokerValue, Partition, Topic
from django.conf import settings
from prometheus_client import Gauge

from pipeline import topics
from pipeline.adaptive import batching
from pipeline.produce import KafkaOutputProducer

# The stream processor polls with a 1 s timeout; when a batch is waiting for its time limit that
# second would become latency, so polls are capped to this. While a batch is open and messages
# keep coming, a poll does not wait at all (pipeline/adaptive.py).
MAX_POLL_S = 0.005

# linger.ms comes from HELIOS_KAFKA_LINGER_MS (producer_config).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "none",
    "message.timeout.ms": 30_000,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "fetch.wait.max.ms": 10,
    "fetch.error.backoff.ms": 10,
    "fetch.min.bytes": 1,
    # A backlog comes back in 10 MB fetches per partition, not librdkafka's 1 MB: with the
    # default the auction consumed 13,600 messages/s at 0.36 cores, waiting in poll() for the
    # next fetch; with this 34,000-40,000/s (bench/roles.py). No cost at low rates: a fetch
    # still returns as soon as fetch.min.bytes are there.
    "max.partition.fetch.bytes": 10 * 1024 * 1024,
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 1_000,
}
# Messages per partition librdkafka keeps fetched ahead (arroyo's default 10,000; the queue stays
# capped by queued.max.messages.kbytes): with a backlog the next fetch is under way before the
# queue runs dry (bench/roles.py bidder x1 16,300 -> 18,600 requests/s, outcomes 12,800 -> 14,900 rows/s).
QUEUED_MIN_MESSAGES = 100_000


CONSUMER_LAG = Gauge(
    "helios_consumer_lag",
    "Messages in a partition not yet consumed by this role (librdkafka statistics)",
    ["topic", "partition"],
)
# How often librdkafka reports statistics (the consumer lag above).
STATS_INTERVAL_MS = 5_000


def record_consumer_lag(stats_json: str) -> None:
    """librdkafka's statistics callback: publishes the consumer lag of each assigned partition."""
    stats = json.loads(stats_json)
    for topic, info in stats.get("topics", {}).items():
        for partition, numbers in info.get("partitions", {}).items():
            lag = numbers.get("consumer_lag", -1)
            if partition != "-1" and lag >= 0:
                CONSUMER_LAG.labels(topic, partition).set(lag)


class Transport(Protocol):
    def consumer(self, group: str) -> Consumer[KafkaPayload]: ...

    def producer(self, *, dlq: bool = False) -> Producer[KafkaPayload]: ...


class _ShortPollKafkaConsumer(KafkaConsumer):
    def poll(self, timeout: float | None = None) -> BrokerValue[KafkaPayload] | None:
        state = batching()
        message = super().poll(state.poll_timeout(MAX_POLL_S if timeout is None else min(timeout, MAX_POLL_S)))
        state.polled(message is not None)
        return message


def bootstrap_servers() -> list[str]:
    return [s.strip() for s in settings.KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]


def client_config(**overrides: Any) -> dict[str, Any]:
    """What every Kafka client of Helios starts from (producers, consumers, admin, readiness
    probes): the brokers and the TLS/SASL settings of the environment (KAFKA_CLIENT_SECURITY)."""
    return {"bootstrap.servers": ",".join(bootstrap_servers()), **settings.KAFKA_CLIENT_SECURITY, **overrides}


def producer_config(**overrides: Any) -> dict[str, Any]:
    """Plain confluent-kafka producer settings (also used by the intake's own producer)."""
    defaults = {**PRODUCER_DEFAULTS, "linger.ms": settings.HELIOS_KAFKA_LINGER_MS}
    return build_kafka_configuration(defaults, None, client_config(**overrides))


class KafkaTransport:
    def consumer(self, group: str) -> Consumer[KafkaPayload]:
        config = build_kafka_consumer_configuration(
            CONSUMER_DEFAULTS,
            group_id=group,
            auto_offset_reset="earliest",
            queued_min_messages=QUEUED_MIN_MESSAGES,
            override_params=client_config(),
        )
        arroyo_stats = config["stats_cb"]

        def stats(stats_json: str) -> None:
            arroyo_stats(stats_json)
            record_consumer_lag(stats_json)

        config.update({"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": stats})
        # arroyo's default is librdkafka's auto-commit of the offsets it stored (only those of
        # finished messages): its interval, not the CommitPolicy, sets how often offsets are
        # committed. librdkafka's default (5 s) made a crash re-deliver seconds of work.
        config["auto.commit.interval.ms"] = max(1, int(settings.HELIOS_COMMIT_INTERVAL_S * 1000))
        return _ShortPollKafkaConsumer(config)

    def producer(self, *, dlq: bool = False) -> Producer[KafkaPayload]:
        """A role's output producer (`pipeline.produce.KafkaOutputProducer`: a batch at a time,
        no future per message), or with `dlq=True` its dead-letter producer (arroyo's, with the
        standard futures its DLQ buffer waits on)."""
        if dlq:
            return KafkaProducer(producer_config())
        return KafkaOutputProducer(producer_config())


class _Log:
    __slots__ = ("base", "entries")

    def __init__(self) -> None:
        self.base = 0  # offset of entries[0]
        self.entries: deque[tuple[KafkaPayload, datetime]] = deque()


class BoundedMemoryStorage(MessageStorage[KafkaPayload]):
    """In-memory topic storage whose memory stays bounded: `trim()` drops what every consumer group
    has committed, and a partition never keeps more than `retention` messages (like Kafka's
    retention, for topics nobody consumes, such as DLQs)."""

    def __init__(self, retention: int = 100_000) -> None:
        self.retention = retention
        self._topics: dict[Topic, list[_Log]] = {}
        # LocalBroker locks its own calls; trim() comes from outside them, hence a lock here too.
        self._lock = threading.Lock()

    def create_topic(self, topic: Topic, partitions: int) -> None:
        if topic in self._topics:
            raise TopicExists(topic)
        self._topics[topic] = [_Log() for _ in range(partitions)]

    def list_topics(self) -> Iterator[Topic]:
        return iter(list(self._topics))

    def delete_topic(self, topic: Topic) -> None:
        if self._topics.pop(topic, None) is None:
            raise TopicDoesNotExist(topic)

    def get_partition_count(self, topic: Topic) -> int:
        try:
            return len(self._topics[topic])
        except KeyError as exc:
            raise TopicDoesNotExist(topic) from exc

    def _log(self, partition: Partition) -> _Log:
        try:
            logs = self._topics[partition.topic]
        except KeyError as exc:
            raise TopicDoesNotExist(partition.topic) from exc
        if not 0 <= partition.index < len(logs):
            raise PartitionDoesNotExist(partition)
        return logs[partition.index]

    def consume(self, partition: Partition, offset: int) -> BrokerValue[KafkaPayload] | None:
        log = self._log(partition)
        with self._lock:
            end = log.base + len(log.entries)
            if offset == end:
                return None
            if not log.base <= offset < end:
                raise OffsetOutOfRange()
            payload, timestamp = log.entries[offset - log.base]
        return BrokerValue(payload, partition, offset, timestamp)

    def produce(self, partition: Partition, payload: KafkaPayload, timestamp: datetime) -> BrokerValue[KafkaPayload]:
        log = self._log(partition)
        with self._lock:
            offset = log.base + len(log.entries)
            log.entries.append((payload, timestamp))
            if len(log.entries) > self.retention:
                log.entries.popleft()
                log.base += 1
        return BrokerValue(payload, partition, offset, timestamp)

    def trim(self, partition: Partition, below: int) -> None:
        log = self._log(partition)
        with self._lock:
            while log.entries and log.base < below:
                log.entries.popleft()
                log.base += 1

    def size(self, partition: Partition) -> int:
        return len(self._log(partition).entries)


class _TrimmingBroker(LocalBroker[KafkaPayload]):
    """A LocalBroker that frees messages once every group subscribed to their topic committed them."""

    def __init__(self, storage: BoundedMemoryStorage) -> None:
        super().__init__(storage)
        self.storage = storage
        self._groups: dict[Topic, set[str]] = {}
        self._committed: dict[Partition, dict[str, int]] = {}

    def subscribe(self, consumer: LocalConsumer[KafkaPayload], topics: Sequence[Topic]) -> Mapping[Partition, int]:
        for topic in topics:
            self._groups.setdefault(topic, set()).add(consumer.group)
        return super().subscribe(consumer, topics)

    def commit(self, consumer: LocalConsumer[KafkaPayload], offsets: Mapping[Partition, int]) -> None:
        super().commit(consumer, offsets)
        for partition, offset in offsets.items():
            per_group = self._committed.setdefault(partition, {})
            per_group[consumer.group] = offset
            groups = self._groups.get(partition.topic, set())
            if groups and groups <= per_group.keys():
                self.storage.trim(partition, min(per_group[g] for g in groups))


class _IdleWaitLocalConsumer(LocalConsumer[KafkaPayload]):
    """arroyo's LocalConsumer never blocks in poll(); the stream processor would spin a CPU while
    idle. This one waits up to MAX_POLL_S when there is nothing to read, like a Kafka consumer."""

    def poll(self, timeout: float | None = None) -> BrokerValue[KafkaPayload] | None:
        message = super().poll(timeout)
        state = batching()
        if message is None:
            wait = state.poll_timeout(MAX_POLL_S if timeout is None else min(timeout, MAX_POLL_S))
            if wait:
                time.sleep(wait)
        state.polled(message is not None)
        return message


class LocalTransport:
    """The in-process transport of embedded mode: one broker shared by every role in the process."""

    def __init__(self, partitions: int | None = None, retention: int = 100_000) -> None:
        self.storage = BoundedMemoryStorage(retention)
        self.broker = _TrimmingBroker(self.storage)
        count = partitions or settings.HELIOS_TOPIC_PARTITIONS
        for name in topics.all_topics():
            self.broker.create_topic(Topic(name), count)

    def consumer(self, group: str) -> Consumer[KafkaPayload]:
        return _IdleWaitLocalConsumer(self.broker, group)

    def producer(self, *, dlq: bool = False) -> Producer[KafkaPayload]:
        return self.broker.get_producer()


def default_transport() -> Transport:
    if settings.HELIOS_TRANSPORT == "local":
        return LocalTransport()
    return KafkaTransport()
