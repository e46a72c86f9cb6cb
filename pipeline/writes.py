"""`WriteBatches`: a sink's write step, with retries, and with several batches written at once.

Each batch is written by one of `writers` threads (with 1, or when it is small and nothing else is in
flight, in the stream processor's own thread, as it comes); the batches' offsets go on to the next step (the commit) in the order the batches came,
each only once its write returned, so a sink's offsets never move past a batch not yet written.
With several writers the next batches are decoded and written while one is in the database: the
outcomes role on PostgreSQL stores about 1.5x the rows per second of one writer (docs/benchmarks.md).
"""

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from arroyo.processing.strategies import MessageRejected
from arroyo.processing.strategies.abstract import ProcessingStrategy
from arroyo.types import FilteredPayload, Message

logger = logging.getLogger(__name__)

RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 5.0
# While the writers are all busy, or a batch waits for its retry, a further batch is refused after
# waiting at most this long for room, so that a caller looping on MessageRejected (arroyo's join)
# does not spin a CPU.
REJECT_PAUSE_S = 0.01
# A batch smaller than this, with none before it in flight, is written in the stream processor's
# thread: at low rates the hand-over to a writer thread cost more than it saved (outcomes role at
# 100 bids/s: 0.8 -> 1.1 CPU ms per bid, bench/e2e.py).
INLINE_BELOW = 100


class _Batch:
    """A batch in flight: its message, the values to write and the write under way."""

    __slots__ = ("future", "message", "retry_at", "values")

    def __init__(self, message: Message[Any], values: list[Any]) -> None:
        self.message = message
        self.values = values
        self.future: Future[object] | None = None  # None: nothing to write (only offsets to commit)
        self.retry_at: float | None = None  # the write failed and is tried again at this time


class WriteBatches(ProcessingStrategy[Any]):
    """Writes each batch (the step after `AdaptiveBatchStep`), then passes its offsets on; on a
    `retryable` error keeps the batch and retries it with back-off. `None` entries (DLQ'd offsets,
    see `KeepDroppedOffsetsInOrder`) are not written, only committed with their batch.

    While `writers` batches are in flight, or the oldest waits for its retry, `submit` raises
    MessageRejected, so arroyo pauses the consumer (the group membership stays alive) and keeps
    calling `poll`, which passes on what was written and retries once the back-off has passed. Any
    other error of a write is raised from `submit` or `poll` (the role stops; nothing after the
    batch is committed). The writes must be idempotent: a crash re-delivers what was not committed,
    written or not.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Any]], object],
        next_step: ProcessingStrategy[Any],
        *,
        retryable: tuple[type[Exception], ...],
        on_retry: Callable[[], object] = lambda: None,
        retry_initial_s: float = RETRY_INITIAL_S,
        retry_max_s: float = RETRY_MAX_S,
        writers: int = 1,
    ) -> None:
        self.write = write
        self.next_step = next_step
        self.retryable = retryable
        self.on_retry = on_retry
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.writers = max(1, writers)
        self._pool = ThreadPoolExecutor(self.writers, "helios-write") if self.writers > 1 else None
        self._batches: deque[_Batch] = deque()
        self._delay_s = retry_initial_s

    def submit(self, message: Message[Any]) -> None:
        self._forward_written()
        if self._full():
            self._wait_for_room()
            if self._full():
                raise MessageRejected()
        if isinstance(message.payload, FilteredPayload) and not self._batches:
            self.next_step.submit(message)
            return
        values = [] if isinstance(message.payload, FilteredPayload) else message.payload
        batch = _Batch(message, [value.payload for value in values if value.payload is not None])
        self._batches.append(batch)
        self._start(batch)
        self._forward_written()

    def poll(self) -> None:
        self._forward_written()
        self.next_step.poll()

    def _full(self) -> bool:
        """Every writer is busy, or the oldest batch waits for its retry."""
        return bool(self._batches) and (len(self._batches) >= self.writers or self._batches[0].retry_at is not None)

    def _start(self, batch: _Batch) -> None:
        batch.retry_at = None
        if not batch.values:
            return
        if self._pool is not None and (len(batch.values) >= INLINE_BELOW or self._batches[0] is not batch):
            batch.future = self._pool.submit(self.write, batch.values)
            return
        batch.future = Future()
        try:
            batch.future.set_result(self.write(batch.values))
        except Exception as exc:  # noqa: BLE001 - handed on as the pool would, raised in _forward_written
            batch.future.set_exception(exc)

    def _wait_for_room(self) -> None:
        head = self._batches[0]
        if head.retry_at is not None:
            time.sleep(min(max(head.retry_at - time.monotonic(), 0.0), REJECT_PAUSE_S))
        elif head.future is not None:
            wait([head.future], timeout=REJECT_PAUSE_S)
        self._forward_written()

    def _forward_written(self) -> None:
        """Passes on the offsets of the written batches at the head, in order; retries the oldest
        batch once its back-off has passed."""
        while self._batches:
            head = self._batches[0]
            if head.retry_at is not None:
                if time.monotonic() < head.retry_at:
                    return
                self._start(head)
            if head.future is not None:
                if not head.future.done():
                    return
                exc = head.future.exception()
                if exc is not None:
                    if not isinstance(exc, self.retryable):
                        raise exc
                    self.on_retry()
                    logger.warning(
                        "error writing a batch of %d, retrying in %.1f s: %s", len(head.values), self._delay_s, exc
                    )
                    head.future, head.retry_at = None, time.monotonic() + self._delay_s
                    self._delay_s = min(self._delay_s * 2, self.retry_max_s)
                    return
                self._delay_s = self.retry_initial_s
            self._batches.popleft()
            if isinstance(head.message.payload, FilteredPayload):
                self.next_step.submit(head.message)
            else:
                self.next_step.submit(Message(head.message.value.replace(len(head.values))))

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.next_step.terminate()

    def join(self, timeout: float | None = None) -> None:
        """Waits for the batches in flight (retrying as usual) until `timeout`, then abandons the
        rest (uncommitted: consumed again after a restart) and joins the next step, which commits
        what was written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._batches and (deadline is None or time.monotonic() < deadline):
            head = self._batches[0]
            if head.retry_at is not None and deadline is not None and head.retry_at >= deadline:
                break
            if head.retry_at is not None:
                time.sleep(max(head.retry_at - time.monotonic(), 0.0))
            elif head.future is not None:
                wait([head.future], timeout=None if deadline is None else max(deadline - time.monotonic(), 0.0))
            self._forward_written()
        if self._batches:
            logger.warning(
                "shutting down with %d batch(es) of %s not written; they will be consumed again",
                len(self._batches),
                "+".join(str(len(b.values)) for b in self._batches),
            )
            self._batches.clear()
        if self._pool is not None:
            # A write still running finishes in its thread; its batch is not committed.
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.next_step.close()
        self.next_step.join(None if deadline is None else max(deadline - time.monotonic(), 0))
