"""Test helpers: call the ASGI app in-process, a fake publisher, and read-back from the real broker."""

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from intake.producer import Unavailable
from pipeline.transports import bootstrap_servers


class FakePublisher:
    """Stands in for IntakeProducer: records what was published, or fails as told."""

    def __init__(self, *, reachable: bool = True, fail: str | None = None, ack: bool = True) -> None:
        self.is_reachable = reachable
        self.fail = fail
        self.ack = ack  # False: enqueued messages are never acknowledged
        self.published: list[tuple[bytes, bytes]] = []
        self.sent: list[tuple[str | None, bytes, bytes]] = []  # (topic, key, value) of enqueue/send

    async def publish(self, key: bytes, value: bytes) -> None:
        if self.fail:
            raise Unavailable(self.fail)
        self.published.append((key, value))

    def enqueue(self, key: bytes, value: bytes, topic: str | None = None) -> "asyncio.Future[None]":
        self.send(key, value, topic)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.ack:
            future.set_result(None)
        return future

    def send(self, key: bytes, value: bytes, topic: str | None = None) -> None:
        if self.fail:
            raise Unavailable(self.fail)
        self.sent.append((topic, key, value))

    def reachable(self) -> bool:
        return self.is_reachable


class AsgiResult:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        self.status = start["status"] if start else None
        self.headers = {k.decode().lower(): v.decode() for k, v in (start["headers"] if start else [])}
        self.body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        self.received = 0  # how many receive() calls the app made

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def call(
    app: Any,
    method: str = "POST",
    path: str = "/bid",
    body: bytes | Iterable[bytes] = b"",
    headers: Iterable[tuple[str, str]] | None = None,
    *,
    content_type: str | None = "application/json",
    disconnect: bool = False,
    query: str = "",
) -> AsgiResult:
    """Runs one HTTP request through the ASGI app; `body` may be a list of chunks (streamed)."""
    chunks = [body] if isinstance(body, bytes) else list(body)
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or [])]
    if content_type is not None:
        raw_headers.append((b"content-type", content_type.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[dict[str, Any]] = []
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls <= len(chunks):
            more = disconnect or calls < len(chunks)  # a client that disconnects never finishes its body
            return {"type": "http.request", "body": chunks[calls - 1], "more_body": more}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    result = AsgiResult(sent)
    result.received = calls
    return result


def kafka_config(**extra: Any) -> dict[str, Any]:
    return {"bootstrap.servers": ",".join(bootstrap_servers()), **extra}


def high_watermarks(topic: str, partitions: int = 3, timeout_s: float = 20.0) -> int:
    """The sum over partitions of the topic's high-watermark offsets: how many messages it ever got.
    Retries while a freshly created topic's partitions have no leader yet."""
    consumer = Consumer(kafka_config(**{"group.id": f"watermarks-{uuid.uuid4().hex}"}))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return sum(
                    consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)
                )
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def read_messages(topic: str, *, expect: int = 0, timeout_s: float = 60.0) -> list[Any]:
    """Every message of `topic`: each partition is read from its first offset up to its high
    watermark (taken when called), so whatever the broker acknowledged before the call is returned.

    No consumer group: the partitions are assigned explicitly, so neither a slow group join nor a
    rebalance (which re-delivers from the start) can hide or duplicate messages, and completion is
    decided by offsets, never by counting (duplicates cannot make up for a missing message).
    `expect` is a minimum: while fewer messages than that are below the watermarks, they are read
    again (for a message still in flight); after `timeout_s` whatever was read is returned."""
    consumer = Consumer(
        kafka_config(
            **{
                "group.id": f"reader-{uuid.uuid4().hex}",  # required by the client; never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # Up to the high watermark, not the last stable offset: nothing here is transactional,
                # but the stopping point must be one the reader can always reach.
                "isolation.level": "read_uncommitted",
            }
        )
    )
    deadline = time.monotonic() + timeout_s
    try:
        partitions = _partitions(consumer, topic, deadline)
        start = {p: _watermarks(consumer, topic, p, deadline)[0] for p in partitions}
        consumer.assign([TopicPartition(topic, p, start[p]) for p in partitions])
        messages: dict[tuple[int, int], Any] = {}
        position = dict(start)  # next offset to read, per partition
        while True:
            end = {p: _watermarks(consumer, topic, p, deadline)[1] for p in partitions}
            while any(position[p] < end[p] for p in partitions) and time.monotonic() < deadline:
                for message in consumer.consume(500, timeout=0.5):
                    if message.error() is not None:
                        continue  # transient (retried by the client); a lasting one ends in the timeout
                    partition, offset = message.partition(), message.offset()
                    assert partition is not None and offset is not None  # set on every consumed message
                    messages[(partition, offset)] = message
                    position[partition] = max(position[partition], offset + 1)
            if len(messages) >= expect or time.monotonic() >= deadline:
                break
            time.sleep(0.1)  # fewer than expected below the watermarks: look again
    finally:
        consumer.close()
    return [messages[k] for k in sorted(messages)]


def _partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    """The topic's partition ids from the metadata (a topic created a moment ago may not show yet)."""
    while True:
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is not None and metadata.error is None and metadata.partitions:
                return sorted(metadata.partitions)
            error: Any = metadata.error if metadata is not None else "missing"
        except KafkaException as exc:
            error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} has no partitions in the metadata: {error}")
        time.sleep(0.2)


def _watermarks(consumer: Consumer, topic: str, partition: int, deadline: float) -> tuple[int, int]:
    """(low, high) watermark offsets of one partition, retried while it has no leader yet."""
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            return int(low), int(high)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
