"""Helios settings: everything comes from the environment, each with a working local default.

The defaults give the embedded developer setup (SQLite, in-memory channel layer). The
distributed mode sets DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS. DEBUG is off unless
DJANGO_DEBUG=true (the development entry points set it: `make run`, `manage.py runembedded`, the
Makefile's other targets, settings_dev for pytest and mypy); with DEBUG off a real
DJANGO_SECRET_KEY is required (the development key is refused).
"""

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from helios_site.settings_roles import *  # noqa: F403 - the HELIOS_* role knobs
from helios_site.settings_roles import HELIOS_CHANNEL_PREFIX, HELIOS_LOG_LEVEL
from pipeline.kafka_env import kafka_client_security

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEV_SECRET_KEY = "helios-development-secret-key-not-for-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Unset, empty or the development key: a production process refuses to start.
if not DEBUG and SECRET_KEY.strip() in ("", DEV_SECRET_KEY):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false")

# --- security (SPEC §11): `manage.py check --deploy` is clean with DJANGO_DEBUG=false; each
# variable is described in docs/production.md ---
# Behind a proxy that terminates TLS: the header it sets, and its value for HTTPS, e.g.
# "HTTP_X_FORWARDED_PROTO,https". Only if the proxy always sets (or strips) that header itself.
HELIOS_PROXY_SSL_HEADER = env.str("HELIOS_PROXY_SSL_HEADER", default="")
if HELIOS_PROXY_SSL_HEADER:
    _header, _, _https = HELIOS_PROXY_SSL_HEADER.partition(",")
    if not (_header.strip() and _https.strip()):
        raise ImproperlyConfigured('HELIOS_PROXY_SSL_HEADER must look like "HTTP_X_FORWARDED_PROTO,https"')
    SECURE_PROXY_SSL_HEADER = (_header.strip(), _https.strip())
SECURE_SSL_REDIRECT = env.bool("HELIOS_SSL_REDIRECT", default=not DEBUG)
# Probes and Prometheus speak plain HTTP to the pod: never redirect them (matched without the "/").
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics|api/health/?)$"]
SESSION_COOKIE_SECURE = env.bool("HELIOS_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("HELIOS_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HELIOS_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("HELIOS_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Origins allowed to POST with a CSRF token (the admin) when they differ from the Host, e.g.
# "https://helios.example.com" behind a proxy that rewrites Host.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Slow clients (slowloris) on the handler: a request must arrive whole, headers and body, within
# this long of its connection opening (or of its first byte, on a kept-alive connection); else the
# connection is closed (with a 408 when the headers had arrived).
HELIOS_READ_TIMEOUT_S = env.float("HELIOS_READ_TIMEOUT_S", default=10.0)
# --- end security ---

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets for /api/docs/, served locally (no CDN)
    "channels",
    "django_prometheus",
    "helios_site",  # wiring only: its one command is runembedded
    "pipeline",
    "intake",
    "profiles",
    "bidding",
    "auction",
    "outcomes",
    "campaigns",
    "dashboard",
    "exchange",  # manage.py exchange: the simulated exchange (a client of /openrtb2/bid, no models)
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "helios_site.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "helios_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'helios.sqlite3'}")}
# Persistent connections for the roles (one long-lived thread each)...
DATABASES["default"]["CONN_MAX_AGE"] = env.int("HELIOS_DB_CONN_MAX_AGE", default=60)
# ...not for the web role (helios_site/asgi.py applies this): under daphne each request's sync code
# runs in a thread of its own, and a kept connection stays open per thread (64 requests, 16 at a
# time, left 38 connections open at 60 s; none at 0).
HELIOS_WEB_DB_CONN_MAX_AGE = env.int("HELIOS_WEB_DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": env.str("HELIOS_TEST_DATABASE", default="test_helios")}
    # A hung connect must not block a role forever; it is retried with back-off instead.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "HELIOS_DB_CONNECT_TIMEOUT_S", default=5
    )
    # JIT compilation added ~0.4 s to filtered API queries over millions of rows and saves nothing here.
    DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Embedded mode writes outcomes from a role thread while the web thread reads: WAL lets
    # readers go on during a write, and IMMEDIATE transactions wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
KAFKA_BOOTSTRAP_SERVERS = env.str("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092")

# TLS/SASL settings of every Kafka client, from KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*.
KAFKA_CLIENT_SECURITY = kafka_client_security(os.environ)
# Topics that `manage.py kafka_topics` creates: with 3+ brokers in the bootstrap list, 3 replicas
# of which 2 must acknowledge a write (acks=all), so one broker may fail without losing or
# refusing anything; a single local node can only hold 1 of each.
_MULTI_BROKER = len([s for s in KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]) >= 3
HELIOS_TOPIC_REPLICATION_FACTOR = env.int("HELIOS_TOPIC_REPLICATION_FACTOR", default=3 if _MULTI_BROKER else 1)
HELIOS_TOPIC_MIN_INSYNC_REPLICAS = env.int(
    "HELIOS_TOPIC_MIN_INSYNC_REPLICAS", default=max(1, min(2, HELIOS_TOPIC_REPLICATION_FACTOR - 1))
)

# Channels: the in-memory layer only works inside one process (embedded mode). The distributed
# mode, where the outcomes role and daphne are separate processes, needs Redis.
HELIOS_CHANNEL_LAYER = env.str("HELIOS_CHANNEL_LAYER", default="memory")
if HELIOS_CHANNEL_LAYER == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": HELIOS_CHANNEL_PREFIX},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


# The outcomes' covering index (INCLUDE columns) is a PostgreSQL feature; on SQLite (embedded
# mode) it is a plain index, which is all that mode needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# A list page may reach at most this many rows (page x page_size): OFFSET walks what it skips.
HELIOS_API_MAX_RESULTS = env.int("HELIOS_API_MAX_RESULTS", default=10_000)
# Each database statement of an API request may run this long (PostgreSQL); past it: 503. 0 = no limit.
HELIOS_API_STATEMENT_TIMEOUT_MS = env.int("HELIOS_API_STATEMENT_TIMEOUT_MS", default=5_000)
# DRF throttling per client: "<n>/<second|minute|hour|day>", e.g. "120/minute"; empty = none. Counted
# in Django's cache (per process unless CACHES names a shared one).
HELIOS_API_THROTTLE_ANON = env.str("HELIOS_API_THROTTLE_ANON", default="")
HELIOS_API_THROTTLE_USER = env.str("HELIOS_API_THROTTLE_USER", default="")
for _name, _rate in (
    ("HELIOS_API_THROTTLE_ANON", HELIOS_API_THROTTLE_ANON),
    ("HELIOS_API_THROTTLE_USER", HELIOS_API_THROTTLE_USER),
):
    if _rate and not re.fullmatch(r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(f'{_name} must look like "120/minute", not {_rate!r}')

# REST API (SPEC §7, §11): token or session authentication; the views allow anonymous reads only
# when HELIOS_PUBLIC_API is true (read per request). Money is rendered as JSON numbers.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request gets 401 with `WWW-Authenticate: Token`.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": False,
    # A class whose rate is None lets every request through.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": HELIOS_API_THROTTLE_ANON or None, "user": HELIOS_API_THROTTLE_USER or None},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helios API",
    "DESCRIPTION": "Auction outcomes and their statistics (read-only); advertisers, campaigns and creatives (CRUD).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "pipeline.logs.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": HELIOS_LOG_LEVEL},
    "loggers": {
        "django": {"level": "INFO"},
        "arroyo": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
