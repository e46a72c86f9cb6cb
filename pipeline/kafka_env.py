"""Kafka client settings taken from the environment (read by helios_site/settings.py)."""

import re
from collections.abc import Mapping

# Kubernetes service-link variable names (…_SERVICE_HOST, …_PORT=tcp://…, …_PORT_9093_TCP_ADDR).
_SERVICE_LINK = re.compile(r"_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_\w+)?)?)$")


def kafka_client_security(environ: Mapping[str, str]) -> dict[str, str]:
    """librdkafka's TLS/SASL settings from KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_*
    (and KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION): the name after KAFKA_, lower case, "_" -> ".",
    e.g. KAFKA_SASL_MECHANISM -> sasl.mechanism, KAFKA_SSL_CA_LOCATION -> ssl.ca.location.
    Every Kafka client of every role gets them (pipeline.transports.client_config). Kubernetes'
    service-link variables (a Service named kafka-ssl gives KAFKA_SSL_PORT=tcp://...) are skipped."""
    exact = ("KAFKA_SECURITY_PROTOCOL", "KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION")
    return {
        name.removeprefix("KAFKA_").lower().replace("_", "."): value
        for name, value in sorted(environ.items())
        if value
        and (name in exact or name.startswith(("KAFKA_SASL_", "KAFKA_SSL_")))
        and not _SERVICE_LINK.search(name)
    }
