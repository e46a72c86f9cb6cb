"""Batch windows that adapt to the rate (issue 17): a batch goes as soon as the consumer has nothing
more waiting, unless at the current rate the rest of its window would bring enough messages to be
worth the wait; the batch size and time stay the upper bounds.

arroyo's stream processor runs, in one thread, `consumer.poll()` then `strategy.poll()` then, if
the poll returned a message, `strategy.submit()`. So when the strategy's `poll()` runs right after
a consumer poll that found nothing, nothing more is waiting. The consumer and the batching step of
one stream processor share a `Batching` (per thread, as arroyo runs each processor in a thread of
its own): the consumer records whether its last poll found a message and the arrival rate; the
step records whether a batch is open and when it is due. While a batch is open the consumer takes
what is already fetched without waiting, then waits at most until the batch is due.

At 100 bids/s a message finds the pipeline idle and goes on at once (the windows were 5-10 ms per
hop). At 1,000/s and more a window is expected to fill, so batches form as with fixed windows,
which keeps the cost per batch (a gRPC call, a produce, a transaction) shared: flushing on every
idle poll took the bidder from 0.19 to 0.35 and the auction from 0.13 to 0.22 CPU ms per bid at
1,000/s (one bench/e2e.py run each, docs/benchmarks.md). A window counts
from the previous batch (arroyo's `ReduceBuffer`). HELIOS_ADAPTIVE_BATCHES=false restores the
fixed windows (a batch waits for its size or time).
"""

import threading
import time
from typing import Any

from arroyo.processing.strategies import ProcessingStrategy
from arroyo.processing.strategies.buffer import Buffer
from arroyo.processing.strategies.reduce import ReduceBuffer
from arroyo.types import BaseValue, FilteredPayload, Message
from django.conf import settings

# An idle batch waits for more only if the rest of its window is expected to bring this many messages.
WORTH_WAITING = 2.0
# How often the arrival rate is measured (each measure is averaged with the previous rate).
RATE_PERIOD_S = 0.1


class Batching:
    """What a stream processor's consumer and its batching step tell each other (one thread)."""

    __slots__ = ("count", "enabled", "idle", "open", "rate", "since", "until")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.open = False  # a batch holds messages
        self.until = 0.0  # ...and goes at this time (time.time()) at the latest
        self.idle = False  # the consumer's last poll found nothing
        self.rate = 0.0  # messages/s lately
        self.count = 0
        self.since = time.time()

    def poll_timeout(self, timeout: float) -> float:
        """How long the consumer may wait for a message. While a batch is open: not at all as long
        as messages keep coming, then until the batch is due (`timeout` once it is overdue: the
        next step refuses it, and a poll that does not wait would spin)."""
        if not (self.enabled and self.open):
            return timeout
        if not self.idle:
            return 0.0
        left = self.until - time.time()
        return min(left, timeout) if left > 0 else timeout

    def reset(self) -> None:
        """A new strategy (an assignment) starts from an unknown rate, nothing open."""
        self.open = self.idle = False
        self.rate, self.count, self.since = 0.0, 0, time.time()

    def polled(self, found: bool) -> None:
        self.idle = not found
        self.count += found
        now = time.time()
        if now - self.since >= RATE_PERIOD_S:
            self.rate = (self.rate + self.count / (now - self.since)) / 2
            self.count, self.since = 0, now

    def flush_now(self) -> bool:
        """Whether an open batch should go now: nothing more is waiting, and at the current rate the
        rest of its window would not bring enough messages to be worth the wait."""
        return self.enabled and self.idle and self.rate * (self.until - time.time()) < WORTH_WAITING


_local = threading.local()


def batching() -> Batching:
    """This thread's `Batching` (each new batch buffer reads HELIOS_ADAPTIVE_BATCHES into it)."""
    current: Batching | None = getattr(_local, "batching", None)
    if current is None:
        current = _local.batching = Batching(settings.HELIOS_ADAPTIVE_BATCHES)
    return current


class _AdaptiveBuffer(ReduceBuffer[Any, list[BaseValue[Any]]]):
    """arroyo's batch buffer: ready at its size, or once its time has passed since the previous
    batch went (its creation), or when waiting is not worth it (`Batching.flush_now`); it tells
    the consumer when it is open and due."""

    def __init__(self, max_batch_size: int, max_batch_time: float) -> None:
        super().__init__(_append, list, max_batch_size, max_batch_time)
        self.batching = batching()
        self.batching.open = False
        self.batching.enabled = settings.HELIOS_ADAPTIVE_BATCHES

    @property
    def is_ready(self) -> bool:
        return super().is_ready or (not self.is_empty and self.batching.flush_now())

    @property
    def readiness_reason(self) -> str:
        return super().readiness_reason if super().is_ready else "idle"

    def append(self, message: BaseValue[Any]) -> None:
        super().append(message)
        self.batching.open = True
        self.batching.until = self._buffer_until

    def new(self) -> "_AdaptiveBuffer":
        return _AdaptiveBuffer(self.max_batch_size, self.max_batch_time)


def _append(batch: list[BaseValue[Any]], value: BaseValue[Any]) -> list[BaseValue[Any]]:
    batch.append(value)
    return batch


class AdaptiveBatchStep(ProcessingStrategy[Any]):
    """arroyo's `BatchStep` (the next step gets a `ValuesBatch`; `MessageRejected` from it is
    passed on, the message not taken), flushing also when the consumer has nothing more waiting.

    The buffer is made on the first call, in the stream processor's thread, whose `Batching` the
    consumer shares."""

    def __init__(self, max_batch_size: int, max_batch_time: float, next_step: ProcessingStrategy[Any]) -> None:
        self.max_batch_size = max_batch_size
        self.max_batch_time = max_batch_time
        self.next_step = next_step
        self._step: Buffer[Any, list[BaseValue[Any]]] | None = None

    def _buffer(self) -> Buffer[Any, list[BaseValue[Any]]]:
        if self._step is None:
            batching().reset()
            self._step = Buffer(_AdaptiveBuffer(self.max_batch_size, self.max_batch_time), self.next_step)
        return self._step

    def submit(self, message: Message[FilteredPayload | Any]) -> None:
        self._buffer().submit(message)

    def poll(self) -> None:
        self._buffer().poll()

    def close(self) -> None:
        self._buffer().close()

    def terminate(self) -> None:
        self._buffer().terminate()

    def join(self, timeout: float | None = None) -> None:
        self._buffer().join(timeout)
