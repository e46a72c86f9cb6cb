"""The outcomes role as `runkafka outcomes` builds it, on arroyo's in-process broker.

`transaction=True`: the role commits its own transactions, as in production."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from outcomes import consumer
from outcomes.models import AuctionOutcome, OutcomeDailyRollup
from outcomes.services import outcome_batch_listener_add
from outcomes.tests.factories import outcome_message, outcome_messages
from pipeline.messages import encode
from pipeline.runner import BuiltRole, build_role
from pipeline.sideserver import run_checks
from pipeline.strategies import ERROR_HEADER
from pipeline.testing import committed, produce, read_dlq, run_for, step_until
from pipeline.topics import AUCTION_OUTCOMES
from pipeline.transports import LocalTransport

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_message_is_stored_once_and_committed(role: BuiltRole, transport: LocalTransport) -> None:
    messages = outcome_messages(10)
    for m in messages:
        produce(transport, AUCTION_OUTCOMES, encode(m), m.bid_request_id.encode())
    produce(transport, AUCTION_OUTCOMES, encode(messages[3]))  # a re-delivered duplicate
    step_until(role, lambda: committed(transport, "outcomes") == 11)
    assert AuctionOutcome.objects.count() == 10
    assert set(AuctionOutcome.objects.values_list("bid_id", flat=True)) == {m.bid_request_id for m in messages}
    assert OutcomeDailyRollup.objects.get().total == 10
    assert read_dlq(transport, AUCTION_OUTCOMES) == []
    assert "database" in role.ctx.ready_checks


def test_poison_messages_go_to_the_dlq_and_the_next_is_stored(role: BuiltRole, transport: LocalTransport) -> None:
    good = outcome_messages(2)
    produce(transport, AUCTION_OUTCOMES, encode(good[0]))
    produce(transport, AUCTION_OUTCOMES, b"this is not json", b"bad-1")
    produce(transport, AUCTION_OUTCOMES, b'{"bid_request_id": 5, "imp_id": "1"}', b"bad-2")
    produce(transport, AUCTION_OUTCOMES, encode(outcome_message(received_at="yesterday")), b"bad-3")
    produce(transport, AUCTION_OUTCOMES, encode(good[1]))
    step_until(role, lambda: committed(transport, "outcomes") == 5)

    assert sorted(AuctionOutcome.objects.values_list("bid_id", flat=True)) == sorted(m.bid_request_id for m in good)
    dead = read_dlq(transport, AUCTION_OUTCOMES)
    assert [p.key for p in dead] == [b"bad-1", b"bad-2", b"bad-3"]
    assert dead[0].value == b"this is not json"
    reasons = [dict(p.headers)[ERROR_HEADER] for p in dead]
    assert all(reasons)
    assert b"InvalidOutcome" in reasons[2] and b"received_at" in reasons[2]


def test_dlq_offset_is_not_committed_ahead_of_unwritten_outcomes(
    batch_settings: Any, transport: LocalTransport
) -> None:
    """A DLQ'd message's offset waits for the batch holding the outcomes before it."""
    batch_settings.HELIOS_OUTCOMES_BATCH_SIZE = 100
    batch_settings.HELIOS_OUTCOMES_BATCH_TIME_S = 60
    batch_settings.HELIOS_ADAPTIVE_BATCHES = False  # the batch stays open, as when the rate fills its window
    built = build_role("outcomes", transport)
    produce(transport, AUCTION_OUTCOMES, encode(outcome_message()))
    produce(transport, AUCTION_OUTCOMES, encode(outcome_message()))
    produce(transport, AUCTION_OUTCOMES, b"poison", b"bad")
    produce(transport, AUCTION_OUTCOMES, encode(outcome_message()))
    step_until(built, lambda: len(read_dlq(transport, AUCTION_OUTCOMES)) == 1)
    run_for(built, 0.2)
    assert (committed(transport, "outcomes"), AuctionOutcome.objects.count()) == (0, 0)
    built.shutdown()
    built.run()  # flushes the batch, then commits
    assert (committed(transport, "outcomes"), AuctionOutcome.objects.count()) == (4, 3)


def test_offsets_move_only_after_the_database_commit(
    role: BuiltRole, transport: LocalTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = consumer.outcome_record_batch
    failures: list[int] = []

    def flaky(**kwargs: Any) -> int:
        if not failures:
            failures.append(len(kwargs["rows"]))
            raise OperationalError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(consumer, "outcome_record_batch", flaky)
    retries_before = REGISTRY.get_sample_value("helios_outcomes_write_retries_total") or 0.0
    messages = outcome_messages(3)
    for m in messages:
        produce(transport, AUCTION_OUTCOMES, encode(m))
    step_until(role, lambda: bool(failures))
    assert (committed(transport, "outcomes"), AuctionOutcome.objects.count()) == (0, 0)

    step_until(role, lambda: committed(transport, "outcomes") == 3)  # retried after the back-off
    assert AuctionOutcome.objects.count() == 3
    assert REGISTRY.get_sample_value("helios_outcomes_write_retries_total") == retries_before + 1


def test_shutdown_while_the_database_is_down_commits_nothing(
    role: BuiltRole, transport: LocalTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def down(**kwargs: Any) -> int:
        attempts.append(1)
        raise OperationalError("connection refused")

    monkeypatch.setattr(consumer, "outcome_record_batch", down)
    for m in outcome_messages(6):  # one batch waiting, the next one refused
        produce(transport, AUCTION_OUTCOMES, encode(m))
    run_for(role, 0.5)
    assert len(attempts) >= 2  # retried with back-off...
    assert len(attempts) < 10  # ...not in a busy loop
    role.shutdown()
    role.run()  # gives up on the unwritten batches within the join timeout
    assert (committed(transport, "outcomes"), AuctionOutcome.objects.count()) == (0, 0)


def test_database_ready_check(role: BuiltRole) -> None:
    assert run_checks(role.ctx.ready_checks) == {}


LISTENER_EVENTS: list[str] = []


def recording_listener() -> Callable[[], None]:
    """A listener as HELIOS_OUTCOME_LISTENERS names one: it subscribes and returns its stop."""
    remove = outcome_batch_listener_add(
        listener=lambda rows: LISTENER_EVENTS.extend(f"stored {row.bid_id}" for row in rows)
    )
    LISTENER_EVENTS.append("started")

    def stop() -> None:
        remove()
        LISTENER_EVENTS.append("stopped")

    return stop


def test_the_role_starts_the_listeners_named_in_the_settings(batch_settings: Any, transport: LocalTransport) -> None:
    batch_settings.HELIOS_OUTCOME_LISTENERS = ["outcomes.tests.test_consumer.recording_listener"]
    LISTENER_EVENTS.clear()
    built = build_role("outcomes", transport)
    messages = outcome_messages(3)
    for m in messages:
        produce(transport, AUCTION_OUTCOMES, encode(m))
    step_until(built, lambda: committed(transport, "outcomes") == 3)
    built.shutdown()
    built.run()  # runs the role's closers
    assert LISTENER_EVENTS[0] == "started" and LISTENER_EVENTS[-1] == "stopped"
    assert sorted(LISTENER_EVENTS[1:-1]) == sorted(f"stored {m.bid_request_id}" for m in messages)
