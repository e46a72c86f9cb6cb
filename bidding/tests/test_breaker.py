import logging
import threading
import uuid

import pytest
from prometheus_client import REGISTRY

from bidding.breaker import BreakerState, CircuitBreaker
from bidding.tests.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    # A unique service label per test keeps the gauge readings independent.
    return CircuitBreaker(f"test-{uuid.uuid4().hex[:8]}", failure_threshold=5, open_s=30.0, clock=clock)


def gauge(breaker: CircuitBreaker) -> float | None:
    return REGISTRY.get_sample_value("circuit_breaker_state", {"service": breaker.service})


def trip(breaker: CircuitBreaker, failures: int = 5) -> None:
    for _ in range(failures):
        assert breaker.allow()
        breaker.record_failure()


def test_starts_closed(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    assert gauge(breaker) == 0
    assert breaker.allow()


def test_opens_after_five_consecutive_failures(breaker: CircuitBreaker) -> None:
    trip(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 4
    trip(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert gauge(breaker) == 1
    assert not breaker.allow()


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    trip(breaker, 4)
    breaker.record_success()
    trip(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    trip(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_stays_open_until_the_period_is_over_then_allows_one_trial(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(29.999)
    assert not breaker.allow()
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.001)
    assert breaker.allow()  # the trial
    assert breaker.state is BreakerState.HALF_OPEN
    assert gauge(breaker) == 2
    assert not breaker.allow()  # only one trial at a time


def test_successful_trial_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert gauge(breaker) == 0
    assert breaker.consecutive_failures == 0
    assert breaker.allow()
    assert breaker.allow()
    trip(breaker, 4)  # needs five fresh failures to open again
    assert breaker.state is BreakerState.CLOSED


def test_failed_trial_reopens_for_a_full_period(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(45)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert gauge(breaker) == 1
    clock.advance(29)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()


def test_a_trial_that_never_reports_back_is_retried_after_the_period(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    clock.advance(10)
    assert not breaker.allow()
    clock.advance(20)
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN


def test_neutral_result_keeps_the_count_and_hands_back_the_trial(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker, 4)
    breaker.record_neutral()
    assert breaker.consecutive_failures == 4
    assert breaker.state is BreakerState.CLOSED
    trip(breaker, 1)
    clock.advance(30)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_neutral()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the next call is the new trial


def test_late_failure_while_open_does_not_extend_the_period(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(20)
    breaker.record_failure()  # a call that started before the breaker opened
    clock.advance(10)
    assert breaker.allow()


def test_transitions_are_logged_once(
    breaker: CircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bidding.breaker")
    trip(breaker)
    for _ in range(3):  # a long outage: trials keep failing
        clock.advance(30)
        assert breaker.allow()
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    breaker.record_success()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 1
    assert "opened" in warnings[0].getMessage()
    assert len(infos) == 1
    assert "closed" in infos[0].getMessage()


def test_only_one_thread_gets_the_trial(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(30)
    start = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        allowed = breaker.allow()
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 15 + [True]


def test_concurrent_failures_open_it_exactly_once(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    breaker = CircuitBreaker("test-concurrent", failure_threshold=50, open_s=30, clock=clock)
    caplog.set_level(logging.WARNING, logger="bidding.breaker")

    def fail_20_times() -> None:
        for _ in range(20):
            breaker.record_failure()

    threads = [threading.Thread(target=fail_20_times) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker.state is BreakerState.OPEN
    assert breaker.consecutive_failures == 160
    assert len(caplog.records) == 1


@pytest.mark.parametrize(("failures", "open_s"), [(0, 30), (5, -1)])
def test_rejects_nonsense_settings(failures: int, open_s: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=failures, open_s=open_s)
