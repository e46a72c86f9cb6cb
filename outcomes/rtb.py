"""The REST API's reads of RTB outcomes (SPEC §12, §16): what `POST /openrtb2/bid` decided,
counted by privacy state and by no-bid code (the live dashboard's are in `outcomes/recent.py`).

RTB rows are those with `source` "rtb". Over all outcomes the counts come from the RTB rollup rows
(`OutcomeRtbRollup`, kept by `outcome_record_batch`); over a filtered set they are grouped in the
database, one GROUP BY per disjoint part (`selectors.outcome_parts`). Both give the same numbers.
"""

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from outcomes.models import RTB_NO_NBR, AuctionOutcome, OutcomeRtbRollup
from outcomes.status import expiry_cutoff

RTB_SOURCE = "rtb"
UNKNOWN_PRIVACY = "unknown"  # an RTB row without a privacy state


@dataclass(frozen=True)
class RtbCounts:
    """RTB outcomes of a set: how many, how many bid, and how many per privacy state and per
    OpenRTB no-bid code (keys as strings, JSON's object keys)."""

    outcomes: int = 0
    bids: int = 0
    by_privacy: dict[str, int] = field(default_factory=dict)
    by_nbr: dict[str, int] = field(default_factory=dict)


def outcome_rtb_counts(*, parts: Sequence[QuerySet[AuctionOutcome]] | None = None) -> RtbCounts:
    """The RTB counts over all outcomes (from the rollups: a few rows a day), or over the union of
    disjoint `parts` (their counts add up)."""
    privacy: Counter[str] = Counter()
    nbr: Counter[str] = Counter()
    outcomes = bids = 0
    groups: list[Iterable[tuple[str | None, int | None, int, int]]] = []
    if parts is None:
        summed = (
            OutcomeRtbRollup.objects.order_by()
            .values("privacy", "nbr")
            .annotate(n=Sum("total"), b=Sum("bids"))
            .values_list("privacy", "nbr", "n", "b")
        )
        groups.append((p, None if n == RTB_NO_NBR else n, int(t), int(b)) for p, n, t, b in summed)
    for part in parts or ():
        groups.append(
            part.filter(source=RTB_SOURCE)
            .order_by()
            .values("privacy", "nbr")
            .annotate(n=Count("*"), bids=Count("bid_price", filter=Q(bid_price__gt=0)))
            .values_list("privacy", "nbr", "n", "bids")
        )
    for state, code, count, bid_count in itertools.chain.from_iterable(groups):
        if count:
            outcomes += count
            bids += bid_count
            privacy[state or UNKNOWN_PRIVACY] += count
            if code is not None:
                nbr[str(code)] += count
    return RtbCounts(
        outcomes=outcomes,
        bids=bids,
        by_privacy=dict(sorted(privacy.items())),
        by_nbr=dict(sorted(nbr.items(), key=lambda item: int(item[0]))),
    )


@dataclass(frozen=True)
class NoticeCounts:
    """What the notices made of a set's RTB bids (SPEC §14): rows per shown status and per loss
    code, billed impressions, their spend (clearing CPM / 1000) and average clearing CPM."""

    by_status: dict[str, int] = field(default_factory=dict)
    by_loss_code: dict[str, int] = field(default_factory=dict)
    billed: int = 0
    spend: Decimal = Decimal(0)
    average_clearing_cpm: Decimal = Decimal(0)


def outcome_notice_counts(*, parts: Sequence[QuerySet[AuctionOutcome]] | None = None) -> NoticeCounts:
    """Over all RTB rows, or the union of disjoint `parts`; grouped in the database by status."""
    cutoff = expiry_cutoff()
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    billed, clearing_sum = 0, Decimal(0)
    for part in parts if parts is not None else [AuctionOutcome.objects.all()]:
        rtb = part.filter(source=RTB_SOURCE, status__isnull=False).order_by()
        grouped = rtb.values("status", "loss_code").annotate(
            n=Count("id"), old=Count("id", filter=Q(timestamp__lt=cutoff)), clearing=Sum("clearing_cpm")
        )
        for row in grouped:
            status, count = row["status"], row["n"]
            if status == "pending" and row["old"]:
                statuses["expired"] += row["old"]
                count -= row["old"]
            if count:
                statuses[status] += count
            if status == "lost" and row["loss_code"] is not None:
                codes[str(row["loss_code"])] += row["n"]
            if status == "billed":
                billed += row["n"]
                clearing_sum += row["clearing"] or Decimal(0)
    return NoticeCounts(
        by_status=dict(sorted(statuses.items())),
        by_loss_code=dict(sorted(codes.items(), key=lambda item: int(item[0]))),
        billed=billed,
        spend=(clearing_sum / 1000).quantize(Decimal("0.000001")),
        average_clearing_cpm=(clearing_sum / billed).quantize(Decimal("0.000001")) if billed else Decimal(0),
    )
