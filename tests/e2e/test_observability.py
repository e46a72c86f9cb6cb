"""SPEC §9 on real role processes: metric names, readiness that follows dependencies, and one
request_id followed through the JSON logs of every pipeline role."""

import json
import re
import uuid

import psycopg2
import pytest
from confluent_kafka import Producer
from django.db import connection

from pipeline import topics
from pipeline.transports import bootstrap_servers
from tests.deploy.test_deploy import dashboard_panels, promql_metrics
from tests.e2e.harness import Platform, expected_outcomes, http_get, make_bids, post_all, wait_for
from tests.e2e.test_pipeline import redis_url, stored, wait_stored

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SPEC_METRICS = {
    "handler": [
        "bid_requests_total",
        "request_processing_duration_seconds",
        "kafka_publish_errors_total",
        "active_requests",
    ],
    "bidder": [
        "bid_requests_processed_total",
        "bid_response_generation_duration_seconds",
        "user_profile_enrichment_total",
        "user_profile_rpc_duration_seconds",
        "bid_price_distribution_usd",
        "circuit_breaker_state",
        "helios_consumer_lag",
        "helios_dlq_messages_total",
    ],
    "auction": ["helios_auctions_total", "helios_consumer_lag"],
    "outcomes": [
        "helios_outcomes_stored_total",
        "helios_outcomes_duplicates_total",
        "helios_pipeline_latency_seconds",
        "helios_consumer_lag",
    ],
    "profiles": ["helios_profile_lookups_total", "helios_profile_lookup_duration_seconds"],
    "web": ["django_http_requests_total_by_method"],
}


def sample_names(text: str) -> set[str]:
    """Names of the metric samples actually exported (not just declared)."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            names.add(name)
            for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
                if name.endswith(suffix):
                    names.add(name[: -len(suffix)])
    return names


@pytest.fixture
def platform(topic_prefix, tmp_path):
    with Platform(tmp_path, topic_prefix, redis_url(), HELIOS_LOG_LEVEL="DEBUG") as pf:
        pf.seed_profiles()
        yield pf


def test_every_role_exports_the_spec_metrics_and_the_grafana_panels_exist(platform):
    platform.start_all(web=True)
    producer = Producer({"bootstrap.servers": ",".join(bootstrap_servers())})
    producer.produce(topics.resolved(topics.BID_REQUESTS), b"poison", key="poison")
    producer.flush(10)
    sent = post_all(platform.handler_port, make_bids(200, seed=21))
    wait_stored(len(expected_outcomes(sent)))
    http_get(platform.ports["web"], "/api/outcomes/stats/")

    def scraped() -> dict[str, set[str]]:
        return {role: sample_names(platform.metrics(role)) for role in SPEC_METRICS}

    # The consumer lag comes with librdkafka's statistics, every few seconds.
    def lag_reported() -> bool:
        names = scraped()
        return all("helios_consumer_lag" in names[r] for r in ("bidder", "auction", "outcomes"))

    wait_for(lag_reported, 30, "consumer lag")
    names = scraped()
    for role, expected in SPEC_METRICS.items():
        missing = [m for m in expected if m not in names[role]]
        assert not missing, f"{role} /metrics lacks {missing}"
    everything = set().union(*names.values())
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            assert promql_metrics(target["expr"]) <= everything, panel["title"]
    # Labels stay low-cardinality: no request or user ids anywhere.
    for role in SPEC_METRICS:
        assert "user-0" not in platform.metrics(role)
        assert "e2e-21-" not in platform.metrics(role)


def test_one_request_id_is_in_the_logs_of_every_pipeline_role(platform):
    platform.start_all()
    request_id = f"trace-{uuid.uuid4().hex}"
    [sent] = post_all(platform.handler_port, [{"request_id": request_id, "user_id": "user-001"}])
    assert sent.status == 202
    wait_stored(1)
    for role in ("handler", "bidder", "auction", "outcomes"):
        lines = [json.loads(line) for line in platform.log(role).splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("request_id") == request_id]
        assert mine, f"{role} never logged {request_id}"
        assert all(line["service"] == role for line in mine)
        assert {"timestamp", "level", "message"} <= set(mine[0])


def set_connections_allowed(database: str, allowed: bool) -> None:
    """Through another database: the test database cannot be switched off from inside itself."""
    settings = connection.settings_dict
    admin = psycopg2.connect(
        dbname="helios",
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])
    admin.close()


def test_readyz_follows_each_dependency(platform):
    platform.start_all(web=True)
    roles = ("handler", "bidder", "auction", "outcomes", "profiles", "web")
    wait_for(lambda: all(platform.ready(role) == 200 for role in roles), 30, "every role ready")

    # bidder -> profile service
    platform.kill("profiles")
    wait_for(lambda: platform.ready("bidder") == 503, 30, "bidder unready without profiles")
    platform.start("profiles")
    wait_for(lambda: platform.ready("bidder") == 200, 30, "bidder ready again")

    # outcomes and web -> database: refuse connections to it (dropping the open ones), then allow them
    database = connection.settings_dict["NAME"]
    connection.close()
    set_connections_allowed(database, False)
    try:
        wait_for(lambda: platform.ready("outcomes") == 503, 30, "outcomes unready without database")
        wait_for(lambda: platform.ready("web") == 503, 30, "web unready without database")
    finally:
        set_connections_allowed(database, True)
    wait_for(lambda: platform.ready("outcomes") == 200, 30, "outcomes ready again")
    wait_for(lambda: platform.ready("web") == 200, 30, "web ready again")
    assert stored() == {}  # nothing was sent; the roles just kept running


def test_profiles_readyz_follows_redis(topic_prefix, tmp_path, private_redis):
    with Platform(tmp_path, topic_prefix, redis_url(0, private_redis.port)) as pf:
        pf.start("profiles")
        wait_for(lambda: pf.ready("profiles") == 200, 30, "profiles ready")
        private_redis.stop()
        wait_for(lambda: pf.ready("profiles") == 503, 30, "profiles unready without Redis")
        private_redis.start()
        wait_for(lambda: pf.ready("profiles") == 200, 30, "profiles ready again")
