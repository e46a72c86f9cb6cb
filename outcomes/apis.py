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
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomes import filters, querylimits
from outcomes.models import AuctionOutcome
from outcomes.openapi import ERRORS, NOT_FOUND, ApiSchema, filter_parameters
from outcomes.pagination import OutcomePagination
from outcomes.selectors import (
    OutcomeFilterError,
    OutcomeSelection,
    outcome_count,
    outcome_daily_stats,
    outcome_get,
    outcome_parts,
    outcome_select,
    outcome_stats,
)
from outcomes.status import expiry_cutoff, shown_status
from pipeline.messages import MONEY_PLACES

STATUS_HELP = (
    "RTB only (null otherwise): no_bid, pending, won, billed, lost, or expired (pending past the notice window)."
)


class PublicOrAuthenticated(BasePermission):
    """Anyone when HELIOS_PUBLIC_API is true (the embedded demo), else authenticated users only."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(settings.HELIOS_PUBLIC_API or (request.user and request.user.is_authenticated))


class ApiView(APIView):
    """A filtered selection's statements run under HELIOS_API_STATEMENT_TIMEOUT_MS; one cancelled
    by it is a 503 (QueryTooSlow). Unfiltered reads (rollups, an index's first rows, one id) are
    bounded by themselves and pay no extra round trip."""

    permission_classes = [PublicOrAuthenticated]
    renderer_classes = [JSONRenderer]
    schema = ApiSchema()
    statements_limited = False

    def select(self, request: Request, *, ordered: bool = True, wins_only: bool = False) -> OutcomeSelection:
        try:
            selection = outcome_select(filters=request.query_params, ordered=ordered, wins_only=wins_only)
        except OutcomeFilterError as exc:
            raise ValidationError(exc.errors) from exc
        if selection.narrowed and not self.statements_limited:
            self.statements_limited = querylimits.limit_statements()
        return selection

    def handle_exception(self, exc: Exception) -> Response:
        if querylimits.is_timeout(exc):
            exc = querylimits.QueryTooSlow()
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if self.statements_limited:
            querylimits.unlimit_statements()
            self.statements_limited = False
        return super().finalize_response(request, response, *args, **kwargs)


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
                "source",
                "campaign_id",
                "creative_id",
                "rtb_bid_id",
                "price_cpm",
                "status",
                "clearing_cpm",
                "loss_code",
                "nbr",
            ]

        price_cpm = serializers.DecimalField(
            source="bid_price",
            max_digits=12,
            decimal_places=4,
            read_only=True,
            help_text="The bid's CPM (= bid_price).",
        )
        status = serializers.SerializerMethodField(help_text=STATUS_HELP)

        def get_status(self, outcome: AuctionOutcome) -> str | None:
            return shown_status(outcome, cutoff=self.context.get("cutoff") or expiry_cutoff())

    @extend_schema(
        operation_id="outcomes_list",
        parameters=[*filter_parameters(filters.OutcomeListFilter), *OutcomePagination.schema_parameters()],
        responses={200: OutcomePagination.envelope("PaginatedOutcomeList", OutputSerializer), **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        selection = self.select(request, wins_only=self.wins_only)
        paginator = OutcomePagination(request, count_fn=lambda: outcome_count(selection=selection))
        page = paginator.paginate_queryset(selection.queryset.defer("raw_data"))  # not shown: not read
        items = self.OutputSerializer(page, many=True, context={"cutoff": expiry_cutoff()})
        return paginator.get_paginated_response(items.data)


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
        status = serializers.SerializerMethodField(help_text=STATUS_HELP)

        def get_status(self, outcome: AuctionOutcome) -> str | None:
            return shown_status(outcome, cutoff=expiry_cutoff())

        class Meta:
            model = AuctionOutcome
            exclude = ["raw_data"]

    @extend_schema(
        operation_id="outcomes_retrieve",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The outcome's id.")],
        responses={200: OutputSerializer, 401: ERRORS[401], 403: ERRORS[403], **NOT_FOUND},
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
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = self.select(request, ordered=False)
        stats = outcome_stats(parts=outcome_parts(selection=selection)) if selection.narrowed else outcome_stats()
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
        responses={200: OutputSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = self.select(request, ordered=False)
        days = outcome_daily_stats(
            queryset=selection.queryset if selection.narrowed else None, since=selection.since, until=selection.until
        )
        return Response(self.OutputSerializer(days, many=True).data)


@extend_schema_view(
    get=extend_schema(operation_id="outcomes_daily_stats_alias", description="The same as daily-stats/.")
)
class OutcomeDailyStatsAliasApi(OutcomeDailyStatsApi):
    """GET /api/outcomes/daily_stats/: the same as daily-stats/ (both spellings are in use)."""
