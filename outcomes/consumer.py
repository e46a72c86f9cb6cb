"""The outcomes role: auction_outcomes -> database (SPEC §7).

    decode (undecodable -> DLQ) -> check (unstorable -> DLQ) -> batch -> write (one transaction)
    -> commit offsets

Offsets move only after the batch's transaction committed. A database that is down or busy
(OperationalError / InterfaceError) does not crash the role: the batch is kept and retried with
back-off while the consumer is paused (arroyo back-pressure, so the Kafka group membership stays
alive and nothing is committed). On shutdown a batch that still cannot be written is abandoned
uncommitted and comes back on restart; the insert is idempotent, so nothing is lost or doubled.
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any, cast

from arroyo.backends.kafka import KafkaPayload
from arroyo.dlq import InvalidMessage
from arroyo.processing.strategies import BatchStep, CommitOffsets, MessageRejected, RunTask
from arroyo.processing.strategies.abstract import ProcessingStrategy, ProcessingStrategyFactory
from arroyo.processing.strategies.batching import ValuesBatch
from arroyo.types import BrokerValue, Commit, FilteredPayload, Message, Partition
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, reset_queries

from outcomes.metrics import BATCH_DURATION, WRITE_RETRIES
from outcomes.rows import InvalidOutcome, outcome_row
from outcomes.services import outcome_record_batch
from outcomes.snapshots import start_publisher
from pipeline import readiness, topics
from pipeline.logs import log_requests
from pipeline.messages import AuctionOutcome
from pipeline.roles import RoleContext
from pipeline.strategies import KeepDroppedOffsetsInOrder, decode_step

logger = logging.getLogger(__name__)

RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 5.0
# While a batch waits for its retry, further batches are refused this long before each refusal,
# so that a caller looping on MessageRejected (arroyo's join) does not spin a CPU.
REJECT_PAUSE_S = 0.01

Batch = ValuesBatch[AuctionOutcome | None]


def process_outcome_batch(outcomes: Sequence[AuctionOutcome]) -> int:
    """Writes one batch in one transaction; returns the rows inserted. Raises on database errors."""
    close_old_connections()
    # With DEBUG on (embedded demo), Django keeps every query; a long-running worker must drop them.
    reset_queries()
    started = time.perf_counter()
    inserted = outcome_record_batch(outcomes=outcomes)
    log_requests(logger, "outcome stored", (o.bid_request_id for o in outcomes))
    BATCH_DURATION.observe(time.perf_counter() - started)
    return inserted


def check_outcome(message: Message[AuctionOutcome]) -> AuctionOutcome:
    """Sends an outcome the database would refuse to the DLQ now, instead of failing its batch."""
    try:
        row = outcome_row(message.payload)
        for moment in (row.timestamp, row.auction_timestamp):
            # A time such as 0001-01-01T00:00:00+01:00 parses, but is out of datetime's range in
            # UTC: the batch write (its rollup day) would fail on every retry, or, stored, every
            # read of the row would.
            moment.astimezone(UTC)
    except (InvalidOutcome, OverflowError) as exc:
        value = message.value
        assert isinstance(value, BrokerValue)
        raise InvalidMessage(
            value.partition, value.offset, reason=f"{type(exc).__name__}: {exc}", log_exception=False
        ) from exc
    return message.payload


class WriteBatches(ProcessingStrategy[FilteredPayload | Batch]):
    """Writes each batch, then passes its offsets on; on a database error keeps it and retries.

    `write` runs synchronously. While a batch waits for its retry, `submit` raises
    MessageRejected, so arroyo pauses the consumer and keeps calling `poll`, which retries once
    the back-off has passed. Nothing after this step sees the batch until its write committed.
    """

    RETRYABLE = (OperationalError, InterfaceError)

    def __init__(
        self,
        write: Callable[[Sequence[AuctionOutcome]], object],
        next_step: ProcessingStrategy[Any],
        *,
        retry_initial_s: float = RETRY_INITIAL_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self.write = write
        self.next_step = next_step
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._pending: Message[Batch] | None = None
        self._retry_at = 0.0
        self._delay_s = retry_initial_s

    def submit(self, message: Message[FilteredPayload | Batch]) -> None:
        if self._pending is not None:
            self._retry_if_due()
            if self._pending is not None:
                time.sleep(REJECT_PAUSE_S)
                raise MessageRejected()
        if isinstance(message.payload, FilteredPayload):
            self.next_step.submit(message)
            return
        self._pending = cast(Message[Batch], message)
        self._attempt()

    def poll(self) -> None:
        self._retry_if_due()
        self.next_step.poll()

    def _retry_if_due(self) -> None:
        if self._pending is not None and time.monotonic() >= self._retry_at:
            self._attempt()

    def _attempt(self) -> None:
        assert self._pending is not None
        outcomes = [value.payload for value in self._pending.payload if value.payload is not None]
        try:
            if outcomes:
                self.write(outcomes)
        except self.RETRYABLE as exc:
            WRITE_RETRIES.inc()
            logger.warning(
                "database error writing a batch of %d outcomes, retrying in %.1f s: %s",
                len(outcomes),
                self._delay_s,
                exc,
            )
            self._retry_at = time.monotonic() + self._delay_s
            self._delay_s = min(self._delay_s * 2, self.retry_max_s)
            return
        done, self._pending = self._pending, None
        self._delay_s = self.retry_initial_s
        self.next_step.submit(Message(done.value.replace(len(outcomes))))

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        self.next_step.terminate()

    def join(self, timeout: float | None = None) -> None:
        """Retries a waiting batch until `timeout`, then abandons it (uncommitted) and joins the
        next step, which commits what was written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending is not None and (deadline is None or self._retry_at < deadline):
            time.sleep(max(self._retry_at - time.monotonic(), 0))
            self._attempt()
        if self._pending is not None:
            logger.warning(
                "shutting down with a batch of %d outcomes not written; it will be consumed again",
                len(self._pending.payload),
            )
            self._pending = None
        self.next_step.close()
        self.next_step.join(None if deadline is None else max(deadline - time.monotonic(), 0))


class OutcomesStrategyFactory(ProcessingStrategyFactory[KafkaPayload]):
    def __init__(self, *, max_batch_size: int, max_batch_time_s: float) -> None:
        self.max_batch_size = max_batch_size
        self.max_batch_time_s = max_batch_time_s

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[KafkaPayload]:
        chain: ProcessingStrategy[Any] = CommitOffsets(commit)
        chain = WriteBatches(process_outcome_batch, chain)
        chain = BatchStep(self.max_batch_size, self.max_batch_time_s, chain)
        chain = KeepDroppedOffsetsInOrder(chain)
        chain = RunTask(check_outcome, chain)
        return decode_step(AuctionOutcome, topics.AUCTION_OUTCOMES, chain)


def outcomes_factory(ctx: RoleContext) -> OutcomesStrategyFactory:
    ctx.ready_checks["database"] = readiness.database
    ctx.closers.append(start_publisher())  # dashboard snapshots, at most one per interval
    return OutcomesStrategyFactory(
        max_batch_size=settings.HELIOS_OUTCOMES_BATCH_SIZE, max_batch_time_s=settings.HELIOS_OUTCOMES_BATCH_TIME_S
    )
