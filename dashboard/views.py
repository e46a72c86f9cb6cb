"""The live dashboard page (SPEC §8): a template; the figures arrive over the websocket."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.snapshots import PRICE_BUCKET_LABELS, RATE_HORIZON_S, SERIES_BIN_S, SERIES_BINS

LOGIN_URL = "/admin/login/"
TABLE_PAGE_SIZE = 25


@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The page; anonymous users go to the login first unless the API is public (SPEC §11)."""
    if not settings.HELIOS_PUBLIC_API and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
    config = {
        "websocketPath": "/ws/dashboard/",
        "outcomesApi": "/api/outcomes/",
        "pageSize": TABLE_PAGE_SIZE,
        "priceBuckets": list(PRICE_BUCKET_LABELS),
        "seriesBinS": SERIES_BIN_S,
        "seriesBins": SERIES_BINS,
        "rollingHorizonS": RATE_HORIZON_S,
    }
    return render(request, "dashboard/index.html", {"config": config})
