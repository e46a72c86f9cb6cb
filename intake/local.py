"""The intake's publisher for embedded mode: produces to the in-process broker instead of Kafka.

Memory stays bounded: while the bid_requests backlog (produced, not yet committed by the bidder)
is over HELIOS_LOCAL_BACKLOG_MAX messages, requests are answered 503 like a full Kafka queue.
"""

import asyncio
import zlib

from arroyo.backends.kafka import KafkaPayload
from arroyo.types import Partition, Topic
from django.conf import settings

from intake.producer import Unavailable
from pipeline import topics
from pipeline.transports import LocalTransport


class LocalPublisher:
    def __init__(self, transport: LocalTransport, backlog_max: int | None = None) -> None:
        self.transport = transport
        self.producer = transport.producer()
        self.topic = Topic(topics.resolved(topics.BID_REQUESTS))
        self.partitions = transport.broker.get_topic_partition_count(self.topic)
        self.backlog_max = backlog_max or settings.HELIOS_LOCAL_BACKLOG_MAX

    def backlog(self) -> int:
        return sum(self.transport.storage.size(Partition(self.topic, i)) for i in range(self.partitions))

    async def publish(self, key: bytes, value: bytes) -> None:
        self.send(key, value)

    def enqueue(self, key: bytes, value: bytes, topic: str | None = None) -> "asyncio.Future[None]":
        """Produces at once: the in-process broker holds the message when this returns."""
        self.send(key, value, topic)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def send(self, key: bytes, value: bytes, topic: str | None = None) -> None:
        if self.backlog() >= self.backlog_max:
            raise Unavailable("queue_full", "embedded backlog is full")
        target = Topic(topic) if topic is not None else self.topic
        partitions = self.partitions if topic is None else self.transport.broker.get_topic_partition_count(target)
        # Same key -> same partition, as Kafka's default partitioner does.
        partition = Partition(target, zlib.crc32(key) % partitions)
        self.producer.produce(partition, KafkaPayload(key, value, [])).result()

    # The in-process broker is always there; these match IntakeProducer's interface.
    last_error = ""

    def reachable(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def close(self) -> int:
        """Nothing is left undelivered: `publish` returned only once the broker held the message."""
        return 0
