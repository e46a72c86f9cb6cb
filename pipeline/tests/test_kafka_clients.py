"""Kafka client settings for real clusters: TLS/SASL from the environment reach every client,
topics get the configured replication, and the intake producer's queue is bounded in bytes."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource, ConfigSource

from conftest import REPO, free_port, service_env
from intake.producer import IntakeProducer, Unavailable
from pipeline import topics
from pipeline.admin_kafka import admin_client, ensure_topics
from pipeline.kafka_env import kafka_client_security
from pipeline.runner import kafka_reachable
from pipeline.transports import KafkaTransport


def test_tls_and_sasl_variables_become_librdkafka_settings():
    environ = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "helios",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "https",
        "KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION": "true",
        "KAFKA_SASL_KERBEROS_SERVICE_NAME": "",  # empty: not passed
        "KAFKA_BOOTSTRAP_SERVERS": "b1:9093",  # not a security setting
        "HELIOS_KAFKA_SSL_THING": "x",  # not ours
        # Kubernetes service links of a Service named kafka-ssl: not client settings.
        "KAFKA_SSL_PORT": "tcp://10.0.0.7:9093",
        "KAFKA_SSL_PORT_9093_TCP_ADDR": "10.0.0.7",
        "KAFKA_SSL_SERVICE_HOST": "10.0.0.7",
        "KAFKA_SSL_SERVICE_PORT": "9093",
    }
    assert kafka_client_security(environ) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "helios",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/kafka/ca.pem",
        "ssl.endpoint.identification.algorithm": "https",
        "enable.ssl.certificate.verification": "true",
    }


def _clients(settings) -> dict[str, str | None]:
    """Builds each Kafka client a role uses; returns what each construction raised (or None)."""
    builders: dict[str, Callable[[], object]] = {
        "role producer": lambda: KafkaTransport().producer(),
        "dead-letter producer": lambda: KafkaTransport().producer(dlq=True),
        "role consumer": lambda: KafkaTransport().consumer("g"),
        "topic admin": admin_client,
        "readiness probe": kafka_reachable,
        "intake producer": IntakeProducer.from_settings,
    }
    raised: dict[str, str | None] = {}
    for name, build in builders.items():
        try:
            build()
            raised[name] = None
        except KafkaException as exc:
            raised[name] = str(exc)
    return raised


def test_every_kafka_client_gets_the_security_settings(settings):
    # A value librdkafka refuses when the client is built: proof that the setting reached it.
    settings.KAFKA_CLIENT_SECURITY = {"security.protocol": "NOT_A_PROTOCOL"}
    raised = _clients(settings)
    assert all(error and "security.protocol" in error for error in raised.values()), raised


def test_the_security_environment_reaches_a_management_command():
    env = service_env(KAFKA_SECURITY_PROTOCOL="NOT_A_PROTOCOL", HELIOS_TOPIC_PREFIX=f"t{uuid.uuid4().hex[:10]}_")
    run = subprocess.run(
        [sys.executable, "manage.py", "kafka_topics"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "security.protocol" in run.stderr


def _replication_settings(**env: str) -> tuple[int, int]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HELIOS_TOPIC_", "KAFKA_"))}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.HELIOS_TOPIC_REPLICATION_FACTOR, s.HELIOS_TOPIC_MIN_INSYNC_REPLICAS)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**environ, "DJANGO_SETTINGS_MODULE": "helios_site.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_replication_defaults_follow_the_bootstrap_list():
    assert _replication_settings() == (1, 1)
    assert _replication_settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092") == (1, 1)
    assert _replication_settings(KAFKA_BOOTSTRAP_SERVERS="k1:9092,k2:9092,k3:9092") == (3, 2)
    assert _replication_settings(KAFKA_BOOTSTRAP_SERVERS="k1:9092, k2:9092 ,k3:9092,k4:9092") == (3, 2)
    assert _replication_settings(HELIOS_TOPIC_REPLICATION_FACTOR="5") == (5, 2)
    assert _replication_settings(
        KAFKA_BOOTSTRAP_SERVERS="k1:9092,k2:9092,k3:9092", HELIOS_TOPIC_MIN_INSYNC_REPLICAS="3"
    ) == (3, 3)


@pytest.mark.kafka
def test_topics_are_created_with_the_configured_replication(settings):
    settings.HELIOS_TOPIC_PREFIX = f"t{uuid.uuid4().hex[:10]}_"
    name = topics.resolved(topics.BID_REQUESTS)
    # The local broker is a single node: two replicas cannot be placed, so the broker refuses.
    settings.HELIOS_TOPIC_REPLICATION_FACTOR = 2
    with pytest.raises(KafkaException, match=r"(?i)replication"):
        ensure_topics(partitions=1, names=[name])
    settings.HELIOS_TOPIC_REPLICATION_FACTOR = 1
    settings.HELIOS_TOPIC_MIN_INSYNC_REPLICAS = 1
    admin = admin_client()
    try:
        assert ensure_topics(partitions=1, names=[name]) == {name: (1, True)}
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        config = admin.describe_configs([resource])[resource].result(timeout=30)
        entry = config["min.insync.replicas"]
        assert entry.value == "1"
        assert entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value  # set on the topic
    finally:
        for future in admin.delete_topics([name], operation_timeout=10).values():
            future.result(timeout=30)


def test_the_intake_producer_queue_is_bounded_in_bytes(settings):
    settings.HELIOS_PRODUCER_QUEUE_MAX = 100_000
    settings.HELIOS_PRODUCER_QUEUE_MAX_KBYTES = 4
    settings.HELIOS_INTAKE_DEADLINE_S = 0.5
    # No broker there: every message stays queued until its deadline.
    producer = IntakeProducer.from_settings(**{"bootstrap.servers": f"127.0.0.1:{free_port()}"})
    body = b"x" * 1500

    async def three() -> list[BaseException | None]:
        return await asyncio.gather(*(producer.publish(b"k", body) for _ in range(3)), return_exceptions=True)

    try:
        results = asyncio.run(three())
    finally:
        producer.close(timeout_s=0.2)
    reasons = [r.reason if isinstance(r, Unavailable) else r for r in results]
    assert reasons == ["timeout", "timeout", "queue_full"]
