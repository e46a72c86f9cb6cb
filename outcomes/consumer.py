"""The outcomes role: auction_outcomes -> database (SPEC §7).

    decode (undecodable -> DLQ) -> row (unstorable -> DLQ) -> batch -> write (one transaction per
    batch; HELIOS_OUTCOMES_WRITERS batches at once, each in its own thread) -> commit offsets in order

Each message becomes its row once. Offsets move only after the batch's transaction committed; a
database that is down or busy does not crash the role (`WriteBatches` keeps the batch and retries
it, consumer paused). A batch abandoned at shutdown is consumed again after the restart; the insert
is idempotent, so nothing is lost or doubled.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from arroyo.backends.kafka import KafkaPayload
from arroyo.processing.strategies import CommitOffsets
from arroyo.processing.strategies.abstract import ProcessingStrategy, ProcessingStrategyFactory
from arroyo.types import Commit, Partition
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, reset_queries
from django.utils.module_loading import import_string

from outcomes.metrics import BATCH_DURATION, WRITE_RETRIES
from outcomes.rows import InvalidOutcome, OutcomeRow, outcome_row
from outcomes.services import outcome_record_batch
from pipeline import readiness, topics
from pipeline.adaptive import AdaptiveBatchStep
from pipeline.logs import log_requests
from pipeline.messages import AuctionOutcomeMessage
from pipeline.roles import RoleContext
from pipeline.strategies import KeepDroppedOffsetsInOrder, decode_step
from pipeline.writes import WriteBatches

logger = logging.getLogger(__name__)


def process_outcome_batch(rows: Sequence[OutcomeRow]) -> int:
    """Writes one batch in one transaction; returns the rows inserted. Raises on database errors."""
    close_old_connections()
    # With DEBUG on (embedded demo), Django keeps every query; a long-running worker must drop them.
    reset_queries()
    started = time.perf_counter()
    inserted = outcome_record_batch(rows=rows)
    log_requests(logger, "outcome stored", (row.bid_id for row in rows))
    BATCH_DURATION.observe(time.perf_counter() - started)
    return inserted


class OutcomesStrategyFactory(ProcessingStrategyFactory[KafkaPayload]):
    def __init__(self, *, max_batch_size: int, max_batch_time_s: float, writers: int = 1) -> None:
        self.max_batch_size = max_batch_size
        self.max_batch_time_s = max_batch_time_s
        self.writers = writers

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[KafkaPayload]:
        chain: ProcessingStrategy[Any] = CommitOffsets(commit)
        chain = WriteBatches(
            process_outcome_batch,
            chain,
            retryable=(OperationalError, InterfaceError),
            on_retry=WRITE_RETRIES.inc,
            writers=self.writers,
        )
        chain = AdaptiveBatchStep(self.max_batch_size, self.max_batch_time_s, chain)
        chain = KeepDroppedOffsetsInOrder(chain)
        return decode_step(
            AuctionOutcomeMessage, topics.AUCTION_OUTCOMES, chain, then=outcome_row, invalid=(InvalidOutcome,)
        )


def outcomes_factory(ctx: RoleContext) -> OutcomesStrategyFactory:
    ctx.ready_checks["database"] = readiness.database
    # Each subscribes to the stored batches and returns its stop (by default the dashboard's publisher).
    for path in settings.HELIOS_OUTCOME_LISTENERS:
        ctx.closers.append(import_string(path)())
    # SQLite takes one writer at a time: a second one would only wait for the database's lock.
    writers = settings.HELIOS_OUTCOMES_WRITERS if connection.vendor != "sqlite" else 1
    return OutcomesStrategyFactory(
        max_batch_size=settings.HELIOS_OUTCOMES_BATCH_SIZE,
        max_batch_time_s=settings.HELIOS_OUTCOMES_BATCH_TIME_S,
        writers=writers,
    )
