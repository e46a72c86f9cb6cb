"""The batch-out steps: `ProduceBatches` (a transform's outputs) and `WriteBatches` with several
writers. Whatever order the writes or deliveries finish in, a batch's offsets reach the commit
step only after its own output is safe and after every batch before it."""

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from arroyo.backends.abstract import Producer
from arroyo.backends.kafka import KafkaPayload
from arroyo.processing.strategies import MessageRejected
from arroyo.processing.strategies.abstract import ProcessingStrategy
from arroyo.types import BrokerValue, Message, Partition, Topic, Value
from django.db import OperationalError

from pipeline.admin_kafka import admin_client, ensure_topics
from pipeline.produce import KafkaOutputProducer, ProduceBatches
from pipeline.transports import producer_config
from pipeline.writes import WriteBatches

TOPIC = Topic("out")
PARTITION = Partition(Topic("in"), 0)


class Commits(ProcessingStrategy[Any]):
    """The commit step: records the offsets it is given."""

    def __init__(self) -> None:
        self.offsets: list[int] = []

    def submit(self, message: Message[Any]) -> None:
        self.offsets.append(message.committable[PARTITION])

    def poll(self) -> None: ...

    def close(self) -> None: ...

    def terminate(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


def batch(first: int, size: int) -> Message[Any]:
    """A batch of `size` values at offsets first..first+size-1 (committable: the next offset)."""
    values = [Value(f"v{first + i}", {PARTITION: first + i + 1}) for i in range(size)]
    return Message(Value(values, {PARTITION: first + size}, datetime.now(UTC)))


def poll_until(step: ProcessingStrategy[Any], done: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        step.poll()
        time.sleep(0.001)


def submit_when_taken(step: ProcessingStrategy[Any], message: Message[Any], timeout_s: float = 5.0) -> None:
    """Submits as arroyo does: on MessageRejected, polls and submits again."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            step.submit(message)
            return
        except MessageRejected:
            assert time.monotonic() < deadline, "never taken"
            step.poll()


# ------------------------------------------------------------------ WriteBatches


def test_a_later_batch_written_first_waits_for_the_earlier_one() -> None:
    release = threading.Event()
    written: list[str] = []

    def write(values: Sequence[str]) -> None:
        if values[0] == "v0":
            release.wait(5)
        written.append(values[0])

    commits = Commits()
    step = WriteBatches(write, commits, retryable=(OperationalError,), writers=2)
    step.submit(batch(0, 200))
    step.submit(batch(200, 200))
    poll_until(step, lambda: written == ["v200"])
    step.poll()
    assert commits.offsets == []  # the second is written, the first is not: nothing committed

    release.set()
    poll_until(step, lambda: len(commits.offsets) == 2)
    assert commits.offsets == [200, 400]


def test_while_both_writers_are_busy_a_third_batch_is_refused() -> None:
    release = threading.Event()
    step = WriteBatches(lambda values: release.wait(5), Commits(), retryable=(OperationalError,), writers=2)
    step.submit(batch(0, 200))
    step.submit(batch(200, 200))
    with pytest.raises(MessageRejected):
        step.submit(batch(400, 200))
    release.set()
    step.join(5)


def test_a_failed_write_is_retried_and_still_committed_before_the_next() -> None:
    attempts: list[str] = []

    def write(values: Sequence[str]) -> None:
        attempts.append(values[0])
        if attempts.count("v0") == 1 and values[0] == "v0":
            raise OperationalError("the database went away")

    commits = Commits()
    step = WriteBatches(write, commits, retryable=(OperationalError,), writers=2, retry_initial_s=0.05)
    step.submit(batch(0, 200))
    submit_when_taken(step, batch(200, 200))  # refused while the first waits for its retry
    poll_until(step, lambda: len(commits.offsets) == 2)
    assert commits.offsets == [200, 400]
    assert attempts.count("v0") == 2 and attempts.count("v200") == 1


def test_a_small_batch_with_nothing_in_flight_is_written_in_the_callers_thread() -> None:
    threads: list[int] = []
    step = WriteBatches(lambda values: threads.append(threading.get_ident()), Commits(), retryable=(), writers=2)
    step.submit(batch(0, 5))
    step.submit(batch(5, 500))
    step.join(5)
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()


def test_join_abandons_a_write_that_does_not_finish() -> None:
    release = threading.Event()
    commits = Commits()
    step = WriteBatches(
        lambda values: release.wait(5) if values[0] == "v200" else None, commits, retryable=(), writers=2
    )
    step.submit(batch(0, 200))
    step.submit(batch(200, 200))
    step.join(0.2)
    release.set()
    assert commits.offsets == [200]  # the unfinished batch is consumed again after a restart


# ------------------------------------------------------------------ ProduceBatches


class Deliveries(Producer[KafkaPayload]):
    """A producer whose deliveries the test completes or fails, one future per message."""

    def __init__(self) -> None:
        self.futures: list[tuple[KafkaPayload, Future[BrokerValue[KafkaPayload]]]] = []

    def produce(self, destination: Topic | Partition, payload: KafkaPayload) -> Future[BrokerValue[KafkaPayload]]:
        future: Future[BrokerValue[KafkaPayload]] = Future()
        self.futures.append((payload, future))
        return future

    def ack(self, index: int, error: Exception | None = None) -> None:
        payload, future = self.futures[index]
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(BrokerValue(payload, Partition(TOPIC, 0), index, datetime.now(UTC)))

    def close(self) -> Future[None]:
        done: Future[None] = Future()
        done.set_result(None)
        return done


def outputs(values: Sequence[str]) -> list[KafkaPayload]:
    """Two outputs per value (a request with two impressions)."""
    return [KafkaPayload(None, f"{v}/{i}".encode(), []) for v in values for i in (1, 2)]


def test_a_batch_is_committed_once_every_output_is_acknowledged_in_batch_order() -> None:
    producer, commits = Deliveries(), Commits()
    step = ProduceBatches(outputs, producer, TOPIC, commits)
    step.submit(batch(0, 2))  # outputs 0-3
    step.submit(batch(2, 1))  # outputs 4-5
    assert [p.value for p, _ in producer.futures][:2] == [b"v0/1", b"v0/2"]
    for i in (4, 5, 0, 1, 2):
        producer.ack(i)
    step.poll()
    assert commits.offsets == []  # the second batch is delivered, the first is not
    producer.ack(3)
    step.poll()
    assert commits.offsets == [2, 3]


def test_a_failed_delivery_stops_the_role_with_nothing_committed() -> None:
    producer, commits = Deliveries(), Commits()
    step = ProduceBatches(outputs, producer, TOPIC, commits)
    step.submit(batch(0, 1))
    producer.ack(0)
    producer.ack(1, RuntimeError("message timed out"))
    with pytest.raises(RuntimeError, match="timed out"):
        step.poll()
    assert commits.offsets == []


def test_a_batch_without_outputs_is_committed_in_its_turn() -> None:
    producer, commits = Deliveries(), Commits()
    step = ProduceBatches(lambda values: [] if values == ["v2"] else outputs(values), producer, TOPIC, commits)
    step.submit(batch(0, 2))
    step.submit(batch(2, 1))  # nothing to produce
    step.poll()
    assert commits.offsets == []
    for i in range(4):
        producer.ack(i)
    step.poll()
    assert commits.offsets == [2, 3]


def test_too_many_batches_in_flight_are_refused() -> None:
    producer = Deliveries()
    step = ProduceBatches(outputs, producer, TOPIC, Commits(), max_pending=2)
    step.submit(batch(0, 1))
    step.submit(batch(1, 1))
    with pytest.raises(MessageRejected):
        step.submit(batch(2, 1))


@pytest.mark.kafka
def test_the_kafka_output_producer_delivers_a_batch(settings: Any) -> None:
    name = f"test-produce-{uuid.uuid4().hex[:8]}"
    ensure_topics(partitions=3, names=[name])
    producer = KafkaOutputProducer(producer_config())
    commits = Commits()
    step = ProduceBatches(outputs, producer, Topic(name), commits)
    try:
        step.submit(batch(0, 100))
        poll_until(step, lambda: commits.offsets == [100], timeout_s=30)
        # arroyo's one-message interface too: the future holds where the message went.
        one = producer.produce(Partition(Topic(name), 2), KafkaPayload(b"k", b"one", [("h", b"v")]))
        delivered = one.result(timeout=30)
        assert (delivered.partition.index, delivered.payload.value) == (2, b"one")
        assert delivered.offset >= 0
    finally:
        producer.close()
        admin_client().delete_topics([name])
