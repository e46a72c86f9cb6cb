"""Helpers for tests that drive roles on the in-process broker (fast layer, no services)."""

import time
from collections.abc import Callable

from arroyo.backends.kafka import KafkaPayload
from arroyo.types import Partition, Topic

from pipeline import topics
from pipeline.runner import BuiltRole
from pipeline.transports import LocalTransport


def produce(transport: LocalTransport, topic: str, value: bytes, key: bytes = b"k", partition: int = 0) -> None:
    transport.broker.produce(Partition(Topic(topics.resolved(topic)), partition), KafkaPayload(key, value, []))


def read_all(transport: LocalTransport, topic: str) -> list[KafkaPayload]:
    """Every message currently retained on a topic, all partitions."""
    name = Topic(topics.resolved(topic))
    out: list[KafkaPayload] = []
    for index in range(transport.broker.get_topic_partition_count(name)):
        partition = Partition(name, index)
        offset = transport.storage._log(partition).base
        while (value := transport.storage.consume(partition, offset)) is not None:
            out.append(value.payload)
            offset += 1
    return out


def run_until(role: BuiltRole, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Steps a role's stream processor until `done()` holds, then lets it commit and stops it."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("role did not reach the expected state")
        role.processor._run_once()
    role.shutdown()
    role.run()  # finishes in-flight work, commits and closes
