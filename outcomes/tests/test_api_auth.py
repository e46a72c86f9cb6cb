"""Who may read the API (SPEC §11), the token command, and the OpenAPI schema and docs pages."""

import re
from io import StringIO
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from outcomes.tests.test_api import FILTERED_ENDPOINTS

pytestmark = pytest.mark.django_db

ENDPOINTS = [*FILTERED_ENDPOINTS, "/api/outcomes/1/"]


def create_token(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


@pytest.fixture
def private(settings: Any) -> None:
    settings.HELIOS_PUBLIC_API = False


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_requests_are_refused_unless_the_api_is_public(settings: Any, private: None, url: str) -> None:
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()
    settings.HELIOS_PUBLIC_API = True  # read per request
    assert APIClient().get(url).status_code in (200, 404)


def test_bad_parameters_of_anonymous_requests_are_still_401(private: None) -> None:
    assert APIClient().get("/api/outcomes/", {"page": "x"}).status_code == 401


def test_token_authentication(private: None) -> None:
    key = create_token("reader", "--create-user")
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert create_token("reader") == key  # the same token, printed again
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/outcomes/").status_code == 200
    assert client.get("/api/outcomes/stats/").json()["total_outcomes"] == 0

    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/outcomes/").status_code == 401

    new_key = create_token("reader", "--reset")
    assert new_key != key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/outcomes/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert client.get("/api/outcomes/").status_code == 200

    user = User.objects.get(username="reader")
    assert not user.has_usable_password() and not user.is_staff
    user.is_active = False
    user.save()
    assert client.get("/api/outcomes/").status_code == 401


def test_token_command_refuses_unknown_and_inactive_users() -> None:
    with pytest.raises(CommandError, match="--create-user"):
        create_token("ghost")
    User.objects.create_user("gone", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        create_token("gone")


def test_session_authentication(private: None) -> None:
    client = Client()
    client.force_login(User.objects.create_user("analyst", password="not-used-here"))
    assert client.get("/api/outcomes/").status_code == 200


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/docs/redoc/"])
def test_schema_and_docs_follow_the_apis_access_rule(settings: Any, private: None, url: str) -> None:
    assert APIClient().get(url).status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {create_token('analyst', '--create-user')}")
    assert client.get(url).status_code == 200
    settings.HELIOS_PUBLIC_API = True
    assert APIClient().get(url).status_code == 200


def test_schema_is_openapi_3_with_every_operation(settings: Any) -> None:
    settings.HELIOS_PUBLIC_API = True
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/outcomes/",
        "/api/outcomes/{id}/",
        "/api/outcomes/stats/",
        "/api/outcomes/rtb-stats/",
        "/api/outcomes/notice-stats/",
        "/api/outcomes/winners/",
        "/api/outcomes/daily-stats/",
        "/api/outcomes/daily_stats/",
        "/api/campaigns/{id}/stats/",
        *(f"/api/{name}/{suffix}" for name in ("advertisers", "campaigns", "creatives") for suffix in ("", "{id}/")),
    }
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    item = schema["components"]["schemas"]["OutcomeListItem"]["properties"]
    assert item["win_price"]["type"] == "number"  # as rendered: JSON numbers
    json_schema = Client().get("/api/schema/", {"format": "json"})
    assert json_schema.status_code == 200 and json_schema.json()["paths"].keys() == schema["paths"].keys()


@pytest.mark.parametrize("url", ["/api/docs/", "/api/docs/redoc/"])
def test_docs_use_the_projects_own_static_files(settings: Any, url: str) -> None:
    settings.HELIOS_PUBLIC_API = True
    response = Client().get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/schema/" in page
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', page)
    assert assets, page
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset  # no CDN
        assert finders.find(asset.removeprefix("/static/")), asset
