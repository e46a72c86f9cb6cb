"""REST API routes under /api/ (SPEC §7), its OpenAPI schema and its browsable docs."""

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from outcomes import apis, apis_rtb
from outcomes.campaign_stats import CampaignStatsApi

DOCS_ACCESS = [apis.PublicOrAuthenticated]
urlpatterns: list[URLPattern | URLResolver] = [
    path("outcomes/", apis.OutcomeListApi.as_view(), name="api-outcomes"),
    path("outcomes/stats/", apis.OutcomeStatsApi.as_view(), name="api-outcomes-stats"),
    path("outcomes/rtb-stats/", apis_rtb.OutcomeRtbStatsApi.as_view(), name="api-outcomes-rtb-stats"),
    path("outcomes/notice-stats/", apis_rtb.OutcomeNoticeStatsApi.as_view(), name="api-outcomes-notice-stats"),
    path("outcomes/winners/", apis.OutcomeWinnersApi.as_view(), name="api-outcomes-winners"),
    path("outcomes/daily-stats/", apis.OutcomeDailyStatsApi.as_view(), name="api-outcomes-daily-stats"),
    path("outcomes/daily_stats/", apis.OutcomeDailyStatsAliasApi.as_view(), name="api-outcomes-daily-stats-alias"),
    # After the fixed names; the view answers 404 (JSON) for an id that is not a number.
    path("outcomes/<str:id>/", apis.OutcomeDetailApi.as_view(), name="api-outcome-detail"),
    # SPEC §13: a campaign's money and delivery (the ledger and the stored outcomes).
    path("campaigns/<str:id>/stats/", CampaignStatsApi.as_view(), name="api-campaign-stats"),
    # The schema and docs follow the API's own access rule (HELIOS_PUBLIC_API).
    path("schema/", SpectacularAPIView.as_view(permission_classes=DOCS_ACCESS), name="api-schema"),
    path(
        "docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=DOCS_ACCESS), name="api-docs"
    ),
    path(
        "docs/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", permission_classes=DOCS_ACCESS),
        name="api-redoc",
    ),
]
