"""Campaign API routes under /api/ (SPEC §13). Ids are taken as text: the views answer a JSON 404 for a non-number."""

from django.urls import URLPattern, URLResolver, path

from campaigns import apis

urlpatterns: list[URLPattern | URLResolver] = [
    path("advertisers/", apis.AdvertiserListApi.as_view(), name="api-advertisers"),
    path("advertisers/<str:pk>/", apis.AdvertiserDetailApi.as_view(), name="api-advertiser-detail"),
    path("campaigns/", apis.CampaignListApi.as_view(), name="api-campaigns"),
    path("campaigns/<str:pk>/", apis.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path("creatives/", apis.CreativeListApi.as_view(), name="api-creatives"),
    path("creatives/<str:pk>/", apis.CreativeDetailApi.as_view(), name="api-creative-detail"),
]
