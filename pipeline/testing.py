"""Helpers for tests that drive roles on the in-process broker (fast layer, no services)."""

import time
from collections.abc import Callable

from arroyo.backends.kafka import KafkaPayload
from arroyo.types import Partition, Topic

from pipeline import topics
from pipeline.roles import ROLES, consumer_group
from pipeline.runner import BuiltRole
from pipeline.transports import LocalTransport


def produce(transport: LocalTransport, topic: str, value: bytes, key: bytes = b"k", partition: int = 0) -> None:
    transport.broker.produce(Partition(Topic(topics.resolved(topic)), partition), KafkaPayload(key, value, []))


def read_all(transport: LocalTransport, topic: str) -> list[KafkaPayload]:
    """Every message currently retained on a topic, all partitions."""
    return _read(transport, Topic(topics.resolved(topic)))


def read_dlq(transport: LocalTransport, topic: str) -> list[KafkaPayload]:
    """Every message currently retained on a topic's dead-letter topic, all partitions."""
    return _read(transport, Topic(topics.dlq(topics.resolved(topic))))


def _read(transport: LocalTransport, name: Topic) -> list[KafkaPayload]:
    out: list[KafkaPayload] = []
    for index in range(transport.broker.get_topic_partition_count(name)):
        partition = Partition(name, index)
        offset = transport.storage._log(partition).base
        while (value := transport.storage.consume(partition, offset)) is not None:
            out.append(value.payload)
            offset += 1
    return out


def committed(transport: LocalTransport, role: str, partition: int = 0) -> int:
    """The role's consumer group's committed offset on a partition of its input topic (0: none).
    `role` may name a further stream of a role too (`auction-notices`)."""
    streams = {f"{name}-{s.name}": s.topic for name, spec in ROLES.items() for s in spec.streams}
    topic = streams[role] if role in streams else ROLES[role].topic
    assert topic is not None, f"{role} is not a consumer role"
    offsets = transport.broker._committed.get(Partition(Topic(topics.resolved(topic)), partition), {})
    return offsets.get(consumer_group(role), 0)


def step_until(role: BuiltRole, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Steps a role's stream processor until `done()` holds; the role keeps running."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("role did not reach the expected state")
        role.processor._run_once()


def run_for(role: BuiltRole, seconds: float) -> None:
    """Steps a role's stream processor for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        role.processor._run_once()


def run_until(role: BuiltRole, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Steps a role's stream processor until `done()` holds, then lets it commit and stops it."""
    step_until(role, done, timeout_s)
    role.shutdown()
    role.run()  # finishes in-flight work, commits and closes
