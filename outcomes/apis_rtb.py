"""The RTB statistics of the analytics API (SPEC §12, §14, §16): `/api/outcomes/rtb-stats/` and
`/api/outcomes/notice-stats/`, on the same filters, access rules and errors as outcomes/apis.py."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from outcomes import filters
from outcomes.apis import STATUS_HELP, ApiView
from outcomes.openapi import ERRORS, filter_parameters
from outcomes.rtb import outcome_notice_counts, outcome_rtb_counts
from outcomes.selectors import outcome_parts


class OutcomeRtbStatsApi(ApiView):
    """GET /api/outcomes/rtb-stats/: the RTB outcomes of the filtered set (SPEC §12, §16), counted
    by privacy state and by OpenRTB no-bid code (all outcomes: from the RTB rollups)."""

    @extend_schema_serializer(component_name="OutcomeRtbStats")
    class OutputSerializer(serializers.Serializer[Any]):
        outcomes = serializers.IntegerField(min_value=0, help_text="RTB outcomes (source rtb).")
        bids = serializers.IntegerField(min_value=0, help_text="Of which bids.")
        by_privacy = serializers.DictField(
            child=serializers.IntegerField(min_value=0),
            help_text="Per privacy state (open, gdpr_consent, coppa, gdpr_no_consent, us_privacy_opt_out, gpc, lmt).",
        )
        by_nbr = serializers.DictField(
            child=serializers.IntegerField(min_value=0), help_text="Per OpenRTB no-bid reason code (no-bids only)."
        )

    @extend_schema(
        operation_id="outcomes_rtb_stats",
        parameters=filter_parameters(filters.OutcomeFilter),
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = self.select(request, ordered=False)
        counts = (
            outcome_rtb_counts(parts=outcome_parts(selection=selection)) if selection.narrowed else outcome_rtb_counts()
        )
        return Response(self.OutputSerializer(counts).data)


class OutcomeNoticeStatsApi(ApiView):
    """GET /api/outcomes/notice-stats/: what the exchange's notices made of the filtered set's RTB
    bids (SPEC §14): rows per status and per loss code, billed impressions, spend, average clearing CPM."""

    @extend_schema_serializer(component_name="OutcomeNoticeStats")
    class OutputSerializer(serializers.Serializer[Any]):
        by_status = serializers.DictField(
            child=serializers.IntegerField(min_value=0), help_text="Per status (SPEC §14): " + STATUS_HELP
        )
        by_loss_code = serializers.DictField(
            child=serializers.IntegerField(min_value=0), help_text="Lost bids per OpenRTB loss reason code."
        )
        billed = serializers.IntegerField(min_value=0, help_text="Billed impressions.")
        spend = serializers.DecimalField(
            max_digits=24, decimal_places=6, coerce_to_string=False, help_text="Sum of clearing CPM / 1000 of billed."
        )
        average_clearing_cpm = serializers.DecimalField(
            max_digits=24, decimal_places=6, coerce_to_string=False, help_text="Over billed impressions."
        )

    @extend_schema(
        operation_id="outcomes_notice_stats",
        parameters=filter_parameters(filters.OutcomeFilter),
        responses={200: OutputSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        selection = self.select(request, ordered=False)
        counts = outcome_notice_counts(parts=outcome_parts(selection=selection) if selection.narrowed else None)
        return Response(self.OutputSerializer(counts).data)
