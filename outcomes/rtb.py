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

from django.db.models import Count, Q, QuerySet, Sum

from outcomes.models import RTB_NO_NBR, AuctionOutcome, OutcomeRtbRollup

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
