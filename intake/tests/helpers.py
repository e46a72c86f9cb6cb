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

    def __init__(self, *, reachable: bool = True, fail: str | None = None) -> None:
        self.is_reachable = reachable
        self.fail = fail
        self.published: list[tuple[bytes, bytes]] = []

    async def publish(self, key: bytes, value: bytes) -> None:
        if self.fail:
            raise Unavailable(self.fail)
        self.published.append((key, value))

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
        "query_string": b"",
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


def read_messages(topic: str, *, expect: int, timeout_s: float = 30.0) -> list[Any]:
    """Messages of `topic` from the beginning, once at least `expect` arrived (or the timeout)."""
    consumer = Consumer(
        kafka_config(
            **{
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(out) < expect:
            out.extend(m for m in consumer.consume(100, timeout=0.5) if m.error() is None)
    finally:
        consumer.close()
    return out
