"""The analytics REST API under /api/ (SPEC §7): one DRF view per operation, serializers nested.

Views stay thin: they validate the query parameters through the selectors (filters are a
django-filter FilterSet applied there), page and serialize. Every bad parameter value is a 400
naming the parameter; a well-formed page number past the last page is DRF's usual 404. Money is
rendered as JSON numbers (COERCE_DECIMAL_TO_STRING is off) with at most 4 decimals.

Access: an authenticated user (token or session) unless `settings.HELIOS_PUBLIC_API` is true,
read per request.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as FormError
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from outcomes import filters
from outcomes.models import AuctionOutcome
from outcomes.selectors import (
    OutcomeFilterError,
    OutcomeSelection,
    outcome_count,
    outcome_daily_stats,
    outcome_get,
    outcome_select,
    outcome_stats,
)
from pipeline.messages import MONEY_PLACES

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10**9  # page * MAX_PAGE_SIZE stays a valid SQL OFFSET (bigint)


class PublicOrAuthenticated(BasePermission):
    """Anyone when HELIOS_PUBLIC_API is true (the embedded demo), else authenticated users only."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(settings.HELIOS_PUBLIC_API or (request.user and request.user.is_authenticated))


class ApiSchema(AutoSchema):
    """Documents that an empty query value (`?min_price=`, as HTML forms send) means "not set",
    as django-filter and the paginator treat it."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation


class ApiView(APIView):
    permission_classes = [PublicOrAuthenticated]
    renderer_classes = [JSONRenderer]
    schema = ApiSchema()


def _select(request: Request, *, ordered: bool = True, wins_only: bool = False) -> OutcomeSelection:
    try:
        return outcome_select(filters=request.query_params, ordered=ordered, wins_only=wins_only)
    except OutcomeFilterError as exc:
        raise ValidationError(exc.errors) from exc


# --- OpenAPI fragments shared by the operations ---

_DETAIL_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_ERRORS = {
    400: OpenApiResponse(
        {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Each bad query parameter with its messages.",
        },
        description="A query parameter has a bad value.",
    ),
    401: OpenApiResponse(_DETAIL_SCHEMA, description="No valid credentials (unless HELIOS_PUBLIC_API)."),
    403: OpenApiResponse(_DETAIL_SCHEMA, description="Not allowed."),
}
_NOT_FOUND = {404: OpenApiResponse(_DETAIL_SCHEMA, description="No such outcome or page.")}
_TEXT_PATTERN = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL: such a value is a 400


def _filter_schema(filter_: Any) -> dict[str, Any]:
    if isinstance(filter_, filters.StrictBooleanFilter):
        return {"type": "boolean"}
    if isinstance(filter_, filters.AmountFilter):
        return {"type": "number", "minimum": 0, "maximum": int(filters.MAX_AMOUNT)}
    if isinstance(filter_, filters.TimestampFilter):
        return {"type": "string", "format": "date-time"}
    if isinstance(filter_, filters.OutcomeOrderingFilter):
        choices = [value for value, _ in filter_.extra["choices"]]
        return {"type": "array", "items": {"type": "string", "enum": choices}}
    return {"type": "string", "maxLength": filters.MAX_TEXT_CHARS, "pattern": _TEXT_PATTERN}


def filter_parameters(filterset: type[filters.OutcomeFilter]) -> list[OpenApiParameter]:
    """The query parameters `filterset` accepts, as OpenAPI parameters (kept in step by a test)."""
    parameters = []
    for name, filter_ in filterset.base_filters.items():
        csv = isinstance(filter_, filters.OutcomeOrderingFilter)
        parameters.append(
            OpenApiParameter(
                name=name,
                type=_filter_schema(filter_),
                location=OpenApiParameter.QUERY,
                description=str(filter_.extra.get("help_text", "")),
                style="form" if csv else None,
                explode=False if csv else None,
            )
        )
    return parameters


# --- Pagination ---


class OutcomePagination:
    """`page` (from 1) and `page_size` (1..1000, default 100) over an ordered queryset.

    `count` is exact without counting millions of rows on every page: a page that is not full
    gives it (offset + rows on the page); otherwise `count` comes from `count_fn` (the rollups for
    an unfiltered set, COUNT(*) for a filtered one). One extra row is fetched to know whether a
    next page exists, so `next` never depends on the count. A page past the last is a 404."""

    page_query_param = "page"
    page_size_query_param = "page_size"

    def __init__(self, request: Request, count_fn: Any) -> None:
        self.request = request
        self.count_fn = count_fn
        self.page, self.page_size = self._parse(request)
        self.count = 0
        self.has_next = False

    def _parse(self, request: Request) -> tuple[int, int]:
        fields = {
            self.page_query_param: filters.UnpaddedIntegerField(min_value=1, max_value=MAX_PAGE),
            self.page_size_query_param: filters.UnpaddedIntegerField(min_value=1, max_value=MAX_PAGE_SIZE),
        }
        values: dict[str, int | None] = {}
        errors: dict[str, list[str]] = {}
        for name, field in fields.items():
            raw = request.query_params.get(name, "")
            try:
                values[name] = field.clean(raw) if raw != "" else None
            except FormError as exc:
                errors[name] = list(exc.messages)
        if errors:
            raise ValidationError(errors)
        return values[self.page_query_param] or 1, values[self.page_size_query_param] or DEFAULT_PAGE_SIZE

    def paginate_queryset(self, queryset: QuerySet[AuctionOutcome]) -> list[AuctionOutcome]:
        offset = (self.page - 1) * self.page_size
        rows = list(queryset[offset : offset + self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.page > 1 and not rows:
            raise NotFound("Invalid page: past the last page.")
        if self.has_next:
            self.count = max(int(self.count_fn()), offset + len(rows) + 1)
        else:
            self.count = offset + len(rows)
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"count": self.count, "next": self._next_link(), "previous": self._previous_link(), "results": data}
        )

    def _next_link(self) -> str | None:
        if not self.has_next:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.page + 1)

    def _previous_link(self) -> str | None:
        if self.page == 1:
            return None
        url = self.request.build_absolute_uri()
        if self.page == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page - 1)

    @staticmethod
    def envelope(name: str, item: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
        """The OpenAPI schema of a page of `item`s."""
        return inline_serializer(
            name,
            {
                "count": serializers.IntegerField(min_value=0),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )

    @staticmethod
    def schema_parameters() -> list[OpenApiParameter]:
        return [
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                OpenApiParameter.QUERY,
                description="Page number, from 1. A page past the last one is a 404.",
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                OpenApiParameter.QUERY,
                description=f"Results per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
            ),
        ]


# --- Operations ---


class OutcomeListApi(ApiView):
    """GET /api/outcomes/: outcomes, newest first unless `ordering` says otherwise, paginated."""

    wins_only = False

    @extend_schema_serializer(component_name="OutcomeListItem")
    class OutputSerializer(serializers.ModelSerializer[AuctionOutcome]):
        class Meta:
            model = AuctionOutcome
            fields = [
                "id",
                "bid_id",
                "imp_id",
                "user_id",
                "site_domain",
                "win_status",
                "win_price",
                "bid_price",
                "currency",
                "enriched",
                "timestamp",
            ]

    @extend_schema(
        operation_id="outcomes_list",
        parameters=[*filter_parameters(filters.OutcomeListFilter), *OutcomePagination.schema_parameters()],
        responses={200: OutcomePagination.envelope("PaginatedOutcomeList", OutputSerializer), **_ERRORS, **_NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        selection = _select(request, wins_only=self.wins_only)
        paginator = OutcomePagination(request, count_fn=lambda: outcome_count(selection=selection))
        page = paginator.paginate_queryset(selection.queryset)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


@extend_schema_view(get=extend_schema(operation_id="outcomes_winners"))
class OutcomeWinnersApi(OutcomeListApi):
    """GET /api/outcomes/winners/: the list restricted to wins (same envelope and filters)."""

    wins_only = True


class OutcomeDetailApi(ApiView):
    """GET /api/outcomes/{id}/: every stored field except raw_data, plus is_winner."""

    @extend_schema_serializer(component_name="OutcomeDetail")
    class OutputSerializer(serializers.ModelSerializer[AuctionOutcome]):
        is_winner = serializers.BooleanField(read_only=True)
        user_interests = serializers.ListField(child=serializers.CharField(), read_only=True)

        class Meta:
            model = AuctionOutcome
            exclude = ["raw_data"]

    @extend_schema(
        operation_id="outcomes_retrieve",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The outcome's id.")],
        responses={200: OutputSerializer, 401: _ERRORS[401], 403: _ERRORS[403], **_NOT_FOUND},
    )
    def get(self, request: Request, id: str) -> Response:  # noqa: A002 - the URL's name
        outcome = outcome_get(outcome_id=int(id)) if id.isascii() and id.isdigit() else None
        if outcome is None:
            raise NotFound("No outcome with this id.")
        return Response(self.OutputSerializer(outcome).data)


def _money(**kwargs: Any) -> serializers.DecimalField:
    """An amount (or a sum of amounts) rendered as a JSON number with at most MONEY_PLACES decimals."""
    return serializers.DecimalField(
        max_digits=24, decimal_places=MONEY_PLACES, min_value=Decimal(0), coerce_to_string=False, **kwargs
    )


class OutcomeStatsApi(ApiView):
    """GET /api/outcomes/stats/: totals over the filtered set (all outcomes: from the rollups)."""

    @extend_schema_serializer(component_name="OutcomeStats")
    class OutputSerializer(serializers.Serializer[Any]):
        total_outcomes = serializers.IntegerField(min_value=0)
        total_wins = serializers.IntegerField(min_value=0)
        total_losses = serializers.IntegerField(min_value=0)
        total_revenue = _money(help_text="Sum of win prices.")
        average_win_price = _money()
        average_bid_price = _money()
        enriched_count = serializers.IntegerField(min_value=0)
        win_rate = serializers.DecimalField(
            max_digits=5,
            decimal_places=2,
            min_value=Decimal(0),
            max_value=Decimal(100),
            coerce_to_string=False,
            help_text="Percent of outcomes won, 2 decimals.",
        )

    @extend_schema(
        operation_id="outcomes_stats",
        parameters=filter_parameters(filters.OutcomeFilter),
        responses={200: OutputSerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = _select(request, ordered=False)
        stats = outcome_stats(queryset=selection.queryset if selection.narrowed else None)
        return Response(self.OutputSerializer(stats).data)


class OutcomeDailyStatsApi(ApiView):
    """GET /api/outcomes/daily-stats/: per UTC day of the event time, oldest first."""

    @extend_schema_serializer(component_name="OutcomeDailyStats")
    class OutputSerializer(serializers.Serializer[Any]):
        date = serializers.DateField(help_text="UTC day of the event time.")
        total = serializers.IntegerField(min_value=0)
        wins = serializers.IntegerField(min_value=0)
        revenue = _money()
        avg_win_price = _money()

    @extend_schema(
        operation_id="outcomes_daily_stats",
        parameters=filter_parameters(filters.OutcomeFilter),
        responses={200: OutputSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = _select(request, ordered=False)
        days = outcome_daily_stats(queryset=selection.queryset if selection.narrowed else None)
        return Response(self.OutputSerializer(days, many=True).data)


@extend_schema_view(
    get=extend_schema(operation_id="outcomes_daily_stats_alias", description="The same as daily-stats/.")
)
class OutcomeDailyStatsAliasApi(OutcomeDailyStatsApi):
    """GET /api/outcomes/daily_stats/: the same as daily-stats/ (both spellings are in use)."""
