"""Writes of the outcomes app: the idempotent batch insert and the rollups kept with it.

The rollups count exactly the rows this transaction inserted: the insert reports which rows were
new (`INSERT ... ON CONFLICT DO NOTHING RETURNING`), and only those are added to the day rows by an
atomic upsert (`ON CONFLICT (day) DO UPDATE SET total = total + excluded.total, ...`). Re-delivered
outcomes, duplicates inside a batch and rows a concurrent writer inserted first are therefore never
counted twice, and the stats read from the rollups equal the same aggregates over the rows. The
statements themselves are in `outcomes.storage`.
"""

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial

from django.db import transaction
from django.utils import timezone

from outcomes import storage
from outcomes.metrics import OUTCOMES_DUPLICATES, OUTCOMES_STORED, PIPELINE_LATENCY
from outcomes.notices import notices_join
from outcomes.rows import OutcomeRow
from outcomes.storage import Key

logger = logging.getLogger(__name__)

BatchListener = Callable[[Sequence[OutcomeRow]], object]

_batch_listeners: list[BatchListener] = []


def outcome_batch_listener_add(*, listener: BatchListener) -> Callable[[], None]:
    """Calls `listener(stored)` after each committed batch, with the rows that batch newly stored
    (duplicates excluded). It runs in the writer's thread right after the commit, before
    the Kafka offsets move: keep it quick and non-blocking (hand the work to another thread or a
    channel layer). Its exceptions are logged and ignored. Returns a function that removes it."""
    _batch_listeners.append(listener)
    return partial(_batch_listeners.remove, listener)


def outcome_record_batch(*, rows: Sequence[OutcomeRow]) -> int:
    """Stores the rows not stored yet and adds them to the daily rollups, in one transaction.

    Idempotent on (bid_id, request_digest, imp_id): rows already stored (earlier, by a concurrent
    writer, or earlier in the same batch) are skipped and not counted. Returns the number of rows inserted.
    Build the rows with `outcomes.rows.outcome_row`, which refuses what cannot be stored.
    """
    unique: dict[Key, OutcomeRow] = {}
    for row in rows:
        unique.setdefault(row.key, row)
    if not unique:
        return 0
    # Every writer takes its locks in one order (keys ascending here, days ascending in the
    # rollup), so concurrent writers with overlapping batches wait for each other, never deadlock.
    ordered = [unique[key] for key in sorted(unique)]
    with transaction.atomic():
        inserted = storage.insert_new(ordered, created_at=timezone.now())
        stored = [row for row in ordered if row.key in inserted]
        storage.rollups_add(stored)
        storage.rtb_rollups_add(stored)
        notices_join(stored)  # notices that came before their bid's row (SPEC §14)
        transaction.on_commit(partial(_after_commit, stored, len(rows)), robust=True)
    return len(stored)


def _after_commit(stored: list[OutcomeRow], received: int) -> None:
    OUTCOMES_STORED.inc(len(stored))
    OUTCOMES_DUPLICATES.inc(received - len(stored))
    now = time.time()
    for row in stored:
        PIPELINE_LATENCY.observe(max(now - row.timestamp.timestamp(), 0.0))
    for listener in list(_batch_listeners):
        try:
            listener(stored)
        except Exception:  # a dashboard hiccup must not stop the sink
            logger.exception("outcome batch listener %r failed", listener)
