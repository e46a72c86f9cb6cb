"""A sink role's strategy: decode (undecodable -> DLQ, or dropped where another consumer of the topic
dead-letters it) -> batch -> write (retried with back-off on `retryable` errors) -> commit offsets.

Offsets move only after the batch's write returned, so a crash re-delivers what was not written;
the writes must be idempotent."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from arroyo.backends.kafka import KafkaPayload
from arroyo.processing.strategies import CommitOffsets, RunTask
from arroyo.processing.strategies.abstract import ProcessingStrategy, ProcessingStrategyFactory
from arroyo.types import FILTERED_PAYLOAD, Commit, Message, Partition
from django.conf import settings
from prometheus_client import Counter

from pipeline.adaptive import AdaptiveBatchStep
from pipeline.messages import decode
from pipeline.strategies import KeepDroppedOffsetsInOrder, decode_step
from pipeline.writes import WriteBatches

SKIPPED = Counter(
    "helios_messages_skipped_total",
    "Undecodable messages a consumer skipped (another one dead-letters them)",
    ["topic"],
)


class SinkFactory(ProcessingStrategyFactory[KafkaPayload]):
    def __init__(
        self,
        *,
        kind: type[msgspec.Struct],
        topic: str,
        write: Callable[[Sequence[Any]], object],
        retryable: tuple[type[Exception], ...],
        dead_letter: bool = True,
        max_batch_size: int | None = None,
        max_batch_time_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.topic = topic
        self.write = write
        self.retryable = retryable
        self.dead_letter = dead_letter
        self.max_batch_size = max_batch_size or settings.HELIOS_BATCH_SIZE
        self.max_batch_time_s = max_batch_time_s or settings.HELIOS_BATCH_TIME_S

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[KafkaPayload]:
        chain: ProcessingStrategy[Any] = CommitOffsets(commit)
        chain = WriteBatches(self.write, chain, retryable=self.retryable)
        chain = AdaptiveBatchStep(self.max_batch_size, self.max_batch_time_s, chain)
        chain = KeepDroppedOffsetsInOrder(chain)
        if self.dead_letter:
            return decode_step(self.kind, self.topic, chain)
        return RunTask(self._decode_or_skip, chain)

    def _decode_or_skip(self, message: Message[KafkaPayload]) -> Any:
        """The decoded message, or a filtered marker whose offset is committed with its batch."""
        try:
            return decode(message.payload.value, self.kind)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            SKIPPED.labels(self.topic).inc()
            return FILTERED_PAYLOAD
