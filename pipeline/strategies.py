"""Building blocks for role strategies on arroyo.

Every consumer role is a chain that ends in `CommitOffsets`, so an offset is committed only after
each step finished with its message: for transform roles after the broker acknowledged every
output of the batch (`pipeline.produce.ProduceBatches`), for sinks after the database commit. A message that cannot be decoded raises
`InvalidMessage` before any batching, which the stream processor routes to the topic's DLQ.

Transform roles use `TransformFactory` (decode -> batch -> transform -> produce -> commit); sinks
chain `decode_step`, `map_step` (message -> row, DLQ for the unstorable), `AdaptiveBatchStep` and
`pipeline.writes.WriteBatches` (write with retries) before `CommitOffsets`.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from arroyo.backends.abstract import Producer, ProducerFuture
from arroyo.backends.kafka import KafkaPayload
from arroyo.dlq import InvalidMessage, KafkaDlqProducer
from arroyo.processing.strategies import (
    CommitOffsets,
    RunTask,
)
from arroyo.processing.strategies.abstract import ProcessingStrategy, ProcessingStrategyFactory
from arroyo.types import BrokerValue, Commit, FilteredPayload, Message, Partition, Topic, Value
from django.conf import settings
from prometheus_client import Counter

from pipeline.adaptive import AdaptiveBatchStep
from pipeline.messages import decode, encode
from pipeline.produce import ProduceBatches

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=msgspec.Struct)

DLQ_MESSAGES = Counter("helios_dlq_messages_total", "Messages sent to a dead-letter topic", ["topic"])
MESSAGES_DECODED = Counter("helios_messages_consumed_total", "Messages decoded by a role", ["topic"])

ERROR_HEADER = "helios_error"


class ReasonDlqProducer(KafkaDlqProducer):
    """Arroyo's Kafka DLQ producer, plus the reason the message was rejected in a header."""

    def __init__(self, producer: Producer[KafkaPayload], topic: Topic) -> None:
        super().__init__(producer, topic)
        self._topic_name = topic.name

    def produce(
        self, value: BrokerValue[KafkaPayload], reason: str | None = None
    ) -> ProducerFuture[BrokerValue[KafkaPayload]]:
        headers = list(value.payload.headers)
        headers.append((ERROR_HEADER, (reason or "invalid message").encode()[:1000]))
        headers.append(("original_topic", value.partition.topic.name.encode()))
        DLQ_MESSAGES.labels(self._topic_name).inc()
        fixed = BrokerValue(
            KafkaPayload(value.payload.key, value.payload.value, headers),
            value.partition,
            value.offset,
            value.timestamp,
        )
        return super().produce(fixed, reason)


def rejected(message: Message[Any], exc: Exception) -> InvalidMessage:
    """The error that sends `message` to the DLQ, with `exc` as the reason."""
    value = message.value
    assert isinstance(value, BrokerValue)
    return InvalidMessage(value.partition, value.offset, reason=f"{type(exc).__name__}: {exc}", log_exception=False)


def map_step(
    function: Callable[[Any], Any], invalid: tuple[type[Exception], ...], next_step: ProcessingStrategy[Any]
) -> ProcessingStrategy[Any]:
    """Replaces each payload by `function(payload)`; a message it refuses (raises one of
    `invalid`) goes to the DLQ with the reason instead."""

    def _map(message: Message[Any]) -> Any:
        try:
            return function(message.payload)
        except invalid as exc:
            raise rejected(message, exc) from exc

    return RunTask(_map, next_step)


def decode_step(
    kind: type[T],
    topic: str,
    next_step: ProcessingStrategy[Any],
    *,
    then: Callable[[T], Any] | None = None,
    invalid: tuple[type[Exception], ...] = (),
) -> ProcessingStrategy[KafkaPayload]:
    """Decode each Kafka message into `kind`; undecodable ones go to the DLQ with the reason. With
    `then`, each decoded message is replaced by `then(decoded)` in the same step (one step per
    message less), and a message it refuses (raises one of `invalid`) goes to the DLQ too."""

    counter = MESSAGES_DECODED.labels(topic)

    def _decode(payload: KafkaPayload) -> Any:
        decoded = decode(payload.value, kind)
        counter.inc()
        return decoded if then is None else then(decoded)

    # RecursionError: JSON nested deeper than msgspec recurses, a poison message like any other.
    return map_step(
        _decode,
        (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError, *invalid),
        next_step,
    )


def payload(message: msgspec.Struct, key: str) -> KafkaPayload:
    return KafkaPayload(key.encode(), encode(message), [])


class KeepDroppedOffsetsInOrder(ProcessingStrategy[Any]):
    """Puts the offsets of DLQ'd messages into the batch as `None` entries.

    Arroyo's BatchStep forwards a filtered message (the commit of a DLQ'd offset) straight to the
    next step, past the messages it still holds: the commit would cover messages not yet handled,
    and a crash then would lose them. As a batch entry the offset is committed with its batch.
    """

    def __init__(self, next_step: ProcessingStrategy[Any]) -> None:
        self.next_step = next_step

    def submit(self, message: Message[Any]) -> None:
        if isinstance(message.payload, FilteredPayload):
            self.next_step.submit(Message(Value(None, message.committable, datetime.now(UTC))))
        else:
            self.next_step.submit(message)

    def poll(self) -> None:
        self.next_step.poll()

    def close(self) -> None:
        self.next_step.close()

    def terminate(self) -> None:
        self.next_step.terminate()

    def join(self, timeout: float | None = None) -> None:
        self.next_step.join(timeout)


class TransformFactory(ProcessingStrategyFactory[KafkaPayload]):
    """decode -> batch -> transform(batch) -> produce each output -> commit.

    `transform` gets the decoded messages of a batch and returns the Kafka payloads to produce, in
    order. The batch's offsets are committed only once its last output is acknowledged.
    """

    def __init__(
        self,
        *,
        kind: type[T],
        input_topic: str,
        transform: Callable[[Sequence[Any]], Sequence[KafkaPayload]],
        producer: Producer[KafkaPayload],
        output_topic: Topic,
        max_batch_size: int | None = None,
        max_batch_time_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.input_topic = input_topic
        self.transform = transform
        self.producer = producer
        self.output_topic = output_topic
        # Batching trades a little latency for fewer round trips (profile lookups, produce).
        self.max_batch_size = max_batch_size or settings.HELIOS_BATCH_SIZE
        self.max_batch_time_s = max_batch_time_s or settings.HELIOS_BATCH_TIME_S

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[KafkaPayload]:
        chain: ProcessingStrategy[Any] = CommitOffsets(commit)
        chain = ProduceBatches(self.transform, self.producer, self.output_topic, chain)
        chain = AdaptiveBatchStep(self.max_batch_size, self.max_batch_time_s, chain)
        chain = KeepDroppedOffsetsInOrder(chain)
        return decode_step(self.kind, self.input_topic, chain)
