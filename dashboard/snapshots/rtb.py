"""The RTB panel of a snapshot (SPEC §12): the bid path's latency, answers past the deadline,
no-bid reasons and bids per campaign, over the RTB outcomes stored in the last RTB_HORIZON_S.

Both producers build it with `rtb_panel`: the publisher from the rows it stored (`RtbSamples`), the
initial snapshot from the database (`outcomes.recent.outcome_rtb_recent`). Campaign names come from
the campaigns app's selector, cached (`CampaignNames`): one query per unknown id, not per snapshot.
"""

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from django.db import DatabaseError

from bidding.decision import NoBid
from campaigns.selectors import campaign_list
from dashboard.snapshots.shape import RTB_HORIZON_S, RTB_SAMPLES_MAX, CampaignBids, NoBidCount, RtbPanel, percentile
from outcomes.recent import RtbSample
from outcomes.rows import OutcomeRow
from outcomes.rtb import RTB_SOURCE

logger = logging.getLogger(__name__)

HOUSE_ID = 0  # the bidder's built-in house fallback (bidding.house.HOUSE_ID): no database row
HOUSE_NAME = "house (built-in)"
NAMES_TTL_S = 60.0  # a renamed campaign shows its new name within this
# OpenRTB 2.6 no-bid reason codes (list 5.24), then Helios's own (bidding.decision.NoBid).
OPENRTB_NBR = {
    0: "unknown error",
    1: "technical error",
    2: "invalid request",
    3: "known web spider",
    4: "suspected non-human traffic",
    5: "cloud, data center or proxy IP",
    6: "unsupported device",
    7: "blocked publisher or site",
    8: "unmatched user",
    9: "daily reader cap met",
    10: "daily domain cap met",
}
NBR_REASONS = {**OPENRTB_NBR, **{int(code): code.reason.replace("_", " ") for code in NoBid}}


def nbr_reason(code: int) -> str:
    return NBR_REASONS.get(code, f"code {code}")


class CampaignNames:
    """Campaign id -> name through `campaign_list`, cached for NAMES_TTL_S. Blocking (a query for
    ids not cached): call it from the publisher's thread or the consumer's database thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._names: dict[int, str] = {HOUSE_ID: HOUSE_NAME}
        self._loaded_at = clock()

    def __call__(self, ids: Iterable[int]) -> dict[int, str]:
        if self.clock() - self._loaded_at > NAMES_TTL_S:
            self._names, self._loaded_at = {HOUSE_ID: HOUSE_NAME}, self.clock()
        missing = set(ids) - set(self._names)
        if missing:
            try:
                found = dict(campaign_list().filter(id__in=missing).values_list("id", "name"))
            except DatabaseError as exc:  # the panel goes out with ids until the database answers
                logger.warning("dashboard: campaign names unavailable: %s", exc)
                return self._names
            self._names.update({pk: found.get(pk, f"campaign {pk}") for pk in missing})
        return self._names


def rtb_panel(
    samples: Sequence[RtbSample], names: Callable[[Iterable[int]], Mapping[int, str]], horizon_s: float = RTB_HORIZON_S
) -> RtbPanel:
    latencies = sorted(s.latency_ms for s in samples if s.latency_ms is not None)
    late = sum(
        1 for s in samples if s.latency_ms is not None and s.deadline_ms is not None and s.latency_ms > s.deadline_ms
    )
    no_bids = Counter(s.nbr for s in samples if not s.bid and s.nbr is not None)
    bids = Counter(s.campaign_id for s in samples if s.bid and s.campaign_id is not None)
    named = names(bids) if bids else {}
    return RtbPanel(
        horizon_s=horizon_s,
        outcomes=len(samples),
        bids=sum(1 for s in samples if s.bid),
        latency_p50_ms=percentile(latencies, 0.50),
        latency_p99_ms=percentile(latencies, 0.99),
        late=late,
        no_bids=[NoBidCount(nbr=code, reason=nbr_reason(code), count=n) for code, n in sorted(no_bids.items())],
        campaigns=[
            CampaignBids(campaign_id=pk, name=named.get(pk, f"campaign {pk}"), bids=n)
            for pk, n in sorted(bids.items(), key=lambda item: (-item[1], item[0]))
        ],
    )


def rtb_sample(row: OutcomeRow) -> RtbSample:
    return RtbSample(
        latency_ms=row.latency_ms,
        deadline_ms=row.deadline_ms,
        nbr=row.nbr,
        campaign_id=row.campaign_id,
        bid=row.bid_price > 0,
    )


class RtbSamples:
    """The RTB outcomes a publisher stored in the last `horizon_s` (at most RTB_SAMPLES_MAX, the
    newest). `add` is cheap (the writer's thread); `panel` sorts and counts (the publisher's)."""

    def __init__(self, horizon_s: float = RTB_HORIZON_S) -> None:
        self.horizon_s = horizon_s
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, RtbSample]] = deque(maxlen=RTB_SAMPLES_MAX)

    def add(self, rows: Iterable[OutcomeRow], now: float) -> None:
        fresh = [(now, rtb_sample(row)) for row in rows if row.source == RTB_SOURCE]
        if fresh:
            with self._lock:
                self._samples.extend(fresh)

    def panel(self, now: float, names: Callable[[Iterable[int]], Mapping[int, str]]) -> RtbPanel:
        with self._lock:
            cutoff = now - self.horizon_s
            while self._samples and self._samples[0][0] < cutoff:
                self._samples.popleft()
            samples = [sample for _, sample in self._samples]
        return rtb_panel(samples, names, self.horizon_s)
