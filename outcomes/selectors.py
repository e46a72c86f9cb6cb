"""Reads of the outcomes app: the stats of SPEC §7 and the REST API's (the live dashboard's are in
`outcomes/recent.py`).

Without a queryset the stats come from the daily rollup rows (a few hundred rows whatever the
number of outcomes); with one (the API's filtered set) they are aggregated over its rows. Both give
the same numbers for the same set. Zeros, never None, on an empty set.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from outcomes.filters import OutcomeFilter, OutcomeListFilter
from outcomes.models import SUM_DIGITS, AuctionOutcome, OutcomeDailyRollup
from outcomes.search import search_parts, without_search
from pipeline.messages import MONEY_PLACES, MONEY_QUANTUM

PERCENT_QUANTUM = Decimal("0.01")
MAX_DAILY_DAYS = 3660  # a daily series lists at most ten years of days
ZERO = Decimal(0)


@dataclass(frozen=True)
class OutcomeStats:
    total_outcomes: int
    total_wins: int
    total_losses: int
    total_revenue: Decimal
    average_win_price: Decimal
    average_bid_price: Decimal
    enriched_count: int
    win_rate: Decimal  # percent, 2 decimals


@dataclass(frozen=True)
class DailyStats:
    date: date  # UTC day of the event time
    total: int
    wins: int
    revenue: Decimal
    avg_win_price: Decimal


def _money(value: Decimal | None) -> Decimal:
    return (value or ZERO).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def _ratio(numerator: Decimal | int, denominator: int, quantum: Decimal = MONEY_QUANTUM) -> Decimal:
    if not denominator:
        return ZERO.quantize(quantum)
    return (Decimal(numerator) / denominator).quantize(quantum, rounding=ROUND_HALF_UP)


def _stats(*, total: int, wins: int, revenue: Decimal, bid_sum: Decimal, enriched: int) -> OutcomeStats:
    # PostgreSQL's SUM(bigint) is numeric: back to int.
    total, wins, enriched = int(total), int(wins), int(enriched)
    return OutcomeStats(
        total_outcomes=total,
        total_wins=wins,
        total_losses=total - wins,
        total_revenue=_money(revenue),
        average_win_price=_ratio(revenue, wins),
        average_bid_price=_ratio(bid_sum, total),
        enriched_count=enriched,
        win_rate=_ratio(wins * 100, total, PERCENT_QUANTUM),
    )


def _money_sum(name: str, filter: Q | None = None) -> Coalesce:  # noqa: A002 - Django's argument name
    output: DecimalField[Decimal, Decimal] = DecimalField(max_digits=SUM_DIGITS, decimal_places=MONEY_PLACES)
    return Coalesce(Sum(name, filter=filter), Value(ZERO), output_field=output)


def outcome_stats(
    *, queryset: QuerySet[AuctionOutcome] | None = None, parts: Sequence[QuerySet[AuctionOutcome]] = ()
) -> OutcomeStats:
    """Totals, averages and win rate over all outcomes (from the rollups), over `queryset`, or
    over the union of disjoint `parts` (their sums add up: `outcome_parts`)."""
    if queryset is None and not parts:
        sums = OutcomeDailyRollup.objects.aggregate(
            total=Coalesce(Sum("total"), 0),
            wins=Coalesce(Sum("wins"), 0),
            revenue=_money_sum("revenue"),
            bid_sum=_money_sum("bid_sum"),
            enriched=Coalesce(Sum("enriched_count"), 0),
        )
        return _stats(**sums)
    totals: dict[str, Any] = {"total": 0, "wins": 0, "revenue": ZERO, "bid_sum": ZERO, "enriched": 0}
    for part in parts or ([queryset] if queryset is not None else []):
        # No COUNT(id): the id is not in the covering index; the covering index of site_domain then answers without the table.
        sums = part.aggregate(
            total=Count("*"),
            wins=Count("win_status", filter=Q(win_status=True)),
            revenue=_money_sum("win_price"),
            bid_sum=_money_sum("bid_price"),
            enriched=Count("enriched", filter=Q(enriched=True)),
        )
        totals = {name: totals[name] + sums[name] for name in totals}
    return _stats(**totals)


def outcome_daily_stats(
    *, queryset: QuerySet[AuctionOutcome] | None = None, since: datetime | None = None, until: datetime | None = None
) -> list[DailyStats]:
    """Per UTC day of the event time, oldest first: over all outcomes (rollups) or `queryset`.

    Without `since`/`until`, the days with outcomes. With either, every day from `since`'s day
    (else the first day with outcomes) to the day before `until` (exclusive; else the last day
    with outcomes) is listed, zeros for a day without outcomes; of a
    range longer than MAX_DAILY_DAYS, only its last MAX_DAILY_DAYS days are filled with zeros
    (days with outcomes are always listed)."""
    days: Iterable[tuple[date, int, int, Decimal]]
    if queryset is None:
        days = OutcomeDailyRollup.objects.order_by("day").values_list("day", "total", "wins", "revenue")
    else:
        days = (
            queryset.annotate(day=TruncDate("timestamp", tzinfo=UTC))
            .values("day")
            .order_by("day")
            .annotate(
                total=Count("*"), wins=Count("win_status", filter=Q(win_status=True)), revenue=_money_sum("win_price")
            )
            .values_list("day", "total", "wins", "revenue")
        )
    found = {
        day: DailyStats(
            date=day,
            total=int(total),
            wins=int(wins),
            revenue=_money(revenue),
            avg_win_price=_ratio(revenue, int(wins)),
        )
        for day, total, wins, revenue in days
        if total
    }
    return [found.get(day) or _empty_day(day) for day in _days(found, since=since, until=until)]


def _empty_day(day: date) -> DailyStats:
    return DailyStats(date=day, total=0, wins=0, revenue=_money(ZERO), avg_win_price=_money(ZERO))


def _days(found: Mapping[date, object], *, since: datetime | None, until: datetime | None) -> list[date]:
    if since is None and until is None:
        return sorted(found)
    first = since.astimezone(UTC).date() if since is not None else min(found, default=None)
    last = max(found, default=None)
    if until is not None:
        last = (
            (until.astimezone(UTC) - timedelta.resolution).date() if until > datetime.min.replace(tzinfo=UTC) else None
        )
    if first is None or last is None or first > last:
        return sorted(found)
    if (last - first).days >= MAX_DAILY_DAYS:
        first = last - timedelta(days=MAX_DAILY_DAYS - 1)
    return sorted(set(found).union(first + timedelta(days=n) for n in range((last - first).days + 1)))


# --- The REST API's reads: a filtered selection of outcomes, its size, one outcome ---


class OutcomeFilterError(ValueError):
    """Bad filter values. `errors` maps each bad parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class OutcomeSelection:
    """Validated filters and the rows they select.

    `active` names the filters that narrow the set; with none, `queryset` is every outcome and
    the stats can come from the rollups. `win_status` is the wins/losses restriction (from the
    `win_status` filter or the winners endpoint), None when both are included."""

    queryset: QuerySet[AuctionOutcome]
    active: frozenset[str]
    win_status: bool | None
    since: datetime | None = None
    until: datetime | None = None
    search: str = ""  # the `search` term, stripped ("" without one)
    unsearched: QuerySet[AuctionOutcome] | None = None  # the set without `search` (unordered)

    @property
    def narrowed(self) -> bool:
        return bool(self.active)


def outcome_parts(*, selection: OutcomeSelection) -> list[QuerySet[AuctionOutcome]]:
    """Disjoint querysets whose union is the selection's set, each cheap to count and sum: the
    set itself, or with `search` its parts that indexes answer (outcomes.search)."""
    if selection.search and selection.unsearched is not None:
        return search_parts(selection.unsearched, selection.search)
    return [selection.queryset]


def outcome_select(*, filters: Mapping[str, Any], ordered: bool = True, wins_only: bool = False) -> OutcomeSelection:
    """The outcomes `filters` (the API's query parameters) select, via `OutcomeListFilter`
    (`ordered`: with the `ordering` parameter, default `-timestamp`) or `OutcomeFilter` (stats:
    unordered). `wins_only` keeps wins only. Raises OutcomeFilterError on any bad value."""
    filterset_class = OutcomeListFilter if ordered else OutcomeFilter
    filterset = filterset_class(data=filters, queryset=AuctionOutcome.objects.all())
    if not filterset.is_valid():
        raise OutcomeFilterError({name: [str(m) for m in messages] for name, messages in filterset.errors.items()})
    if not all(filterset.form.cleaned_data.get("ordering") or ["-"]):  # `ordering=,,`: a choice's field passes ""
        raise OutcomeFilterError({"ordering": ["An empty field name is not a valid choice."]})
    queryset = filterset.qs
    active = set(filterset.active_filters())
    win_status: bool | None = filterset.form.cleaned_data.get("win_status")
    if wins_only:
        active.add("win_status")
        queryset = queryset.filter(win_status=True) if win_status is not False else queryset.none()
        win_status = True
    cleaned = filterset.form.cleaned_data
    search = (cleaned.get("search") or "").strip()
    unsearched = without_search(filters, win_status=win_status) if search else None
    return OutcomeSelection(
        queryset=queryset,
        active=frozenset(active),
        win_status=win_status,
        since=cleaned.get("since"),
        until=cleaned.get("until"),
        search=search,
        unsearched=unsearched,
    )


def outcome_count(*, selection: OutcomeSelection) -> int:
    """How many outcomes `selection` holds. Exact. Sets that only the wins/losses split narrows
    are counted from the daily rollups (a few hundred rows: COUNT(*) over millions of rows takes
    a sequential or index-only scan of them all); any other filter is counted over its rows."""
    if selection.active - {"win_status"}:
        return sum(part.count() for part in outcome_parts(selection=selection))
    sums = OutcomeDailyRollup.objects.aggregate(total=Coalesce(Sum("total"), 0), wins=Coalesce(Sum("wins"), 0))
    total, wins = int(sums["total"]), int(sums["wins"])
    if selection.win_status is None:
        return total
    return wins if selection.win_status else total - wins


def outcome_get(*, outcome_id: int) -> AuctionOutcome | None:
    """One stored outcome, None when there is no such id (including ids no row can have)."""
    if not 0 < outcome_id < 2**63:
        return None
    return AuctionOutcome.objects.filter(pk=outcome_id).first()
