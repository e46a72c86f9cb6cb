"""The Campaigns panel of a snapshot (issue 16): per active campaign with a daily budget, today's
spend and reservations against the budget, the pacing line and the actual spend over the ledger's
day, wins, win rate, average clearing CPM and late bills.

The figures are `outcomes.campaign_stats.campaigns_stats` (each the `GET /api/campaigns/{id}/stats/`
body): one ledger connection, and one ledger state read and one aggregate per campaign, at most
CAMPAIGNS_MAX campaigns, once per published snapshot. The publisher keeps the actual spend it saw (at most PACING_POINTS samples a
campaign, those of the ledger's current day); the initial snapshot has only the present one.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import DatabaseError

from campaigns.models import Campaign, Status
from campaigns.selectors import campaign_list
from dashboard.snapshots.shape import CAMPAIGNS_MAX, PACING_POINTS, CampaignPacing, PacingPoint
from outcomes.campaign_stats import campaigns_stats

logger = logging.getLogger(__name__)

Stats = Callable[[Campaign], dict[str, Any]]


def budgeted_campaigns() -> list[Campaign]:
    """The campaigns the panel shows: active, with a daily budget, oldest first."""
    return list(
        campaign_list().filter(status=Status.ACTIVE, daily_budget_micros__isnull=False).order_by("id")[:CAMPAIGNS_MAX]
    )


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def campaign_pacing(stats: dict[str, Any], history: Sequence[PacingPoint]) -> CampaignPacing:
    """One campaign's panel entry from its `campaign_stats` body and its sampled spend."""
    return CampaignPacing(
        campaign_id=stats["campaign_id"],
        name=stats["name"],
        daily_budget=float(stats["daily_budget"]),
        spend_today=_float(stats["spend_today"]),
        reserved=_float(stats["reserved"]),
        pacing_target=_float(stats["pacing_target"]),
        late_bills=stats["late_bills"],
        day_started_at=stats["day_started_at"].timestamp(),
        day_s=float(stats["day_s"]),
        bids=stats["bids"],
        wins=stats["wins"],
        win_rate=float(stats["win_rate"]),
        average_clearing_cpm=float(stats["average_clearing_cpm"]),
        history=list(history),
    )


class CampaignPanels:
    """The Campaigns panel at `now`. With `keep_history`, each call also records the actual spend
    of each campaign (a sample per call, the current day's only, the newest PACING_POINTS).
    Blocking (queries and ledger reads): call it from the publisher's thread or a database thread."""

    def __init__(
        self,
        *,
        campaigns: Callable[[], list[Campaign]] = budgeted_campaigns,
        stats: Callable[..., list[dict[str, Any]]] = campaigns_stats,
        keep_history: bool = True,
    ) -> None:
        self.campaigns = campaigns
        self.stats = stats
        self.keep_history = keep_history
        self._lock = threading.Lock()
        self._history: dict[int, deque[PacingPoint]] = {}

    def __call__(self, now: float | None = None) -> list[CampaignPacing] | None:
        now = time.time() if now is None else now
        try:
            bodies = self.stats(self.campaigns(), now=now)
        except DatabaseError as exc:  # the panel stays as the page last saw it until the database answers
            logger.warning("dashboard: campaign figures unavailable: %s", exc)
            return None
        with self._lock:
            entries = [self._entry(body, now) for body in bodies]
            for gone in set(self._history) - {entry.campaign_id for entry in entries}:
                del self._history[gone]
        return entries

    def _entry(self, body: dict[str, Any], now: float) -> CampaignPacing:
        spent = _float(body["spend_today"])
        point = [PacingPoint(t=now, spent=spent)] if spent is not None else []
        if not self.keep_history:
            return campaign_pacing(body, point)
        day_start = body["day_started_at"].timestamp()
        history = self._history.setdefault(body["campaign_id"], deque(maxlen=PACING_POINTS))
        while history and history[0].t < day_start:  # a new day: yesterday's spend is not today's
            history.popleft()
        history.extend(point)
        return campaign_pacing(body, history)
