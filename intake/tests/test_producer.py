"""The producer's own rules that need no broker: late acknowledgements, close(), log de-duplication."""

import asyncio
import logging

from prometheus_client import REGISTRY

from conftest import free_port
from intake.kafka_logs import RepeatFilter
from intake.producer import IntakeProducer, Unavailable, _expire, _settle


def late_acks() -> float:
    return REGISTRY.get_sample_value("helios_intake_late_acks_total") or 0.0


def test_a_report_after_the_deadline_counts_as_a_late_ack():
    async def scenario() -> None:
        future = asyncio.get_running_loop().create_future()
        _expire(future)
        before = late_acks()
        _settle([(future, None)])
        assert late_acks() == before + 1
        error = future.exception()
        assert isinstance(error, Unavailable)
        assert error.reason == "timeout"

    asyncio.run(scenario())


def test_reports_resolve_their_futures():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        ok, failed = loop.create_future(), loop.create_future()

        class Error:
            def str(self) -> str:
                return "Broker: Not enough in-sync replicas"

        _settle([(ok, None), (failed, Error())])  # type: ignore[list-item]
        assert ok.result() is None
        error = failed.exception()
        assert isinstance(error, Unavailable)
        assert error.reason == "delivery_failed"
        assert "in-sync" in str(error)

    asyncio.run(scenario())


def test_close_reports_what_it_could_not_deliver(settings):
    settings.HELIOS_INTAKE_DEADLINE_S = 5.0
    producer = IntakeProducer.from_settings(**{"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    producer.health_timeout_s = 0.2
    producer.start()

    async def enqueue() -> None:
        task = asyncio.create_task(producer.publish(b"k", b"{}"))
        await asyncio.sleep(0.05)
        assert producer.queued() == 1
        task.cancel()

    asyncio.run(enqueue())
    assert producer.close(timeout_s=0.2) == 1


def test_repeat_filter_lets_one_copy_through_per_window():
    log_filter = RepeatFilter(window_s=60)
    record = logging.LogRecord("intake.kafka", logging.ERROR, __file__, 1, "Connect failed", None, None)
    other = logging.LogRecord("intake.kafka", logging.ERROR, __file__, 1, "Other", None, None)
    assert log_filter.filter(record)
    assert not log_filter.filter(record)
    assert log_filter.filter(other)
    assert RepeatFilter(window_s=0).filter(record)
