"""A small thread-safe circuit breaker for the bidder's profile lookups (SPEC §5).

closed --N consecutive failures--> open --after T seconds--> half-open (one trial call)
half-open --trial succeeds--> closed;  half-open --trial fails--> open for another T seconds.

While open, `allow()` says no and the caller bids unenriched instead of waiting on a dead service.
"""

import enum
import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import Gauge

logger = logging.getLogger(__name__)

CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open", ["service"]
)


class BreakerState(enum.IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    """Counts consecutive failures of calls to one service.

    Callers ask `allow()` before a call and report its result with `record_success()`,
    `record_failure()` or `record_neutral()`. In half-open state only one caller at a time is allowed through (the
    trial); if that caller never reports back, another trial is allowed after `open_s`.
    `clock` is a monotonic clock in seconds, injectable for tests.
    """

    def __init__(
        self,
        service: str = "profiles",
        *,
        failure_threshold: int = 5,
        open_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or open_s < 0:
            raise ValueError("failure_threshold must be >= 1 and open_s >= 0")
        self.service = service
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None
        self._gauge = CIRCUIT_BREAKER_STATE.labels(service)
        self._gauge.set(BreakerState.CLOSED)

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def allow(self) -> bool:
        """May a call go ahead now? In half-open state this hands out the single trial."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            now = self._clock()
            if self._state is BreakerState.OPEN:
                if now - self._opened_at < self.open_s:
                    return False
                self._set(BreakerState.HALF_OPEN)
            elif self._trial_started_at is not None and now - self._trial_started_at < self.open_s:
                return False  # a trial is in flight
            self._trial_started_at = now
        return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._trial_started_at = None
            if self._state is BreakerState.CLOSED:
                return
            self._set(BreakerState.CLOSED)
        logger.info("circuit breaker for %s closed: the service answers again", self.service)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_started_at = None
            if self._state is BreakerState.OPEN:
                return  # a call that started before the breaker opened
            if self._state is BreakerState.CLOSED and self._failures < self.failure_threshold:
                return
            trial_failed = self._state is BreakerState.HALF_OPEN
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)
        if trial_failed:
            logger.debug("circuit breaker for %s: trial call failed, open for %.1f s more", self.service, self.open_s)
        else:
            logger.warning(
                "circuit breaker for %s opened after %d consecutive failures: calls skipped for %.1f s",
                self.service,
                self.failure_threshold,
                self.open_s,
            )

    def record_neutral(self) -> None:
        """The call ended in a way that says nothing about the service's health (e.g. it answered
        with an error that is not an outage): the failure count stays, a half-open trial is
        handed back so that the next call tries again."""
        with self._lock:
            self._trial_started_at = None

    def _set(self, state: BreakerState) -> None:
        self._state = state
        self._gauge.set(state)
