"""Builds and runs one role: the same code path for `runkafka` (Kafka) and embedded mode (local)."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from arroyo.commit import CommitPolicy
from arroyo.dlq import DlqPolicy
from arroyo.processing import StreamProcessor
from arroyo.types import Topic
from django.conf import settings

from pipeline import topics
from pipeline.roles import ROLES, RoleContext, consumer_group
from pipeline.sideserver import SideServer
from pipeline.strategies import ReasonDlqProducer
from pipeline.transports import KafkaTransport, Transport

logger = logging.getLogger(__name__)


class BuiltRole:
    """A consumer role ready to run: its stream processor plus what must be closed after it."""

    def __init__(self, name: str, processor: StreamProcessor, closers: list[Callable[[], object]], ctx: RoleContext):
        self.name = name
        self.processor = processor
        self.closers = closers
        self.ctx = ctx

    def run(self) -> None:
        """Blocks until `shutdown()`; then finishes in-flight work, commits it and closes producers."""
        try:
            self.processor.run()
        finally:
            for close in self.closers:
                close()

    def shutdown(self) -> None:
        self.processor.signal_shutdown()


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
    input_topic = topics.resolved(spec.topic)
    dlq_producer = transport.producer(dlq=True)
    closers.append(dlq_producer.close)
    processor = StreamProcessor(
        consumer=transport.consumer(consumer_group(name)),
        topic=Topic(input_topic),
        processor_factory=factory,
        # Offsets are committed at most this often; a crash re-delivers at most this much work,
        # which the idempotent sinks absorb.
        commit_policy=CommitPolicy(
            min_commit_frequency_sec=settings.HELIOS_COMMIT_INTERVAL_S, min_commit_messages=None
        ),
        join_timeout=settings.HELIOS_SHUTDOWN_TIMEOUT_S,
        dlq_policy=DlqPolicy(ReasonDlqProducer(dlq_producer, Topic(topics.dlq(input_topic)))),
    )
    return BuiltRole(name, processor, closers, ctx)


def run_consumer_role(name: str, install_signals: Callable[[Callable[[], None]], None]) -> None:
    """Runs a consumer role on Kafka with its side server until a signal asks it to stop."""
    role = build_role(name, KafkaTransport())
    role.ctx.ready_checks.setdefault("kafka", kafka_reachable)
    side = SideServer(settings.HELIOS_METRICS_HOST, settings.HELIOS_ROLE_PORTS[name], role.ctx.ready_checks).start()
    install_signals(role.shutdown)
    logger.info("role %s started (metrics on :%s)", name, side.port)
    try:
        role.run()
    finally:
        side.stop()
        logger.info("role %s stopped", name)


def run_server_role(name: str, install_signals: Callable[[Callable[[], None]], None]) -> None:
    """Runs a server role (no input topic) until a signal sets its stop event."""
    stop = threading.Event()
    install_signals(stop.set)
    logger.info("role %s started", name)
    ROLES[name].load()(stop)
    logger.info("role %s stopped", name)


_probe_clients: dict[str, Any] = {}
_probe_lock = threading.Lock()


def kafka_reachable() -> bool:
    """The /readyz check of the Kafka roles: a metadata request (raises when no broker answers in
    2 s). One long-lived client per broker list: a client per probe meant librdkafka threads and
    sockets created and torn down every few seconds, and many at once while a broker is down."""
    from confluent_kafka.admin import AdminClient

    from pipeline.transports import client_config

    config = client_config(**{"socket.connection.setup.timeout.ms": 1000})
    key = repr(sorted(config.items()))
    with _probe_lock:
        admin = _probe_clients.get(key)
        if admin is None:
            admin = AdminClient(config)
            _probe_clients[key] = admin
    return bool(admin.list_topics(timeout=2).brokers)
