"""The campaigns REST API: CRUD, money as USD decimals, clear 400s, auth as SPEC §7/§11 say."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.tests.conftest import token_client

pytestmark = pytest.mark.django_db

CAMPAIGN = {
    "name": "Spring Trail Sale",
    "status": "active",
    "strategy": "fixed",
    "fixed_cpm": 2.5,
    "max_cpm": "3.10",
    "total_budget": "1500.00",
    "daily_budget": 50,
    "pacing": "even",
    "cat": ["IAB17", "IAB20-1"],
    "countries": ["USA", "CAN"],
    "device_types": [2, 4],
    "hours_utc": [8, 9, 10],
    "interest_categories": ["travel"],
    "min_interest_score": 0.5,
    "frequency_cap": 3,
    "frequency_window_s": 86400,
}


@pytest.fixture
def advertiser_id(editor: APIClient) -> int:
    response = editor.post("/api/advertisers/", {"name": "Summit Outdoor", "adomain": "summit.example"}, format="json")
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


def create_campaign(client: APIClient, advertiser_id: int, **overrides: Any) -> Any:
    return client.post("/api/campaigns/", {**CAMPAIGN, "advertiser": advertiser_id, **overrides}, format="json")


def test_campaign_crud_with_money_in_usd(editor: APIClient, advertiser_id: int) -> None:
    response = create_campaign(editor, advertiser_id)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["fixed_cpm"], body["max_cpm"], body["total_budget"], body["daily_budget"]) == (2.5, 3.1, 1500, 50)
    stored = Campaign.objects.get(id=body["id"])
    assert (stored.fixed_cpm_micros, stored.total_budget_micros, stored.daily_budget_micros) == (
        2_500_000,
        1_500_000_000,
        50_000_000,
    )

    url = f"/api/campaigns/{body['id']}/"
    assert editor.get(url).json()["cat"] == ["IAB17", "IAB20-1"]
    patched = editor.patch(url, {"status": "paused", "daily_budget": "75.125"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["status"] == "paused" and patched.json()["daily_budget"] == 75.125

    listed = editor.get("/api/campaigns/", {"status": "paused"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert editor.get("/api/campaigns/", {"status": "active"}).json()["count"] == 0
    assert editor.get("/api/campaigns/", {"search": "trail"}).json()["count"] == 1

    assert editor.delete(url).status_code == 204
    assert editor.get(url).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"start_at": "2026-12-10T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}, "end_at", "after the start"),
        ({"total_budget": -5}, "total_budget", "greater than or equal to 0"),
        ({"daily_budget": 2000}, "daily_budget", "exceed the total"),
        ({"fixed_cpm": "0.0000001"}, "fixed_cpm", "decimal places"),
        ({"cat": ["IAB17", "IAB42"]}, "cat", "IAB42"),
        ({"countries": ["US"]}, "countries", "alpha-3"),
        ({"device_types": [12]}, "device_types", "1-8"),
        ({"status": "running"}, "status", "valid choice"),
        ({"frequency_window_s": None}, "frequency_cap", "both"),
        ({"advertiser": 999999}, "advertiser", "does not exist"),
    ],
)
def test_bad_values_are_400_naming_the_field(
    editor: APIClient, advertiser_id: int, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    response = create_campaign(editor, advertiser_id, **overrides)
    assert response.status_code == 400, response.json()
    errors = response.json()
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
    assert not Campaign.objects.exists()


def test_creative_crud_and_size_rules(editor: APIClient, advertiser_id: int) -> None:
    campaign_id = create_campaign(editor, advertiser_id).json()["id"]
    creative = {"campaign": campaign_id, "crid": "summit-mrec", "media": "banner", "w": 300, "h": 250,
                "image_url": "https://cdn.example/m.png", "landing_url": "https://summit.example/"}  # fmt: skip
    response = editor.post("/api/creatives/", creative, format="json")
    assert response.status_code == 201, response.json()
    assert editor.get(f"/api/campaigns/{campaign_id}/").json()["creatives"] == [response.json()["id"]]

    odd = editor.post("/api/creatives/", {**creative, "crid": "summit-odd", "w": 310}, format="json")
    assert odd.status_code == 400 and "IAB standard size" in odd.json()["w"][0]
    dup = editor.post("/api/creatives/", creative, format="json")
    assert dup.status_code == 400 and "crid" in dup.json()
    assert editor.get("/api/creatives/", {"campaign": campaign_id, "media": "banner"}).json()["count"] == 1
    assert editor.get("/api/creatives/", {"media": "hologram"}).status_code == 400


def test_deleting_an_advertiser_with_campaigns_is_409(editor: APIClient, advertiser_id: int) -> None:
    create_campaign(editor, advertiser_id)
    response = editor.delete(f"/api/advertisers/{advertiser_id}/")
    assert response.status_code == 409
    assert "still has campaigns" in response.json()["detail"]


URLS = ["/api/advertisers/", "/api/campaigns/", "/api/creatives/"]


@pytest.mark.parametrize("url", URLS)
def test_reads_need_authentication_unless_the_api_is_public(settings: Any, reader: APIClient, url: str) -> None:
    settings.HELIOS_PUBLIC_API = False
    response = APIClient().get(url)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert reader.get(url).status_code == 200
    settings.HELIOS_PUBLIC_API = True
    assert APIClient().get(url).status_code == 200


@pytest.mark.parametrize("url", URLS)
def test_writes_need_the_model_permission(settings: Any, reader: APIClient, url: str) -> None:
    settings.HELIOS_PUBLIC_API = True  # public reads never open writes
    assert APIClient().post(url, {}, format="json").status_code == 401
    assert reader.post(url, {}, format="json").status_code == 403


def test_staff_needs_the_permission_too_and_a_superuser_has_it(advertiser_id: int) -> None:
    staff = token_client(User.objects.create_user("staff", is_staff=True))
    assert staff.patch(f"/api/advertisers/{advertiser_id}/", {"name": "X"}, format="json").status_code == 403
    admin = token_client(User.objects.create_superuser("admin"))
    assert admin.patch(f"/api/advertisers/{advertiser_id}/", {"name": "X"}, format="json").status_code == 200


def test_openapi_schema_documents_the_endpoints(reader: APIClient) -> None:
    import yaml

    schema = yaml.safe_load(reader.get("/api/schema/").content)
    for path in ["/api/advertisers/", "/api/advertisers/{id}/", "/api/campaigns/", "/api/campaigns/{id}/",
                 "/api/creatives/", "/api/creatives/{id}/"]:  # fmt: skip
        assert path in schema["paths"], sorted(schema["paths"])
    fields = schema["components"]["schemas"]["Campaign"]["properties"]
    assert fields["total_budget"]["type"] == "number"
    assert {"post", "get"} <= set(schema["paths"]["/api/campaigns/"])
