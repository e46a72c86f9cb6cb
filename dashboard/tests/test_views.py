"""The dashboard page at / and its static files, served by the project itself (SPEC §8, §11)."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_the_login_when_the_api_is_not_public(client, settings):
    settings.HELIOS_PUBLIC_API = False
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/"


def test_signed_in_users_get_the_page_when_the_api_is_not_public(client, settings):
    settings.HELIOS_PUBLIC_API = False
    client.force_login(User.objects.create_user("analyst"))
    response = client.get("/")
    assert response.status_code == 200
    assert b"analyst" in response.content


def test_the_page_when_the_api_is_public(client, settings):
    settings.HELIOS_PUBLIC_API = True
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for card in ("card-total", "card-wins", "card-win-rate", "card-revenue", "card-avg-bid", "card-rate", "card-p50"):
        assert f'id="{card}"' in html
    for chart in ("chart-prices", "chart-win-rate", "chart-throughput"):
        assert f'id="{chart}"' in html
    # Every asset is the project's own: no CDN.
    assert "/static/dashboard/vendor/chart.umd.js" in html
    assert "/static/dashboard/dashboard.js" in html
    assert "https://" not in html and "http://" not in html
    config = json.loads(html.split('id="dashboard-config" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert config["websocketPath"] == "/ws/dashboard/"
    assert config["outcomesApi"] == "/api/outcomes/"


def test_only_get(client, settings):
    settings.HELIOS_PUBLIC_API = True
    assert client.post("/").status_code == 405


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/dashboard/dashboard.js", "text/javascript"),
        ("/static/dashboard/dashboard.css", "text/css"),
        ("/static/dashboard/vendor/chart.umd.js", "text/javascript"),
    ],
)
def test_daphne_app_serves_the_static_files(path, content_type):
    from helios_site.asgi import application

    async def get() -> tuple[dict, bytes]:
        comm = HttpCommunicator(application, "GET", path)
        await comm.send_input({"type": "http.request", "body": b""})
        start = await comm.receive_output(10)
        body = b""
        while True:  # a file is streamed in chunks
            chunk = await comm.receive_output(10)
            body += chunk.get("body", b"")
            if not chunk.get("more_body"):
                return start, body

    start, body = async_to_sync(get)()
    assert start["status"] == 200
    assert dict(start["headers"])[b"Content-Type"].decode().startswith(content_type)
    assert len(body) > 1000
