"""The campaigns REST API (SPEC §13): CRUD on /api/advertisers/, /api/campaigns/, /api/creatives/.

Views are thin: the selectors filter, the services write (validating the whole row, so every rule
of `campaigns.validation` answers 400 with the field and the reason). Money is USD decimals here
(`total_budget`, `daily_budget`, `fixed_cpm`, `max_cpm`) and integer micros inside.

Access (SPEC §7, §11): reads as the outcomes API (authenticated, or anyone when
HELIOS_PUBLIC_API is true); writes need a user (session or token) holding the model's Django
permission (add/change/delete), as a staff user needs in the admin too.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as ModelValidationError
from django.db.models import ProtectedError, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from campaigns import selectors, services
from campaigns.api_support import CampaignsApiSchema, Pagination
from campaigns.models import Advertiser, Campaign, Creative
from campaigns.money import MAX_USD, USD_DECIMAL_PLACES, micros_to_usd, usd_to_micros

MONEY_FIELDS = {"total_budget_micros": "total_budget", "daily_budget_micros": "daily_budget",
                "fixed_cpm_micros": "fixed_cpm", "max_cpm_micros": "max_cpm"}  # fmt: skip


class ReadPublicWriteWithPermission(DjangoModelPermissions):
    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return bool(settings.HELIOS_PUBLIC_API or (request.user and request.user.is_authenticated))
        return super().has_permission(request, view)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Still in use."
    default_code = "conflict"


@extend_schema_field({"type": "number", "minimum": 0, "maximum": int(MAX_USD), "nullable": True})
class UsdField(serializers.DecimalField):
    """USD with up to 6 decimals at the API, integer micros on the model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=16, decimal_places=USD_DECIMAL_PLACES, allow_null=True, required=False, **kwargs)

    def to_representation(self, value: Any) -> Any:  # micros in
        return float(micros_to_usd(value))

    def to_internal_value(self, data: Any) -> Any:  # micros out
        amount = super().to_internal_value(data)
        # Checked here, on USD: DRF runs a field's validators on the internal value (micros).
        if amount < 0:
            raise ValidationError("Ensure this value is greater than or equal to 0.")
        if amount > MAX_USD:
            raise ValidationError(f"Ensure this value is less than or equal to {MAX_USD}.")
        return usd_to_micros(amount)


class AdvertiserSerializer(serializers.ModelSerializer):
    class Meta:
        model = Advertiser
        fields = ["id", "name", "adomain", "created_at", "updated_at"]


class CampaignSerializer(serializers.ModelSerializer):
    total_budget = UsdField(source="total_budget_micros", help_text="USD; null: no limit.")
    daily_budget = UsdField(source="daily_budget_micros", help_text="USD per UTC day; null: no limit.")
    fixed_cpm = UsdField(source="fixed_cpm_micros", help_text="USD CPM of the fixed strategy.")
    max_cpm = UsdField(source="max_cpm_micros", help_text="USD; null: no cap.")
    tier_multiplier = serializers.DecimalField(max_digits=6, decimal_places=3, coerce_to_string=False, required=False)
    cat = serializers.ListField(child=serializers.CharField(max_length=16), required=False)
    site_domains_include = serializers.ListField(child=serializers.CharField(max_length=253), required=False)
    site_domains_exclude = serializers.ListField(child=serializers.CharField(max_length=253), required=False)
    app_bundles_include = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    app_bundles_exclude = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    interest_categories = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    countries = serializers.ListField(child=serializers.CharField(max_length=3), required=False)
    device_types = serializers.ListField(child=serializers.IntegerField(), required=False)
    hours_utc = serializers.ListField(child=serializers.IntegerField(), required=False)
    creatives: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id", "key", "advertiser", "name", "status", "start_at", "end_at", "total_budget", "daily_budget",
            "pacing", "strategy", "fixed_cpm", "tier_multiplier", "max_cpm", "cat", "site_domains_include",
            "site_domains_exclude", "app_bundles_include", "app_bundles_exclude", "interest_categories",
            "min_interest_score", "countries", "device_types", "hours_utc", "frequency_cap", "frequency_window_s",
            "creatives", "created_at", "updated_at",
        ]  # fmt: skip


class CreativeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Creative
        fields = ["id", "campaign", "crid", "title", "media", "w", "h", "markup", "image_url", "landing_url",
                  "interest_category", "status", "created_at", "updated_at"]  # fmt: skip


def _api_errors(exc: ModelValidationError) -> dict[str, Any]:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return {MONEY_FIELDS.get(field, field): messages for field, messages in errors.items()}


class _Api(generics.GenericAPIView):
    """Shared wiring: permissions, JSON, pagination, selector-filtered querysets, service writes."""

    permission_classes = [ReadPublicWriteWithPermission]
    renderer_classes = [JSONRenderer]
    pagination_class = Pagination
    schema = CampaignsApiSchema()
    filterset: Any
    selector: Any
    create_service: Any
    update_service: Any
    delete_service: Any
    entity: str

    def get_queryset(self) -> QuerySet[Any]:
        params = self.request.query_params if self.request.method in SAFE_METHODS else {}
        filters = {k: v for k, v in params.items() if k not in ("page", "page_size")}
        try:
            return type(self).selector(filters=filters)
        except selectors.FilterError as exc:
            raise ValidationError(exc.errors) from exc

    def get_object(self) -> Any:
        pk = str(self.kwargs["pk"])
        if not (pk.isascii() and pk.isdigit() and 1 <= int(pk) <= selectors.MAX_ID):
            raise NotFound()
        return super().get_object()

    def perform_create(self, serializer: Any) -> None:
        try:
            serializer.instance = type(self).create_service(data=serializer.validated_data)
        except ModelValidationError as exc:
            raise ValidationError(_api_errors(exc)) from exc

    def perform_update(self, serializer: Any) -> None:
        try:
            serializer.instance = type(self).update_service(
                **{self.entity: serializer.instance, "data": serializer.validated_data}
            )
        except ModelValidationError as exc:
            raise ValidationError(_api_errors(exc)) from exc

    def perform_destroy(self, instance: Any) -> None:
        try:
            type(self).delete_service(**{self.entity: instance})
        except ProtectedError as exc:
            raise Conflict(f"This {self.entity} still has campaigns: delete or move them first.") from exc


class _AdvertiserApi(_Api):
    serializer_class = AdvertiserSerializer
    selector = selectors.advertiser_list
    create_service = services.advertiser_create
    update_service = services.advertiser_update
    delete_service = services.advertiser_delete
    entity = "advertiser"
    filterset = selectors.AdvertiserFilter


class _CampaignApi(_Api):
    serializer_class = CampaignSerializer
    selector = selectors.campaign_list
    create_service = services.campaign_create
    update_service = services.campaign_update
    delete_service = services.campaign_delete
    entity = "campaign"
    filterset = selectors.CampaignFilter


class _CreativeApi(_Api):
    serializer_class = CreativeSerializer
    selector = selectors.creative_list
    create_service = services.creative_create
    update_service = services.creative_update
    delete_service = services.creative_delete
    entity = "creative"
    filterset = selectors.CreativeFilter


class AdvertiserListApi(_AdvertiserApi, generics.ListCreateAPIView):
    pass


class AdvertiserDetailApi(_AdvertiserApi, generics.RetrieveUpdateDestroyAPIView):
    pass


class CampaignListApi(_CampaignApi, generics.ListCreateAPIView):
    pass


class CampaignDetailApi(_CampaignApi, generics.RetrieveUpdateDestroyAPIView):
    pass


class CreativeListApi(_CreativeApi, generics.ListCreateAPIView):
    pass


class CreativeDetailApi(_CreativeApi, generics.RetrieveUpdateDestroyAPIView):
    pass
