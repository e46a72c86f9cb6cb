"""Helios's own settings: the knobs of the roles (SPEC §1-§16), each a HELIOS_* environment variable
with a working local default. `helios_site/settings.py` (Django's settings) imports them all; read
them as `django.conf.settings.HELIOS_*` like any setting."""

import environ

from pipeline.messages import DEFAULT_CURRENCY

env = environ.Env()

HELIOS_TRANSPORT = env.str("HELIOS_TRANSPORT", default="kafka")  # "kafka" | "local"
HELIOS_TOPIC_PARTITIONS = env.int("HELIOS_TOPIC_PARTITIONS", default=3)
HELIOS_TOPIC_PREFIX = env.str("HELIOS_TOPIC_PREFIX", default="")
HELIOS_CONSUMER_GROUP_PREFIX = env.str("HELIOS_CONSUMER_GROUP_PREFIX", default="helios")
HELIOS_LOG_LEVEL = env.str("HELIOS_LOG_LEVEL", default="INFO")
# Transform roles (bidder, auction) handle messages in batches of at most this many / this long.
HELIOS_BATCH_SIZE = env.int("HELIOS_BATCH_SIZE", default=500)
HELIOS_BATCH_TIME_S = env.float("HELIOS_BATCH_TIME_S", default=0.005)
# A batch (every role's, outcomes' too) goes as soon as no further message is waiting; the sizes and
# times are then upper bounds (pipeline/adaptive.py). false: a batch waits for its size or time.
HELIOS_ADAPTIVE_BATCHES = env.bool("HELIOS_ADAPTIVE_BATCHES", default=True)
# How long every producer (the handler's, the roles') lets messages gather before a request (librdkafka linger.ms).
HELIOS_KAFKA_LINGER_MS = env.float("HELIOS_KAFKA_LINGER_MS", default=1.0)
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
# Handler processes sharing the port (SO_REUSEPORT; intake/workers.py): one process is one core at
# most. REUSE_PORT lets separately started handlers share a port too.
HELIOS_HANDLER_WORKERS = env.int("HELIOS_HANDLER_WORKERS", default=1)
# Garbage collector thresholds of the role processes (pipeline/runner.py `tune_gc`); empty: CPython's.
HELIOS_GC_THRESHOLDS = [int(n) for n in env.list("HELIOS_GC_THRESHOLDS", default=["50000", "50", "1000"])]
HELIOS_HANDLER_REUSE_PORT = env.bool("HELIOS_HANDLER_REUSE_PORT", default=False)
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
# JSON {"EUR": 1.08}: floors in these currencies are converted to the bid currency (else: no bid).
HELIOS_CURRENCY_RATES = env.str("HELIOS_CURRENCY_RATES", default="")
# Dotted path of a zero-argument factory returning a ProfileLookup; empty = gRPC at HELIOS_PROFILES_TARGET
HELIOS_PROFILE_LOOKUP = env.str("HELIOS_PROFILE_LOOKUP", default="")

# Outcomes (SPEC §7)
HELIOS_OUTCOMES_BATCH_SIZE = env.int("HELIOS_OUTCOMES_BATCH_SIZE", default=1000)
HELIOS_OUTCOMES_BATCH_TIME_S = env.float("HELIOS_OUTCOMES_BATCH_TIME_S", default=0.01)
# Batches the outcomes role writes at once, each in its own transaction (SQLite: always 1).
HELIOS_OUTCOMES_WRITERS = env.int("HELIOS_OUTCOMES_WRITERS", default=2)
# Started by the outcomes role: dotted paths of zero-argument functions, each subscribing to the
# stored batches (outcomes.services.outcome_batch_listener_add) and returning its stop function.
HELIOS_OUTCOME_LISTENERS = ["dashboard.snapshots.start_publisher"]
HELIOS_PUBLIC_API = env.bool("HELIOS_PUBLIC_API", default=False)

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

# --- the ledger (SPEC §14): budgets, pacing, frequency caps in Redis (campaigns/ledger/) ---
# "redis" (HELIOS_LEDGER_REDIS_URL, default REDIS_URL) or "fake" (an in-process fakeredis: embedded mode).
HELIOS_LEDGER_STORE = env.str("HELIOS_LEDGER_STORE", default="redis")
HELIOS_LEDGER_REDIS_URL = env.str("HELIOS_LEDGER_REDIS_URL", default="")
HELIOS_LEDGER_CLUSTER = env.bool("HELIOS_LEDGER_CLUSTER", default=False)  # the URL names a Redis Cluster node
HELIOS_LEDGER_PREFIX = env.str("HELIOS_LEDGER_PREFIX", default="helios:ledger")
# A reservation with no billing or loss notice by then is released (its bill, if it comes, is "late").
HELIOS_LEDGER_NOTICE_WINDOW_S = env.float("HELIOS_LEDGER_NOTICE_WINDOW_S", default=900.0)
# The length of a day for daily budgets and pacing (86400: the UTC day; shorter for tests and demos).
HELIOS_LEDGER_DAY_S = env.float("HELIOS_LEDGER_DAY_S", default=86_400.0)
# A day begins this many seconds after the epoch's day boundaries: the advertiser's time zone
# (18000 with 86400-second days: days from 05:00 UTC, midnight in New York), or a test's start.
HELIOS_LEDGER_DAY_START_S = env.float("HELIOS_LEDGER_DAY_START_S", default=0.0)
# `even` pacing lets a campaign run ahead of the line by this fraction of its daily budget (at least one impression).
HELIOS_LEDGER_PACING_BURST = env.float("HELIOS_LEDGER_PACING_BURST", default=0.01)
# A settled or released bid id is remembered this long (a replayed notice changes nothing); keep it
# above HELIOS_NOTICE_TTL_S, after which notices are refused anyway.
HELIOS_LEDGER_MARKER_TTL_S = env.int("HELIOS_LEDGER_MARKER_TTL_S", default=172_800)
HELIOS_LEDGER_SWEEP_LIMIT = env.int("HELIOS_LEDGER_SWEEP_LIMIT", default=32)  # expired reservations released a call
HELIOS_LEDGER_TIMEOUT_S = env.float("HELIOS_LEDGER_TIMEOUT_S", default=0.5)  # socket timeout of a ledger call
# --- end ledger ---

# --- POST /openrtb2/bid (SPEC §12) ---
# The answer's deadline: tmax (this when the request has none) minus the network allowance, capped.
HELIOS_RTB_DEFAULT_TMAX_MS = env.int("HELIOS_RTB_DEFAULT_TMAX_MS", default=120)
HELIOS_RTB_NETWORK_ALLOWANCE_MS = env.int("HELIOS_RTB_NETWORK_ALLOWANCE_MS", default=20)
HELIOS_RTB_DEADLINE_CAP_MS = env.int("HELIOS_RTB_DEADLINE_CAP_MS", default=100)
# A profile lookup is waited for at most this long, and never past the deadline minus the time kept
# for Kafka's acknowledgement of the bid's events (HELIOS_RTB_ACK_RESERVE_MS).
HELIOS_RTB_PROFILE_DEADLINE_MS = env.int("HELIOS_RTB_PROFILE_DEADLINE_MS", default=10)
HELIOS_RTB_ACK_RESERVE_MS = env.int("HELIOS_RTB_ACK_RESERVE_MS", default=10)
HELIOS_RTB_SEAT = env.str("HELIOS_RTB_SEAT", default="helios")
# Where the exchange sends win/billing/loss notices (the handler's public URL), and the HMAC secret
# their tokens are signed with (default: DJANGO_SECRET_KEY). Tokens older than the TTL are refused.
HELIOS_NOTICE_BASE_URL = env.str("HELIOS_NOTICE_BASE_URL", default=f"http://127.0.0.1:{HELIOS_HANDLER_PORT}")
HELIOS_NOTICE_SECRET = env.str("HELIOS_NOTICE_SECRET", default="")
HELIOS_NOTICE_TTL_S = env.int("HELIOS_NOTICE_TTL_S", default=86_400)
# The post-auction loop (auction role): the factory of the ledger notices are applied to (SPEC §14);
# "" for none (notices then move no money).
HELIOS_NOTICE_LEDGER = env.str("HELIOS_NOTICE_LEDGER", default="campaigns.ledger.store.Ledger.from_settings")
# --- end /openrtb2/bid ---

# --- dashboard (SPEC §8): live snapshots pushed by the outcomes role ---
# At most one stats snapshot per this many seconds, whatever the bid rate (only when something changed;
# 0 = the outcomes role publishes none)...
HELIOS_DASHBOARD_SNAPSHOT_S = env.float("HELIOS_DASHBOARD_SNAPSHOT_S", default=0.5)
# ...plus a heartbeat snapshot this often while idle (0 = none).
HELIOS_DASHBOARD_HEARTBEAT_S = env.float("HELIOS_DASHBOARD_HEARTBEAT_S", default=5.0)
# Key prefix on the Redis channel layer, so that deployments (or test runs) can share one Redis.
HELIOS_CHANNEL_PREFIX = env.str("HELIOS_CHANNEL_PREFIX", default="asgi")

# Metrics/health side servers per role (SPEC §1)
HELIOS_METRICS_HOST = env.str("HELIOS_METRICS_HOST", default="127.0.0.1")
HELIOS_ROLE_PORTS = {
    "handler": env.int("HELIOS_HANDLER_METRICS_PORT", default=2112),
    "bidder": env.int("HELIOS_BIDDER_METRICS_PORT", default=8001),
    "auction": env.int("HELIOS_AUCTION_METRICS_PORT", default=9001),
    "outcomes": env.int("HELIOS_OUTCOMES_METRICS_PORT", default=9002),
    "profiles": env.int("HELIOS_PROFILES_METRICS_PORT", default=9003),
}
