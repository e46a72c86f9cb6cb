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

from pipeline.kafka_env import kafka_client_security
from pipeline.messages import DEFAULT_CURRENCY

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
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Helios: the knobs of SPEC §2-§8, all settable as HELIOS_* environment variables ---
HELIOS_TRANSPORT = env.str("HELIOS_TRANSPORT", default="kafka")  # "kafka" | "local"
HELIOS_TOPIC_PARTITIONS = env.int("HELIOS_TOPIC_PARTITIONS", default=3)
HELIOS_TOPIC_PREFIX = env.str("HELIOS_TOPIC_PREFIX", default="")
HELIOS_CONSUMER_GROUP_PREFIX = env.str("HELIOS_CONSUMER_GROUP_PREFIX", default="helios")
HELIOS_LOG_LEVEL = env.str("HELIOS_LOG_LEVEL", default="INFO")
# Transform roles (bidder, auction) handle messages in batches of at most this many / this long.
HELIOS_BATCH_SIZE = env.int("HELIOS_BATCH_SIZE", default=500)
HELIOS_BATCH_TIME_S = env.float("HELIOS_BATCH_TIME_S", default=0.005)
# Consumer roles commit offsets at most this often (a crash re-delivers at most this much work).
HELIOS_COMMIT_INTERVAL_S = env.float("HELIOS_COMMIT_INTERVAL_S", default=0.2)
# On SIGTERM a role waits at most this long for in-flight work before abandoning it uncommitted.
HELIOS_SHUTDOWN_TIMEOUT_S = env.float("HELIOS_SHUTDOWN_TIMEOUT_S", default=10.0)

# Web role (daphne): REST API, admin, dashboard
HELIOS_WEB_HOST = env.str("HELIOS_WEB_HOST", default="127.0.0.1")
HELIOS_WEB_PORT = env.int("HELIOS_WEB_PORT", default=8000)
# The web role's /metrics for Prometheus, on a port of its own (daphne -e tcp:port=9004, as the
# image's `web` entry point starts it): answered whatever the Host header (a scrape of the pod IP),
# and never on the public port unless DEBUG.
HELIOS_WEB_METRICS_PORT = env.int("HELIOS_WEB_METRICS_PORT", default=9004)

# Intake (SPEC §2): the handler's front door
HELIOS_HANDLER_HOST = env.str("HELIOS_HANDLER_HOST", default="127.0.0.1")
HELIOS_HANDLER_PORT = env.int("HELIOS_HANDLER_PORT", default=8080)
HELIOS_MAX_BODY_BYTES = env.int("HELIOS_MAX_BODY_BYTES", default=64 * 1024)
HELIOS_MAX_IMPS = env.int("HELIOS_MAX_IMPS", default=16)
HELIOS_INTAKE_DEADLINE_S = env.float("HELIOS_INTAKE_DEADLINE_S", default=2.0)
HELIOS_PRODUCER_QUEUE_MAX = env.int("HELIOS_PRODUCER_QUEUE_MAX", default=100_000)
# ...and in bytes: 100,000 requests of up to HELIOS_MAX_BODY_BYTES could otherwise hold GiBs.
HELIOS_PRODUCER_QUEUE_MAX_KBYTES = env.int("HELIOS_PRODUCER_QUEUE_MAX_KBYTES", default=64 * 1024)
HELIOS_RETRY_AFTER_S = env.int("HELIOS_RETRY_AFTER_S", default=1)
# Open connections + in-flight requests per handler process; beyond it, 503 + Retry-After unread.
HELIOS_HANDLER_LIMIT_CONCURRENCY = env.int("HELIOS_HANDLER_LIMIT_CONCURRENCY", default=4096)
# Embedded mode: bid_requests waiting for the bidder before the handler answers 503.
HELIOS_LOCAL_BACKLOG_MAX = env.int("HELIOS_LOCAL_BACKLOG_MAX", default=20_000)

# Profiles (SPEC §4): gRPC server and the bidder's client
HELIOS_PROFILES_HOST = env.str("HELIOS_PROFILES_HOST", default="127.0.0.1")
HELIOS_PROFILES_PORT = env.int("HELIOS_PROFILES_PORT", default=50051)
HELIOS_PROFILES_TARGET = env.str("HELIOS_PROFILES_TARGET", default=f"127.0.0.1:{HELIOS_PROFILES_PORT}")
HELIOS_PROFILE_STORE = env.str("HELIOS_PROFILE_STORE", default="redis")  # "redis" | "fake" (in-process)

# Bidding (SPEC §5)
HELIOS_PROFILE_DEADLINE_S = env.float("HELIOS_PROFILE_DEADLINE_S", default=0.05)
HELIOS_BREAKER_FAILURES = env.int("HELIOS_BREAKER_FAILURES", default=5)
HELIOS_BREAKER_OPEN_S = env.float("HELIOS_BREAKER_OPEN_S", default=30.0)
HELIOS_BID_CURRENCY = DEFAULT_CURRENCY
# Optional JSON; empty = the built-in tiers/creatives (bidding/pricing.py, bidding/creatives.py).
# Tiers: [{"name", "min_score", "price", "inclusive"?}, ..., {"name": "base", "price": 0.35}]
HELIOS_PRICE_TIERS = env.str("HELIOS_PRICE_TIERS", default="")
# Creatives: {"<category>" | "default": {"creative_id", "title", "image_url", "landing_url"}}, merged over the built-ins
HELIOS_CREATIVES = env.str("HELIOS_CREATIVES", default="")
# Dotted path of a zero-argument factory returning a ProfileLookup; empty = gRPC at HELIOS_PROFILES_TARGET
HELIOS_PROFILE_LOOKUP = env.str("HELIOS_PROFILE_LOOKUP", default="")

# Outcomes (SPEC §7)
HELIOS_OUTCOMES_BATCH_SIZE = env.int("HELIOS_OUTCOMES_BATCH_SIZE", default=1000)
HELIOS_OUTCOMES_BATCH_TIME_S = env.float("HELIOS_OUTCOMES_BATCH_TIME_S", default=0.01)
# Started by the outcomes role: dotted paths of zero-argument functions, each subscribing to the
# stored batches (outcomes.services.outcome_batch_listener_add) and returning its stop function.
HELIOS_OUTCOME_LISTENERS = ["dashboard.snapshots.start_publisher"]
HELIOS_PUBLIC_API = env.bool("HELIOS_PUBLIC_API", default=False)

# The outcomes' covering index (INCLUDE columns) is a PostgreSQL feature; on SQLite (embedded
# mode) it is a plain index, which is all that mode needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# A list page may reach at most this many rows (page x page_size): OFFSET walks what it skips.
HELIOS_API_MAX_RESULTS = env.int("HELIOS_API_MAX_RESULTS", default=10_000)
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

# Auction (SPEC §6)
HELIOS_AUCTION_MIN_THRESHOLD = env.float("HELIOS_AUCTION_MIN_THRESHOLD", default=0.30)
HELIOS_AUCTION_WIN_PROBABILITY = env.float("HELIOS_AUCTION_WIN_PROBABILITY", default=0.70)
HELIOS_AUCTION_SEED = env.str("HELIOS_AUCTION_SEED", default="helios")

# --- campaigns (SPEC §13) and privacy (SPEC §16) ---
# Where the services signal a campaign change to the running bid paths: "redis" (REDIS_URL) or
# "fake" (an in-process fakeredis: embedded mode). The key holds a counter bumped on every write.
HELIOS_CAMPAIGN_SIGNAL = env.str("HELIOS_CAMPAIGN_SIGNAL", default="redis")
HELIOS_CAMPAIGN_VERSION_KEY = env.str("HELIOS_CAMPAIGN_VERSION_KEY", default="helios:campaigns:version")
# A process's campaign index checks that counter this often, and reloads in full this often anyway.
HELIOS_CAMPAIGN_POLL_S = env.float("HELIOS_CAMPAIGN_POLL_S", default=0.25)
HELIOS_CAMPAIGN_RELOAD_S = env.float("HELIOS_CAMPAIGN_RELOAD_S", default=30.0)
# Helios's IAB Global Vendor List id: a GDPR request is unrestricted only when its TCF v2 consent
# string grants this vendor purposes 1, 3 and 4. 0 (unregistered): every GDPR request is restricted.
HELIOS_TCF_VENDOR_ID = env.int("HELIOS_TCF_VENDOR_ID", default=0)
# --- end campaigns ---

# --- dashboard (SPEC §8): live snapshots pushed by the outcomes role ---
# At most one stats snapshot per this many seconds, whatever the bid rate (only when something changed;
# 0 = the outcomes role publishes none)...
HELIOS_DASHBOARD_SNAPSHOT_S = env.float("HELIOS_DASHBOARD_SNAPSHOT_S", default=0.5)
# ...plus a heartbeat snapshot this often while idle (0 = none).
HELIOS_DASHBOARD_HEARTBEAT_S = env.float("HELIOS_DASHBOARD_HEARTBEAT_S", default=5.0)
# Key prefix on the Redis channel layer, so that deployments (or test runs) can share one Redis.
HELIOS_CHANNEL_PREFIX = env.str("HELIOS_CHANNEL_PREFIX", default="asgi")
if HELIOS_CHANNEL_LAYER == "redis":
    CHANNEL_LAYERS["default"]["CONFIG"] = {"hosts": [REDIS_URL], "prefix": HELIOS_CHANNEL_PREFIX}
# --- end dashboard ---

# Metrics/health side servers per role (SPEC §1)
HELIOS_METRICS_HOST = env.str("HELIOS_METRICS_HOST", default="127.0.0.1")
HELIOS_ROLE_PORTS = {
    "handler": env.int("HELIOS_HANDLER_METRICS_PORT", default=2112),
    "bidder": env.int("HELIOS_BIDDER_METRICS_PORT", default=8001),
    "auction": env.int("HELIOS_AUCTION_METRICS_PORT", default=9001),
    "outcomes": env.int("HELIOS_OUTCOMES_METRICS_PORT", default=9002),
    "profiles": env.int("HELIOS_PROFILES_METRICS_PORT", default=9003),
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
