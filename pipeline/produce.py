"""Batch out: a transform role's whole batch produced at once, its offsets committed once every
output of the batch is acknowledged (issue 17).

arroyo's `Unfold` + `Produce` handle each output as a message of its own: a `Value`, a future, a
delivery callback wrapped for metrics, a worker thread resolving the future, a `Message` per output
to the commit step. In the auction role that path was over half of the Python time (py-spy
--gil, bench/roles.py). `ProduceBatches` hands the batch's outputs to the producer in one loop
and counts their deliveries; the commit step gets one message per batch, in batch order.

`KafkaOutputProducer` is the role's output producer on Kafka: confluent-kafka directly, its
delivery reports served by one thread. Any other arroyo producer (the in-process broker's) is
driven through its futures.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, Protocol

from arroyo.backends.abstract import Producer, ProducerFuture
from arroyo.backends.kafka import KafkaPayload
from arroyo.processing.strategies import MessageRejected
from arroyo.processing.strategies.abstract import ProcessingStrategy
from arroyo.processing.strategies.batching import ValuesBatch
from arroyo.types import BrokerValue, FilteredPayload, Message, Partition, Topic
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Message as ConfluentMessage
from confluent_kafka import Producer as ConfluentProducer

# Batches whose outputs may be in flight at once before the step refuses the next one.
MAX_PENDING_BATCHES = 50
# How long a batch waits for room before it is refused.
REJECT_PAUSE_S = 0.01
# How long the delivery thread blocks in librdkafka's poll (it returns as soon as a report arrives).
DELIVERY_POLL_S = 0.1


class Delivery(Protocol):
    def done(self) -> bool: ...

    def error(self) -> BaseException | None: ...


class _Counted:
    """The delivery of one batch on Kafka: counts its delivery reports (served by one thread)."""

    __slots__ = ("failure", "left")

    def __init__(self, count: int) -> None:
        self.left = count
        self.failure: BaseException | None = None

    def __call__(self, err: KafkaError | None, msg: ConfluentMessage) -> None:
        if err is not None and self.failure is None:
            self.failure = KafkaException(err)
        self.left -= 1

    def done(self) -> bool:
        return self.left == 0

    def error(self) -> BaseException | None:
        return self.failure


class _Futures:
    """The delivery of one batch through any arroyo producer: its outputs' futures."""

    __slots__ = ("futures",)

    def __init__(self, futures: Sequence[ProducerFuture[Any]]) -> None:
        self.futures = futures

    def done(self) -> bool:
        return all(f.done() for f in self.futures)

    def error(self) -> BaseException | None:
        for future in self.futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - the delivery's failure, raised by the step
                return exc
        return None


class KafkaOutputProducer(Producer[KafkaPayload]):
    """A transform role's output producer on Kafka (`produce_batch`, and arroyo's `produce`)."""

    def __init__(self, configuration: dict[str, Any]) -> None:
        self._producer = ConfluentProducer(configuration)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="helios-deliveries", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(DELIVERY_POLL_S)

    def produce_batch(self, topic: str, payloads: Sequence[KafkaPayload]) -> Delivery:
        delivery = _Counted(len(payloads))
        produce = self._producer.produce
        for p in payloads:
            while True:
                try:
                    produce(topic, value=p.value, key=p.key, headers=_headers(p), on_delivery=delivery)
                    break
                except BufferError:  # the producer's queue is full: wait for deliveries to make room
                    time.sleep(REJECT_PAUSE_S)
        return delivery

    def produce(self, destination: Topic | Partition, payload: KafkaPayload) -> Future[BrokerValue[KafkaPayload]]:
        """One message (arroyo's interface; the roles produce whole batches)."""
        future: Future[BrokerValue[KafkaPayload]] = Future()
        topic = destination if isinstance(destination, Topic) else destination.topic

        def delivered(err: KafkaError | None, msg: ConfluentMessage) -> None:
            if err is not None:
                future.set_exception(KafkaException(err))
                return
            where = Partition(topic, msg.partition() or 0)
            future.set_result(BrokerValue(payload, where, msg.offset() or 0, datetime.now(UTC)))

        self._producer.produce(
            topic.name,
            value=payload.value,
            key=payload.key,
            partition=destination.index if isinstance(destination, Partition) else -1,  # -1: the partitioner's
            headers=_headers(payload),
            on_delivery=delivered,
        )
        return future

    def close(self) -> Future[None]:
        """Flushes what is in flight (at most 30 s), then stops the delivery thread."""
        done: Future[None] = Future()
        try:
            self._producer.flush(30)
        finally:
            self._closed.set()
            self._thread.join()
            done.set_result(None)
        return done


def _headers(payload: KafkaPayload) -> list[tuple[str, str | bytes | None]] | None:
    return list(payload.headers) if payload.headers else None


def produce_batch(producer: Producer[KafkaPayload], topic: Topic, payloads: Sequence[KafkaPayload]) -> Delivery:
    if isinstance(producer, KafkaOutputProducer):
        return producer.produce_batch(topic.name, payloads)
    return _Futures([producer.produce(topic, p) for p in payloads])


class ProduceBatches(ProcessingStrategy[Any]):
    """transform(batch) -> produce every output -> the batch's offsets to the next step once all
    are acknowledged, batches in order. A failed delivery is raised (the role stops; the batch and
    those after it are not committed, and are consumed again after the restart)."""

    def __init__(
        self,
        transform: Callable[[Sequence[Any]], Sequence[KafkaPayload]],
        producer: Producer[KafkaPayload],
        topic: Topic,
        next_step: ProcessingStrategy[Any],
        max_pending: int = MAX_PENDING_BATCHES,
    ) -> None:
        self.transform = transform
        self.producer = producer
        self.topic = topic
        self.next_step = next_step
        self.max_pending = max_pending
        self._pending: deque[tuple[Message[Any], Delivery | None]] = deque()

    def submit(self, message: Message[Any]) -> None:
        self._forward()
        if len(self._pending) >= self.max_pending:
            time.sleep(REJECT_PAUSE_S)
            self._forward()
            if len(self._pending) >= self.max_pending:
                raise MessageRejected()
        if isinstance(message.payload, FilteredPayload):
            delivery = None
        else:
            batch: ValuesBatch[Any] = message.payload
            values = [v.payload for v in batch if v.payload is not None]
            outputs = self.transform(values) if values else []
            delivery = produce_batch(self.producer, self.topic, outputs) if outputs else None
        self._pending.append((message, delivery))
        self._forward()

    def _forward(self) -> None:
        while self._pending:
            message, delivery = self._pending[0]
            if delivery is not None:
                if not delivery.done():
                    return
                error = delivery.error()
                if error is not None:
                    raise error
            self._pending.popleft()
            if isinstance(message.payload, FilteredPayload):
                self.next_step.submit(message)
            else:
                self.next_step.submit(Message(message.value.replace(None)))

    def poll(self) -> None:
        self._forward()
        self.next_step.poll()

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        self.next_step.terminate()

    def join(self, timeout: float | None = None) -> None:
        """Waits for the outputs in flight until `timeout`, passing on each batch acknowledged;
        what is still unacknowledged then is not committed (produced again after a restart)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending and (deadline is None or time.monotonic() < deadline):
            self._forward()
            if self._pending:
                time.sleep(0.001)
        self._pending.clear()
        self.next_step.close()
        self.next_step.join(None if deadline is None else max(deadline - time.monotonic(), 0))
