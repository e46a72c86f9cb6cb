"""Keeps a process's campaign index current (SPEC §13): a change reaches it within ~1 poll.

A daemon thread polls the change counter (`campaigns.changes`) every `poll_s` and reloads the
index when the counter moved, and in full every `reload_s` whatever it says (the safety net for
a missed signal: Redis down during a write, a write outside the services). Readers take
`refresher.index` — one attribute read of an immutable snapshot, no lock, no database.
A failed poll or load keeps the previous snapshot and is logged once per failure streak.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connections
from prometheus_client import Counter, Gauge

from campaigns.index import CampaignIndex

logger = logging.getLogger(__name__)

INDEX_RELOADS = Counter(
    "helios_campaign_index_reloads_total", "Campaign index reloads by outcome", ["result"]
)  # ok | error
INDEX_CAMPAIGNS = Gauge("helios_campaign_index_campaigns", "Campaigns in this process's campaign index")
INDEX_LOADED_AT = Gauge("helios_campaign_index_loaded_timestamp_seconds", "When this process last loaded its index")

VersionFn = Callable[[], int | None]
LoadFn = Callable[[int | None], CampaignIndex]


class IndexRefresher:
    def __init__(
        self,
        *,
        load: LoadFn,
        version: VersionFn,
        poll_s: float,
        reload_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._version = version
        self.poll_s = poll_s
        self.reload_s = reload_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._loaded_at = 0.0
        self.index: CampaignIndex | None = None

    def refresh(self) -> bool:
        """One poll: reloads when the counter moved or the full-reload interval passed. True if it reloaded."""
        try:
            version = self._version()
        except Exception as exc:  # noqa: BLE001 - Redis down: rely on the periodic reload
            self._failed("campaign change signal unreadable", exc)
            version = self.index.version if self.index is not None else None
        due = self.index is None or self._clock() - self._loaded_at >= self.reload_s
        if not due and self.index is not None and version == self.index.version:
            return False
        try:
            self.index = self._load(version)
        except Exception as exc:  # noqa: BLE001 - keep serving the last snapshot
            INDEX_RELOADS.labels("error").inc()
            self._failed("campaign index reload failed", exc)
            return False
        INDEX_RELOADS.labels("ok").inc()
        INDEX_CAMPAIGNS.set(len(self.index.campaigns))
        INDEX_LOADED_AT.set_to_current_time()
        self._loaded_at = self._clock()
        if self._failing:
            logger.info("campaign index reloaded again (%d campaigns)", len(self.index.campaigns))
            self._failing = False
        return True

    def _failed(self, what: str, exc: Exception) -> None:
        if not self._failing:
            logger.warning("%s, keeping the last snapshot: %s", what, exc)
        self._failing = True

    def start(self, *, load_in_thread: bool = False) -> "IndexRefresher":
        """Loads once in the caller's thread (so the process starts with an index; with
        `load_in_thread`, in the polling thread: the caller's database connection is left alone),
        then polls in a thread."""
        if not load_in_thread:
            self.refresh()
        self._thread = threading.Thread(target=self._run, args=(load_in_thread,), name="campaign-index", daemon=True)
        self._thread.start()
        return self

    def _run(self, load_first: bool = False) -> None:
        try:
            if load_first:
                self.refresh()
            while not self._stop.wait(self.poll_s):
                self.refresh()
        finally:
            connections.close_all()  # this thread's own connections (they are per thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def _load_from_database(version: int | None) -> CampaignIndex:
    from campaigns.selectors import campaign_index_load

    close_old_connections()  # this thread's connection may have gone stale between loads
    try:
        return campaign_index_load(version=version)
    finally:
        close_old_connections()


def campaign_index_refresher() -> IndexRefresher:
    """A refresher on the database and the configured change signal (not started)."""
    from campaigns.changes import index_version

    return IndexRefresher(
        load=_load_from_database,
        version=index_version,
        poll_s=settings.HELIOS_CAMPAIGN_POLL_S,
        reload_s=settings.HELIOS_CAMPAIGN_RELOAD_S,
    )


class SharedRefresher:
    """One refresher per process, shared by the roles running in it (embedded mode runs the
    handler and the bidder side by side): started by the first `acquire`, stopped by the last
    `release`. The first load happens in its thread; until it is done `index` is None."""

    def __init__(self, make: Callable[[], IndexRefresher] = campaign_index_refresher) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._users = 0
        self.refresher: IndexRefresher | None = None

    @property
    def index(self) -> CampaignIndex | None:
        refresher = self.refresher
        return refresher.index if refresher is not None else None

    def acquire(self) -> "SharedRefresher":
        with self._lock:
            if self.refresher is None:
                self.refresher = self._make().start(load_in_thread=True)
            self._users += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._users = max(self._users - 1, 0)
            if self._users == 0 and self.refresher is not None:
                self.refresher.stop()
                self.refresher = None

    def stop(self) -> None:
        """Stops it whoever still holds it (the end of a test session)."""
        with self._lock:
            self._users = 0
            if self.refresher is not None:
                self.refresher.stop()
                self.refresher = None


SHARED = SharedRefresher()
