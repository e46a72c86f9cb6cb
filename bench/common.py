"""Shared plumbing of the benchmarks: the machine, the services, role processes, metrics.

Every benchmark runs on the local services (scripts/services.sh) but keeps out of everybody's way:
fresh topics under a random HELIOS_TOPIC_PREFIX (deleted afterwards, with their consumer groups),
its own PostgreSQL database (`helios_bench_roles`, created and migrated on first use) and Redis
database 12 (HELIOS_BENCH_DATABASE and HELIOS_BENCH_REDIS_DB move them, e.g. beside another
benchmark run). Roles are started as real processes (`manage.py runkafka <role>`, `runprofiles`) by the
harness the end-to-end tests use (pipeline/processes.py), with production-like settings (DEBUG off,
WARNING logs).

BENCH_QUICK=1 shortens every benchmark to a smoke run; its figures are not the published ones.
"""

import contextlib
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PYTHON = sys.executable
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false", "no")
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pipeline.processes import RoleProcesses  # noqa: E402 - needs sys.path first

# For A/B experiments only: a script that patches something, then runs manage.py's main().
MANAGE = os.environ.get("BENCH_MANAGE", "manage.py")
BENCH_DATABASE = os.environ.get("HELIOS_BENCH_DATABASE", "helios_bench_roles")
BENCH_REDIS_DB = int(os.environ.get("HELIOS_BENCH_REDIS_DB", "12"))
DEFAULT_DATABASE_URL = "postgresql://helios:helios@127.0.0.1:5432/helios"
OUTCOME_TABLES = ("outcomes_auctionoutcome", "outcomes_outcomedailyrollup")


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def load_average() -> str:
    """`uptime`'s three load averages (1, 5, 15 min)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------ the machine


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _kafka_version() -> str:
    pom = (REPO / "scripts" / "kafka" / "pom.xml").read_text()
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    return found.group(1) if found else "unknown"


def _postgres_version(url: str) -> str:
    try:
        import psycopg2

        conn = psycopg2.connect(url, connect_timeout=3)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW server_version")
                return str(cursor.fetchone()[0])
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - a description, not a requirement
        return f"unknown ({type(exc).__name__})"


def _redis_version(url: str) -> str:
    try:
        import redis

        return str(redis.Redis.from_url(url, socket_connect_timeout=2).info("server")["redis_version"])
    except Exception as exc:  # noqa: BLE001
        return f"unknown ({type(exc).__name__})"


def machine() -> dict[str, Any]:
    """What the figures were measured on; everything (services, roles, load generator) shares it."""
    import msgspec

    return {
        "nproc": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "msgspec": msgspec.__version__,
        "kafka": f"{_kafka_version()} (single node, KRaft, 127.0.0.1)",
        "postgresql": _postgres_version(admin_database_url()),
        "redis": _redis_version(redis_url()),
        "load_average_at_start": load_average(),
    }


# ------------------------------------------------------------------ services


def kafka_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def admin_database_url() -> str:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_DATABASE_URL
    return url


def bench_database_url(name: str = BENCH_DATABASE) -> str:
    parts = urlsplit(admin_database_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def redis_url() -> str:
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_REDIS_DB}", "", ""))


def _admin_sql(url: str, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        conn.close()


def prepare_bench_database(name: str = BENCH_DATABASE) -> str:
    """Creates (once) and migrates a benchmark database, empties the outcome tables; returns its URL."""
    url = bench_database_url(name)
    if not _admin_sql(admin_database_url(), "SELECT 1 FROM pg_database WHERE datname = %s", [name]):
        log(f"creating database {name}")
        _admin_sql(admin_database_url(), f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=role_env(DATABASE_URL=url),
        check=True,
    )
    truncate_outcomes(url)
    return url


def truncate_outcomes(url: str) -> None:
    _admin_sql(url, f"TRUNCATE {', '.join(OUTCOME_TABLES)}")


def count_outcomes(url: str) -> int:
    return int(_admin_sql(url, f"SELECT count(*) FROM {OUTCOME_TABLES[0]}")[0][0])


def role_env(**extra: str) -> dict[str, str]:
    """Environment of a role process: production-like (DEBUG off, WARNING logs), bench services."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="helios_site.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY") or "helios-bench-" + secrets.token_hex(16),
        HELIOS_LOG_LEVEL="WARNING",
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap(),
        REDIS_URL=redis_url(),
        HELIOS_CHANNEL_LAYER="redis",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


# ------------------------------------------------------------------ topics


def new_prefix() -> str:
    return f"bench_{secrets.token_hex(4)}_"


_django_ready = False


def django_setup() -> None:
    """Django in this (bench) process, on the bench services; once."""
    global _django_ready
    if not _django_ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap()
        os.environ["REDIS_URL"] = redis_url()
        import django

        django.setup()
        _django_ready = True


def _with_settings(prefix: str) -> None:
    """Django settings for this process pointing at `prefix`'s topics and consumer groups."""
    django_setup()
    from django.conf import settings

    settings.HELIOS_TOPIC_PREFIX = prefix
    settings.HELIOS_CONSUMER_GROUP_PREFIX = f"{prefix}helios"


def topic_names(prefix: str) -> list[str]:
    _with_settings(prefix)
    from pipeline import topics

    return topics.all_topics()


def create_topics(prefix: str, partitions: int | None = None) -> list[str]:
    _with_settings(prefix)
    from django.conf import settings

    from pipeline.admin_kafka import ensure_topics

    return list(ensure_topics(partitions=partitions or settings.HELIOS_TOPIC_PARTITIONS))


def delete_topics(prefix: str) -> None:
    """Deletes the prefix's topics and consumer groups (best effort: a benchmark already failed
    if this does not work, and a left-over topic only costs disk)."""
    _with_settings(prefix)
    from pipeline.admin_kafka import admin_client

    admin = admin_client()
    names = [n for n in admin.list_topics(timeout=10).topics if n.startswith(prefix)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=10).values():
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001
                log(f"could not delete a topic: {exc}")
    try:
        groups = [g.group_id for g in admin.list_consumer_groups().result().valid if g.group_id.startswith(prefix)]
        if groups:
            for future in admin.delete_consumer_groups(groups).values():
                future.result()
    except Exception as exc:  # noqa: BLE001
        log(f"could not delete the consumer groups: {exc}")


def topic_end_offsets(topic: str) -> int:
    """Messages ever written to `topic` (sum of its partitions' high watermarks)."""
    from confluent_kafka import TopicPartition

    consumer = _watermark_consumer()
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in metadata.partitions)


_consumer: Any = None


def _watermark_consumer() -> Any:
    global _consumer
    if _consumer is None:
        from confluent_kafka import Consumer

        _consumer = Consumer({"bootstrap.servers": kafka_bootstrap(), "group.id": "bench-watermarks"})
    return _consumer


def produce_all(topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Writes (key, value) messages to `topic` as fast as librdkafka takes them; returns the count."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap(), "linger.ms": 20, "batch.size": 1_000_000, "acks": "all"}
    )
    failed: list[str] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    count = 0
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(60)
    if left or failed:
        raise RuntimeError(f"pre-load failed: {left} undelivered, errors {failed[:3]}")
    return count


# ------------------------------------------------------------------ role processes


class Roles(RoleProcesses):
    """Role processes (pipeline/processes.py, shared with tests/e2e) with production-like settings
    on the bench services and `prefix`'s topics; `stop_all()` stops them by pid."""

    def __init__(self, prefix: str, workdir: Path, **env: str) -> None:
        self.prefix = prefix
        super().__init__(
            workdir,
            role_env(
                HELIOS_TOPIC_PREFIX=prefix,
                HELIOS_CONSUMER_GROUP_PREFIX=f"{prefix}helios",
                HELIOS_CHANNEL_PREFIX=f"{prefix}asgi",
                **env,
            ),
            manage=MANAGE,
        )

    def start(self, role: str, timeout_s: float = 90) -> subprocess.Popen[bytes]:
        return super().start(role, timeout_s)

    def extra_ports(self, role: str) -> list[int]:
        return [port for name, port in self.ports.items() if name.startswith(f"{role}#")]

    def sum_metric(self, ports: list[int], name: str) -> float:
        return sum(scrape(port).value(name) for port in ports)

    def pid(self, role: str) -> int:
        return self.procs[role].pid

    def pids(self) -> dict[str, list[int]]:
        return {role: [proc.pid] for role, proc in self.procs.items()}

    def metrics(self, role: str) -> "Metrics":
        return scrape(self.ports[role])


def seed_profiles(env: Mapping[str, str], synthetic: int) -> None:
    """Demo users (user-001..020) plus `synthetic` ones (synth-000001...) into the bench Redis DB."""
    subprocess.run(
        [PYTHON, "manage.py", "seed_profiles", "--flush", "--synthetic", str(synthetic)],
        cwd=REPO,
        env={**env, "TQDM_DISABLE": "1"},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


# ------------------------------------------------------------------ metrics


class Metrics(dict[tuple[str, tuple[tuple[str, str], ...]], float]):
    """One scrape: (sample name, sorted labels) -> value."""

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples called `name` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.items() if n == name and want <= set(ls))

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """A histogram's cumulative buckets [(le, count)], +Inf last."""
        found = [(float(dict(ls)["le"]), v) for (n, ls), v in self.items() if n == f"{name}_bucket"]
        return sorted(found)


def scrape(port: int) -> Metrics:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    metrics = Metrics()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            metrics[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return metrics


def bucket_delta(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The cumulative buckets of what was observed between two scrapes."""
    old = dict(before)
    return [(le, count - old.get(le, 0.0)) for le, count in after]


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q*n.

    Returns None without observations; the upper bound of the last finite bucket when the rank
    falls in +Inf (the true value is larger: reported as "> bound")."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a handler's HELIOS_HANDLER_WORKERS processes)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):  # it exited meanwhile
            todo.extend(int(p) for p in Path(f"/proc/{current}/task/{current}/children").read_text().split())
    return pids


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU time of a process (its threads included), in seconds; 0 once it is gone.
    With `reaped_children`, plus that of its children that exited and were waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (TCP, IPv4 or IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(fields[9])
    return inodes


def pid_listening_on(port: int) -> int | None:
    """The process holding a listening socket on `port` (needs to read other processes' fds)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not wanted:
            continue
        try:
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def broker_pid() -> int | None:
    """The Kafka broker: scripts/services.sh's pid file, else whoever listens on the bootstrap port
    (a worktree whose services run from another checkout has no pid file of its own)."""
    state = Path(os.environ.get("HELIOS_STATE_DIR", REPO / ".services"))
    pidfile = state / "kafka" / "broker.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().split()[0])
        if Path(f"/proc/{pid}").exists():
            return pid
    port = int(kafka_bootstrap().split(",")[0].rsplit(":", 1)[1])
    return pid_listening_on(port)


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def postgres_cpu_seconds() -> float:
    """CPU time of the whole PostgreSQL server: its live processes, plus the backends that already
    exited (short-lived connections), which the postmaster's reaped-children time holds."""
    pids = set(_postgres_pids())
    total = 0.0
    for pid in pids:
        fields = _stat_fields(pid)
        parent = int(fields[1]) if fields else 0
        total += cpu_seconds(pid, reaped_children=parent not in pids)  # the postmaster: its children too
    return total


def service_pids() -> dict[str, "list[int] | Callable[[], float]"]:
    """CpuMeter groups of the services: the Kafka broker, and the PostgreSQL server (every
    database's work, backends that come and go included)."""
    broker = broker_pid()
    return {"kafka": [broker] if broker else [], "postgres": postgres_cpu_seconds}


class CpuMeter:
    """CPU used by named groups of processes, and by the whole machine, between start() and stop().

    A group is a list of pids (one that exits in between is left out) or a function returning the
    CPU seconds the group used so far."""

    def __init__(self, groups: "Mapping[str, list[int] | Callable[[], float]]") -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float] | float] = {}
        self._machine = (0.0, 0.0)
        self._t = 0.0

    def _sample(self) -> dict[str, dict[int, float] | float]:
        return {
            name: group() if callable(group) else {pid: cpu_seconds(pid) for pid in group}
            for name, group in self.groups.items()
        }

    @staticmethod
    def _used(before: dict[int, float] | float, after: dict[int, float] | float) -> float:
        if isinstance(before, float) and isinstance(after, float):
            return max(after - before, 0.0)
        assert isinstance(before, dict) and isinstance(after, dict)
        return sum(max(after[p] - before[p], 0.0) for p in after if after[p] > 0)

    def start(self) -> None:
        self._start, self._machine, self._t = self._sample(), machine_busy(), time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used on average per group (1.0 = one core busy all the time), plus "machine"."""
        elapsed = time.monotonic() - self._t
        end = self._sample()
        busy, total = machine_busy()
        cores = {name: round(self._used(self._start[name], end[name]) / elapsed, 3) for name in self.groups}
        cores["machine"] = round((busy - self._machine[0]) / (total - self._machine[1]) * (os.cpu_count() or 1), 3)
        return cores


def cpu_ms_per_item(cores: Mapping[str, float], items_per_s: float) -> dict[str, float | None]:
    """CPU milliseconds each group spent per item (a bid), from its cores and the item rate."""
    return {name: (round(c * 1000 / items_per_s, 3) if items_per_s > 0 else None) for name, c in cores.items()}


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return False


# ------------------------------------------------------------------ profiling and results


def py_spy(pid: int, name: str, duration_s: int = 20) -> subprocess.Popen[bytes]:
    """Starts `py-spy record` on `pid` for `duration_s` into bench/results/<name>.svg."""
    binary = Path(PYTHON).with_name("py-spy")
    RESULTS.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(binary), "record", "-o", str(RESULTS / f"{name}.svg"), "--pid", str(pid), "--duration", str(duration_s)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"when": now_iso(), "quick": QUICK, **data, "load_average_at_end": load_average()}
    path.write_text(json.dumps(data, indent=2) + "\n")
    log(f"wrote {path.relative_to(REPO)}")
    return path
