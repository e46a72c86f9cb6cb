"""The web role as the image starts it (deploy/entrypoint.sh `web`: daphne on the public port plus
the metrics port), configured for production as in deploy/k8s/: what Prometheus, the kubelet, an
old client and an anonymous visitor get, and how many database connections it keeps."""

import http.client
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from conftest import REPO, free_port, service_env
from tests.e2e.harness import database_url, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOST = "helios.example.com"


def get(port: int, path: str, host: str = HOST, *, https: bool = False) -> tuple[int, bytes]:
    """GET as a client reaches the pod: `https` as behind the TLS-terminating ingress."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host, **({"X-Forwarded-Proto": "https"} if https else {})}
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[int, int]]:
    port, metrics_port = free_port(), free_port()
    env = service_env(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="web-role-test-" + "k" * 40,
        DJANGO_ALLOWED_HOSTS=f"{HOST},localhost",
        HELIOS_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        HELIOS_PUBLIC_API="false",
        HELIOS_WEB_PORT=str(port),
        HELIOS_WEB_METRICS_PORT=str(metrics_port),
        HELIOS_WEB_HOST="127.0.0.1",
        HELIOS_METRICS_HOST="127.0.0.1",
        DATABASE_URL=database_url(),
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
    )
    env.pop("HELIOS_WEB_DB_CONN_MAX_AGE", None)
    env.pop("HELIOS_DB_CONN_MAX_AGE", None)
    with open(tmp_path / "web.log", "ab") as log:
        proc = subprocess.Popen(
            ["sh", str(REPO / "deploy" / "entrypoint.sh"), "web"], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        wait_for(lambda: get(port, "/healthz", "localhost")[0] == 200, 60, "the web role")
        yield port, metrics_port
    finally:
        proc.terminate()
        proc.wait(30)


def test_prometheus_scraping_the_pod_ip_gets_metrics_and_the_public_port_does_not(web):
    port, metrics_port = web
    status, body = get(metrics_port, "/metrics", host=f"10.1.2.3:{metrics_port}")  # the pod IP
    assert status == 200
    assert b"django_http_requests_total_by_method_total" in body
    assert get(metrics_port, "/api/outcomes/", host=f"10.1.2.3:{metrics_port}")[0] == 404  # only /metrics there
    assert get(port, "/metrics", https=True)[0] == 404


def test_probes_and_old_clients_get_their_answers(web):
    port, _ = web
    assert get(port, "/readyz", "localhost")[0] == 200  # the kubelet's readiness probe
    status, body = get(port, "/api/health")  # the original Helios dashboard's health URL
    assert status == 200 and b"ok" in body
    assert get(port, "/api/health/")[0] == 200


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/outcomes/"])
def test_anonymous_visitors_get_no_schema_docs_or_data(web, path):
    port, _ = web
    assert get(port, path, https=True)[0] == 401


def test_the_web_role_keeps_no_database_connection_between_requests(web):
    port, _ = web

    def ready(_: int) -> int:
        return get(port, "/readyz", "localhost")[0]

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(ready, range(64))) == {200}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (others,) = cursor.fetchone()
    assert others == 0
