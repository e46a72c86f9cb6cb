"""The REST API's filters of outcomes (SPEC §7), as django-filter FilterSets applied by the selectors.

Every bad value is a form error naming its parameter (the API answers 400 with it), never a
silently ignored filter nor a database error: booleans are strict (`enriched=maybe` is an error,
where django-filter's default would ignore it), amounts are finite and bounded, times are ISO 8601.
`outcomes.openapi.filter_parameters` documents each filter in the OpenAPI schema.
"""

import re
from datetime import UTC, datetime, time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, get_args

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from outcomes.models import AuctionOutcome
from outcomes.rows import STATUSES
from outcomes.status import status_q
from pipeline.messages import MONEY_QUANTUM, Source

SOURCES: tuple[str, ...] = get_args(Source)
MAX_BIGINT = 2**63 - 1  # campaign_id
MAX_INT = 2**31 - 1  # nbr
MAX_AMOUNT = Decimal(10**12)  # any bound above this matches every stored amount (at most 1e8)
MAX_TEXT_CHARS = 255  # the widest text column (site_domain)
MIN_SUBSTRING_CHARS = 3  # a trigram index serves substrings of 3 characters and more
ORDERING_FIELDS = ("timestamp", "win_price", "bid_price", "created_at")
DEFAULT_ORDERING = ("-timestamp", "-id")

# A "+hh:mm" offset arrives as " hh:mm" when a client forgets to percent-encode the "+".
_UNENCODED_PLUS = re.compile(r" (\d{2}(?::?\d{2})?)$")
_INTEGER = re.compile(r"-?[0-9]+")


class UnpaddedNumberMixin:
    """Numbers as the schema has them: `9`, not ` 9` or a vertical tab and `9` (which Django's
    number fields would strip and accept)."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value != value.strip():
            raise ValidationError(self.error_messages["invalid"], code="invalid")  # type: ignore[attr-defined]
        return super().to_python(value)  # type: ignore[misc]


class UnpaddedDecimalField(UnpaddedNumberMixin, forms.DecimalField):
    pass


class UnpaddedIntegerField(UnpaddedNumberMixin, forms.IntegerField):
    pass


class StrictBooleanField(forms.Field):
    """`true`/`false` (also 1/0, yes/no, on/off, any case); anything else is an error."""

    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class TimestampField(forms.Field):
    """An ISO 8601 / RFC 3339 time (`2026-11-26T12:00:00Z`, `...+01:00`; no offset = UTC) or a
    date (`2026-11-26` = its midnight UTC), as an aware UTC datetime. Times beyond the datetime
    range after the offset is applied are clamped to it (no stored row is outside it)."""

    default_error_messages = {"invalid": "Must be an ISO 8601 date or date-time, e.g. 2026-11-26T12:00:00Z."}

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        text = _UNENCODED_PLUS.sub(r"+\1", str(value).strip())
        try:
            moment = parse_datetime(text)
            if moment is None and (day := parse_date(text)) is not None:
                moment = datetime.combine(day, time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class TextFilter(django_filters.CharFilter):
    """An exact match on a text column (NUL characters are refused by Django's CharField)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_TEXT_CHARS)
        super().__init__(*args, **kwargs)


class AmountFilter(django_filters.NumberFilter):
    """A bound on a money column. Stored amounts have MONEY_PLACES decimals, so rounding a lower
    bound up (an upper bound down) to that many places selects the same rows, and keeps what
    reaches the database a small, ordinary number whatever the client sent (`1e-99999`)."""

    field_class = UnpaddedDecimalField

    def __init__(self, *args: Any, rounding: str, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", MAX_AMOUNT)
        self.rounding = rounding
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[AuctionOutcome], value: Decimal | None) -> QuerySet[AuctionOutcome]:
        if value is not None:
            value = value.quantize(MONEY_QUANTUM, rounding=self.rounding)
        return super().filter(qs, value)


class TimestampFilter(django_filters.Filter):
    field_class = TimestampField


class StrictIntegerField(UnpaddedIntegerField):
    """Digits only, as the schema's `integer` has them: not `1.0` (which Django's IntegerField
    accepts as 1) nor `1e3`."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value and not _INTEGER.fullmatch(value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        result: int | None = super().to_python(value)
        return result


class IntegerFilter(django_filters.NumberFilter):
    """An exact whole number within its column's range (anything else is a 400, never a database
    error): `campaign`, `nbr`."""

    field_class = StrictIntegerField

    def __init__(self, *args: Any, min_value: int, max_value: int, **kwargs: Any) -> None:
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)


class SourceFilter(django_filters.ChoiceFilter):
    """One of the sources a request comes from (pipeline.messages.Source)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=[(s, s) for s in SOURCES], **kwargs)


class StatusFilter(django_filters.ChoiceFilter):
    """An RTB outcome's status (SPEC §14); `expired`: pending past the notice window."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=[(s, s) for s in STATUSES], method=self.by_status, **kwargs)

    @staticmethod
    def by_status(queryset: QuerySet[AuctionOutcome], name: str, value: str) -> QuerySet[AuctionOutcome]:
        return queryset.filter(status_q(value)) if value else queryset


class OutcomeOrderingFilter(django_filters.OrderingFilter):
    """`ordering=<field>[,<field>...]`, `-` for descending; default `-timestamp`. The id breaks ties
    so that pages never overlap or skip rows that share a timestamp or price."""

    def filter(self, qs: QuerySet[AuctionOutcome], value: list[str] | None) -> QuerySet[AuctionOutcome]:
        if not value:
            return qs.order_by(*DEFAULT_ORDERING)
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, "-id" if ordering[0].startswith("-") else "id")


class OutcomeFilter(django_filters.FilterSet):
    """The filters of the list, winners, stats and daily stats (SPEC §7)."""

    user_id = TextFilter(help_text="Exact user id.")
    site_domain = TextFilter(help_text="Exact site domain.")
    bid_id = TextFilter(help_text="Exact bid (request) id.")
    win_status = StrictBooleanFilter(help_text="true: wins only; false: losses only.")
    enriched = StrictBooleanFilter(help_text="true: bids priced with the user's profile.")
    min_price = AmountFilter(
        field_name="win_price", lookup_expr="gte", rounding=ROUND_CEILING, help_text="win_price >= this."
    )
    max_price = AmountFilter(
        field_name="win_price", lookup_expr="lte", rounding=ROUND_FLOOR, help_text="win_price <= this."
    )
    min_bid = AmountFilter(
        field_name="bid_price", lookup_expr="gte", rounding=ROUND_CEILING, help_text="bid_price >= this."
    )
    max_bid = AmountFilter(
        field_name="bid_price", lookup_expr="lte", rounding=ROUND_FLOOR, help_text="bid_price <= this."
    )
    campaign = IntegerFilter(
        field_name="campaign_id",
        min_value=0,
        max_value=MAX_BIGINT,
        help_text="Campaign id (the campaign that bid; 0: the built-in house campaign).",
    )
    source = SourceFilter(
        help_text="Where the request came in: helios or openrtb (POST /bid), rtb (POST /openrtb2/bid)."
    )
    status = StatusFilter(
        help_text="RTB status: no_bid, pending, won, billed, lost (with its loss code) or expired (no notice in time)."
    )
    loss_code = IntegerFilter(min_value=0, max_value=MAX_INT, help_text="OpenRTB loss reason code of a lost RTB bid.")
    nbr = IntegerFilter(min_value=0, max_value=MAX_INT, help_text="OpenRTB no-bid reason code (500-505: Helios's own).")
    since = TimestampFilter(
        field_name="timestamp",
        lookup_expr="gte",
        help_text="Event time at or after this ISO 8601 time (a date means its midnight UTC).",
    )
    until = TimestampFilter(
        field_name="timestamp",
        lookup_expr="lt",
        help_text="Event time strictly before this ISO 8601 time (a date means its midnight UTC).",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=MAX_TEXT_CHARS,
        help_text=(
            f"Case-insensitive substring of the bid id, user id or site domain; a term shorter than "
            f"{MIN_SUBSTRING_CHARS} characters matches a whole bid id, user id or site domain."
        ),
    )

    class Meta:
        model = AuctionOutcome
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[AuctionOutcome], name: str, value: str) -> QuerySet[AuctionOutcome]:
        """A substring search served by the trigram indexes of migration 0004 on PostgreSQL (a
        trigram index cannot serve a term shorter than 3 characters: such a term would read the
        whole table, so it is matched against whole values, through the btree indexes)."""
        value = value.strip()
        if not value:
            return queryset
        if len(value) < MIN_SUBSTRING_CHARS:
            return queryset.filter(Q(bid_id=value) | Q(user_id=value) | Q(site_domain=value))
        return queryset.filter(
            Q(bid_id__icontains=value) | Q(user_id__icontains=value) | Q(site_domain__icontains=value)
        )

    def active_filters(self) -> set[str]:
        """The names of the filters that narrow the set (valid and not empty). Call after is_valid()."""
        return {
            name
            for name, value in self.form.cleaned_data.items()
            if name != "ordering" and value not in (None, "", [], ()) and not (name == "search" and not value.strip())
        }


class OutcomeListFilter(OutcomeFilter):
    """The list's filters plus `ordering`."""

    ordering = OutcomeOrderingFilter(
        fields=ORDERING_FIELDS,
        help_text="Sort by " + ", ".join(ORDERING_FIELDS) + "; prefix - for descending; default -timestamp.",
    )
