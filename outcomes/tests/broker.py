"""Helpers for driving the outcomes role on arroyo's in-process broker, one loop step at a time."""

import time
from collections.abc import Callable

from arroyo.backends.kafka import KafkaPayload
from arroyo.types import Partition, Topic

from pipeline import topics
from pipeline.roles import consumer_group
from pipeline.runner import BuiltRole
from pipeline.transports import LocalTransport


def input_partition() -> Partition:
    return Partition(Topic(topics.resolved(topics.AUCTION_OUTCOMES)), 0)


def produce(transport: LocalTransport, value: bytes, key: bytes = b"k") -> None:
    transport.broker.produce(input_partition(), KafkaPayload(key, value, []))


def committed(transport: LocalTransport) -> int:
    """The outcomes group's committed offset on the input partition (0: nothing committed)."""
    return transport.broker._committed.get(input_partition(), {}).get(consumer_group("outcomes"), 0)


def dlq(transport: LocalTransport) -> list[KafkaPayload]:
    partition = Partition(Topic(topics.dlq(topics.resolved(topics.AUCTION_OUTCOMES))), 0)
    out, offset = [], 0
    while (value := transport.storage.consume(partition, offset)) is not None:
        out.append(value.payload)
        offset += 1
    return out


def run_until(role: BuiltRole, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the role did not get there in time"
        role.processor._run_once()


def run_for(role: BuiltRole, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        role.processor._run_once()
