"""Builds and runs one role: the same code path for `runkafka` (Kafka) and embedded mode (local)."""

import gc
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from arroyo.commit import CommitPolicy
from arroyo.dlq import DlqPolicy
from arroyo.processing import StreamProcessor
from arroyo.processing.strategies.abstract import ProcessingStrategyFactory
from arroyo.types import Topic
from django.conf import settings

from pipeline import readiness, topics
from pipeline.roles import ROLES, RoleContext, StreamSpec, consumer_group
from pipeline.sideserver import role_side_server
from pipeline.strategies import ReasonDlqProducer
from pipeline.transports import KafkaTransport, Transport

logger = logging.getLogger(__name__)


class BuiltRole:
    """A consumer role ready to run: its stream processor plus what must be closed after it, and
    the processors of its further input streams (`RoleSpec.streams`), run beside it in threads."""

    def __init__(
        self,
        name: str,
        processor: StreamProcessor,
        closers: list[Callable[[], object]],
        ctx: RoleContext,
        streams: list["BuiltRole"] | None = None,
    ):
        self.name = name
        self.processor = processor
        self.closers = closers
        self.ctx = ctx
        self.streams = streams or []

    def run(self) -> None:
        """Blocks until `shutdown()`; then finishes in-flight work, commits it and closes producers.
        If one of the role's processors fails, the others are stopped and the error is raised."""
        threads = [
            threading.Thread(target=self._run_stream, args=(s,), name=f"{s.name}", daemon=True) for s in self.streams
        ]
        for thread in threads:
            thread.start()
        try:
            self.processor.run()
        finally:
            for stream in self.streams:
                stream.shutdown()
            for thread in threads:
                thread.join()
            for close in self.closers:
                close()

    def _run_stream(self, stream: "BuiltRole") -> None:
        try:
            stream.run()
        except BaseException:
            logger.exception("stream %s failed; stopping the role", stream.name)
            self.processor.signal_shutdown()
            raise

    def shutdown(self) -> None:
        for stream in self.streams:
            stream.shutdown()
        self.processor.signal_shutdown()


def _processor(
    transport: Transport, group: str, topic: str, factory: ProcessingStrategyFactory[Any], *, dlq: bool
) -> tuple[StreamProcessor, Callable[[], object] | None]:
    input_topic = topics.resolved(topic)
    dlq_producer = transport.producer(dlq=True) if dlq else None
    processor = StreamProcessor(
        consumer=transport.consumer(group),
        topic=Topic(input_topic),
        processor_factory=factory,
        # Offsets are committed at most this often; a crash re-delivers at most this much work,
        # which the idempotent sinks absorb.
        commit_policy=CommitPolicy(
            min_commit_frequency_sec=settings.HELIOS_COMMIT_INTERVAL_S, min_commit_messages=None
        ),
        join_timeout=settings.HELIOS_SHUTDOWN_TIMEOUT_S,
        dlq_policy=(
            DlqPolicy(ReasonDlqProducer(dlq_producer, Topic(topics.dlq(input_topic)))) if dlq_producer else None
        ),
    )
    return processor, dlq_producer.close if dlq_producer else None


def build_role(name: str, transport: Transport) -> BuiltRole:
    spec = ROLES[name]
    assert spec.topic is not None, f"{name} is not a consumer role"
    closers: list[Callable[[], object]] = []
    producer = None
    output_topic = None
    if spec.output:
        producer = transport.producer()
        closers.append(producer.close)
        output_topic = Topic(topics.resolved(spec.output))
    ctx = RoleContext(role=name, producer=producer, output_topic=output_topic, closers=closers)
    factory = spec.load()(ctx)
    processor, close_dlq = _processor(transport, consumer_group(name), spec.topic, factory, dlq=True)
    if close_dlq is not None:
        closers.append(close_dlq)
    streams = [_build_stream(name, stream, transport, ctx) for stream in spec.streams]
    return BuiltRole(name, processor, closers, ctx, streams)


def _build_stream(role: str, stream: StreamSpec, transport: Transport, parent: RoleContext) -> BuiltRole:
    """A further input of `role`: its own consumer group; its readiness checks join the role's."""
    closers: list[Callable[[], object]] = []
    ctx = RoleContext(role=f"{role}-{stream.name}", producer=None, output_topic=None, closers=closers)
    ctx.ready_checks = parent.ready_checks
    factory = stream.load()(ctx)
    processor, close_dlq = _processor(transport, consumer_group(ctx.role), stream.topic, factory, dlq=stream.dlq)
    if close_dlq is not None:
        closers.append(close_dlq)
    return BuiltRole(ctx.role, processor, closers, ctx)


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT call `stop`, once (a role process has one owner of its signals).

    Once: Python runs a signal's handler in the main thread between two bytecodes, so a second
    signal can interrupt the first handler inside `threading.Event.set`, whose lock is not
    re-entrant: the nested `set` then waits forever for the lock its own thread holds (a handler
    worker hit by the parent-death signal more than once hung that way)."""
    called = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal called
        if not called:
            called = True
            stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running role (HELIOS_GC_THRESHOLDS).

    What start-up loaded (Django, the apps, the libraries) is moved out of the collector's sight
    (`gc.freeze`), and the first generation is collected after many more allocations than CPython's
    700: the role's steady state allocates short-lived objects by the million, and each of the
    default's frequent collections, with an occasional full one over everything loaded, stalled
    the handler's event loop: measured on /bid at 64 connections, p99 67 -> 9 ms, 12,900 -> 18,500
    accepted/s (docs/benchmarks.md)."""
    thresholds = settings.HELIOS_GC_THRESHOLDS
    if not thresholds:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def run_consumer_role(name: str, install_signals: Callable[[Callable[[], None]], None]) -> None:
    """Runs a consumer role on Kafka with its side server until a signal asks it to stop."""
    transport = KafkaTransport()
    role = build_role(name, transport)
    role.ctx.ready_checks.setdefault("kafka", readiness.kafka)
    with role_side_server(name, transport, role.ctx.ready_checks) as port:
        install_signals(role.shutdown)
        tune_gc()
        logger.info("role %s started (metrics on :%s)", name, port)
        try:
            role.run()
        finally:
            logger.info("role %s stopped", name)


def run_server_role(name: str, install_signals: Callable[[Callable[[], None]], None], **options: Any) -> None:
    """Runs a server role (no input topic) on Kafka until a signal sets its stop event."""
    stop = threading.Event()
    install_signals(stop.set)
    logger.info("role %s started", name)
    tune_gc()
    ROLES[name].load()(stop, KafkaTransport(), **options)
    logger.info("role %s stopped", name)
