"""Batch windows that adapt to the rate (pipeline/adaptive.py), on the in-process broker: a message
after a quiet spell goes on at once, messages already waiting still form one batch, and the
consumer does not wait for more while a batch is open and messages keep coming."""

import time
from collections.abc import Sequence

import pytest
from arroyo.backends.kafka import KafkaPayload
from arroyo.commit import ONCE_PER_SECOND
from arroyo.processing import StreamProcessor
from arroyo.types import Topic

from pipeline import topics
from pipeline.adaptive import Batching
from pipeline.messages import BidResponse, encode
from pipeline.strategies import TransformFactory, payload
from pipeline.testing import produce, read_all
from pipeline.transports import LocalTransport

QUIET_S = 0.1


def response(i: int) -> BidResponse:
    return BidResponse(
        bid_request_id=f"req-{i}",
        imp_id="1",
        received_at="2026-11-26T12:00:00.000Z",
        bid_price=0.85,
        bid_floor=0.0,
        timestamp="2026-11-26T12:00:00.001Z",
        enriched=False,
    )


class Recorder:
    """A transform that records the size of each batch it gets and passes its messages on."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, batch: Sequence[BidResponse]) -> list[KafkaPayload]:
        self.batches.append(len(batch))
        return [payload(message, message.bid_request_id) for message in batch]


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(partitions=1)


def processor(transport: LocalTransport, recorder: Recorder, window_s: float) -> StreamProcessor[KafkaPayload]:
    factory = TransformFactory(
        kind=BidResponse,
        input_topic=topics.BID_RESPONSES,
        transform=recorder,
        producer=transport.producer(),
        output_topic=Topic(topics.resolved(topics.AUCTION_OUTCOMES)),
        max_batch_size=1000,
        max_batch_time_s=window_s,
    )
    return StreamProcessor(
        consumer=transport.consumer("adaptive-test"),
        topic=Topic(topics.resolved(topics.BID_RESPONSES)),
        processor_factory=factory,
        commit_policy=ONCE_PER_SECOND,
    )


def run(stream: StreamProcessor[KafkaPayload], times: int) -> None:
    for _ in range(times):
        stream._run_once()


def test_a_message_after_a_quiet_spell_goes_on_at_once(transport):
    recorder = Recorder()
    stream = processor(transport, recorder, window_s=QUIET_S / 2)
    run(stream, 3)  # assignment
    for i in range(3):
        time.sleep(QUIET_S)  # longer than the window: no batch went during the last one
        produce(transport, topics.BID_RESPONSES, encode(response(i)))
        run(stream, 3)  # poll + submit, a poll that finds nothing and the flush, the acknowledgement
        assert recorder.batches == [1] * (i + 1)
        assert len(read_all(transport, topics.AUCTION_OUTCOMES)) == i + 1


def test_messages_that_are_already_waiting_form_one_batch(transport):
    recorder = Recorder()
    for i in range(40):
        produce(transport, topics.BID_RESPONSES, encode(response(i)))
    stream = processor(transport, recorder, window_s=1.0)
    while len(read_all(transport, topics.AUCTION_OUTCOMES)) < 40:
        stream._run_once()
    assert recorder.batches == [40]


def test_the_consumer_waits_only_once_nothing_more_is_waiting():
    batching = Batching(enabled=True)
    assert batching.poll_timeout(0.005) == 0.005  # no batch open: wait for the next message
    batching.open, batching.until = True, time.time() + 3600
    batching.polled(found=True)
    assert batching.poll_timeout(0.005) == 0.0  # messages keep coming: take what is fetched
    batching.polled(found=False)
    assert batching.poll_timeout(0.005) == 0.005  # none left: wait (at most until the batch is due)
    switched_off = Batching(enabled=False)
    switched_off.open = True
    switched_off.polled(found=True)
    assert switched_off.poll_timeout(0.005) == 0.005
