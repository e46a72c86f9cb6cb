"""The deployment files (Dockerfile, docker-compose.yml, deploy/) checked against the code.

Pure file checks: nothing is built or started. Ports come from `helios_site/settings.py` and metric
names from SPEC §9, so a port or a metric renamed in the code fails here instead of in a cluster.
`docker-compose` (Debian's package) must be installed: its absence fails the test, never skips it.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"

ROLES = ("web", "handler", "profiles", "bidder", "auction", "outcomes")
CONSUMER_ROLES = ("bidder", "auction", "outcomes")
WEB_PORT = 8000  # SPEC §1: daphne -b 0.0.0.0 -p 8000 helios_site.asgi:application
NON_ROOT_UID = 10001

# SPEC §9 (and the lead's consumer lag gauge): the only names the Grafana dashboard may query.
SPEC_METRICS = frozenset(
    {
        "bid_requests_total",
        "request_processing_duration_seconds",
        "kafka_publish_errors_total",
        "active_requests",
        "bid_requests_processed_total",
        "bid_response_generation_duration_seconds",
        "user_profile_enrichment_total",
        "user_profile_rpc_duration_seconds",
        "bid_price_distribution_usd",
        "circuit_breaker_state",
        "helios_auctions_total",
        "helios_outcomes_stored_total",
        "helios_outcomes_duplicates_total",
        "helios_pipeline_latency_seconds",
        "helios_dlq_messages_total",
        "helios_consumer_lag",
        "helios_profile_lookups_total",
        "helios_profile_lookup_duration_seconds",
    }
)
# What the dashboard must show (the brief's panels).
DASHBOARD_REQUIRED = frozenset(
    {
        "bid_requests_total",
        "request_processing_duration_seconds",
        "helios_pipeline_latency_seconds",
        "helios_auctions_total",
        "helios_consumer_lag",
        "helios_dlq_messages_total",
        "circuit_breaker_state",
        "helios_outcomes_stored_total",
    }
)


def side_port(role: str) -> int:
    """The role's /metrics port: its side server (/metrics /healthz /readyz), or the web role's
    metrics-only port (its probes are answered by Django on 8000: `probe_port`)."""
    return settings.HELIOS_WEB_METRICS_PORT if role == "web" else settings.HELIOS_ROLE_PORTS[role]


def probe_port(role: str) -> int:
    """Where a role answers /healthz and /readyz."""
    return WEB_PORT if role == "web" else side_port(role)


def listening_ports(role: str) -> set[int]:
    """Every port a role listens on (SPEC §1), from the settings' defaults."""
    ports = {side_port(role), probe_port(role)}
    if role == "handler":
        ports.add(settings.HELIOS_HANDLER_PORT)
    if role == "profiles":
        ports.add(settings.HELIOS_PROFILES_PORT)
    return ports


def role_args(role: str) -> list[str]:
    """The command (after the image's entry point) that starts a role."""
    if role == "profiles":
        return ["manage.py", "runprofiles"]
    return ["manage.py", "runkafka", role]


def test_port_table_matches_the_spec() -> None:
    # The table the other checks use, against SPEC §1's numbers: a settings default changed by
    # accident shows here first.
    assert {role: sorted(listening_ports(role)) for role in ROLES} == {
        "web": [8000, 9004],
        "handler": [2112, 8080],
        "profiles": [9003, 50051],
        "bidder": [8001],
        "auction": [9001],
        "outcomes": [9002],
    }


# ---------------------------------------------------------------------------------- Dockerfile


def dockerfile_stages() -> list[tuple[str, list[str]]]:
    """[(FROM line, instructions of that stage)], continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.MULTILINE))
    stages = dockerfile_stages()
    assert len(stages) >= 2, "builder + runtime"
    builder, runtime = stages[0], stages[-1]
    assert re.search(r"\bAS builder\b", builder[0], re.IGNORECASE)
    assert any("pip wheel" in line and "--require-hashes -r requirements-runtime.lock" in line for line in builder[1])
    base = runtime[0].split()[1]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
    assert base.startswith("python:3.11-slim"), base
    assert any(line.startswith("COPY --from=builder") for line in runtime[1])
    users = [line.split()[1] for line in runtime[1] if line.upper().startswith("USER ")]
    assert users, "the runtime stage must switch to a non-root USER"
    assert users[-1].split(":")[0] == str(NON_ROOT_UID)
    assert any("collectstatic" in line for line in runtime[1])


def test_dockerfile_environment_suits_containers() -> None:
    env: dict[str, str] = {}
    for line in dockerfile_stages()[-1][1]:
        if line.upper().startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    for host in ("HELIOS_METRICS_HOST", "HELIOS_HANDLER_HOST", "HELIOS_PROFILES_HOST"):
        assert env.get(host) == "0.0.0.0", f"{host} must bind all interfaces in a container"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_entrypoint_is_shipped_and_executable() -> None:
    text = (REPO / "Dockerfile").read_text()
    entry = re.search(r"^ENTRYPOINT \[\"([^\"]+)\"", text, re.MULTILINE)
    assert entry, "ENTRYPOINT in exec form"
    script = REPO / entry.group(1).removeprefix("/app/")
    assert script.is_file()
    assert script.stat().st_mode & stat.S_IXUSR, f"{script} must be executable"
    ignore = (REPO / ".dockerignore").read_text().split()
    assert f"!{script.relative_to(REPO)}" in ignore, "deploy/ is ignored except the entry point"
    for excluded in (".git", ".venv", ".services", "test-artifacts", "**/__pycache__"):
        assert excluded in ignore


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["manage.py", "runkafka", "bidder"], "python manage.py runkafka bidder"),
        (["bidder"], "python manage.py runkafka bidder"),
        (["handler"], "python manage.py runkafka handler"),
        (["profiles", "--workers", "4"], "python manage.py runprofiles --workers 4"),
        (["web"], f"daphne -b 0.0.0.0 -p {WEB_PORT} -e tcp:port=9004:interface=0.0.0.0 helios_site.asgi:application"),
        (["python", "-V"], "python -V"),
    ],
)
def test_entrypoint_dispatch(tmp_path: Path, argv: list[str], expected: str) -> None:
    # Stand-ins for python and daphne that print how they were called.
    for name in ("python", "daphne"):
        stub = tmp_path / name
        stub.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run(
        ["sh", str(DEPLOY / "entrypoint.sh"), *argv], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected


# ---------------------------------------------------------------------------------- docker-compose


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def run_docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: apt-get install -y docker-compose (Debian's 1.29)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIOS_", "DJANGO_", "POSTGRES_"))}
    return subprocess.run([binary, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("profile", [[], ["--profile", "monitoring"]], ids=["default", "monitoring"])
def test_docker_compose_config_is_valid(profile: list[str]) -> None:
    result = run_docker_compose(*profile, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_docker_compose_lists_every_service() -> None:
    result = run_docker_compose("--profile", "monitoring", "config", "--services")
    assert result.returncode == 0, result.stderr
    expected = {"kafka", "postgres", "redis", "topics", "migrate", "seed", *ROLES, "prometheus", "grafana"}
    assert set(result.stdout.split()) == expected


def test_compose_file_has_no_v2_only_or_v1_only_keys() -> None:
    # Kept valid for both Debian's docker-compose 1.29 and Compose v2 (deploy/README.md).
    data = compose()
    assert "version" not in data, "obsolete in v2; without it v1.29 reads the Compose Specification too"
    assert "name" not in data, "docker-compose 1.29 rejects a top-level name"
    for name, service in data["services"].items():
        assert "develop" not in service, name
        assert "start_interval" not in service.get("healthcheck", {}), name


def test_role_services_are_hardened() -> None:
    services = compose()["services"]
    helios = {name: services[name] for name in (*ROLES, "topics", "migrate", "seed")}
    images = {(s["image"], json.dumps(s["build"], sort_keys=True)) for s in helios.values()}
    assert len(images) == 1, f"one image and build for every Helios service, got {images}"
    for role in ROLES:
        service = services[role]
        assert service.get("restart") == "unless-stopped", role
        user = str(service.get("user", ""))
        assert user.split(":")[0] == str(NON_ROOT_UID), f"{role} must run as {NON_ROOT_UID}, not {user!r}"
        assert service.get("healthcheck", {}).get("test"), f"{role} needs a healthcheck"
        assert "container_name" not in service, f"{role}: a container_name prevents --scale"
    for job in ("topics", "migrate", "seed"):
        assert str(services[job]["user"]).split(":")[0] == str(NON_ROOT_UID)
        assert services[job].get("restart") == "no"


def test_role_commands() -> None:
    services = compose()["services"]
    for role in ROLES:
        if role == "web":
            command = services[role]["command"]
            assert command[0] == "daphne"
            assert command[command.index("-p") + 1] == str(WEB_PORT)
            assert command[command.index("-b") + 1] == "0.0.0.0"
            assert command[command.index("-e") + 1] == f"tcp:port={side_port(role)}:interface=0.0.0.0"
            assert command[-1] == "helios_site.asgi:application"
        else:
            assert services[role]["command"] == role_args(role), role
    assert services["topics"]["command"][:2] == ["manage.py", "kafka_topics"]
    assert services["migrate"]["command"][:2] == ["manage.py", "migrate"]
    assert services["seed"]["command"][:2] == ["manage.py", "seed_profiles"]


HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/\w+)")


def test_healthchecks_ask_each_roles_own_port() -> None:
    services = compose()["services"]
    expected = {role: probe_port(role) for role in ROLES}
    # The handler is checked on its intake port: its /healthz there fails while Kafka is unreachable.
    expected["handler"] = settings.HELIOS_HANDLER_PORT
    for role in ROLES:
        command = " ".join(services[role]["healthcheck"]["test"])
        match = HEALTH_URL.search(command)
        assert match, f"{role}: healthcheck must fetch http://127.0.0.1:<port>/healthz or /readyz"
        port, path = int(match.group(1)), match.group(2)
        assert port == expected[role], f"{role}: healthcheck on {port}, the role listens on {expected[role]}"
        assert path in ("/healthz", "/readyz"), role
        if role != "handler":
            assert path == "/readyz", f"{role}: compose 'healthy' gates dependents, so ask readiness"


def test_published_ports_are_real_ports_and_scaled_roles_publish_none() -> None:
    services = compose()["services"]
    for role in ROLES:
        for mapping in services[role].get("ports", []):
            container_port = int(str(mapping).rsplit(":", 1)[-1].split("/")[0])
            assert container_port in listening_ports(role), f"{role} publishes {container_port}"
    for role in ("bidder", "auction"):
        assert not services[role].get("ports"), f"{role} must scale: no fixed host port"
    published = {int(str(m).rsplit(":", 1)[-1]) for m in services["web"]["ports"]}
    assert published == {WEB_PORT}, "the web role's metrics port stays off the public side"


def test_dependencies_wait_for_health_and_jobs() -> None:
    services = compose()["services"]
    backing, jobs = {"kafka", "postgres", "redis"}, {"topics", "migrate", "seed"}
    for name in (*ROLES, *jobs):
        depends = services[name].get("depends_on")
        assert isinstance(depends, dict) and depends, f"{name}: depends_on with conditions"
        for target, spec in depends.items():
            if target in backing:
                assert spec == {"condition": "service_healthy"}, f"{name} -> {target}"
            elif target in jobs:
                assert spec == {"condition": "service_completed_successfully"}, f"{name} -> {target}"
            else:
                assert target in ROLES and spec["condition"] == "service_healthy", f"{name} -> {target}"
        for target in depends:
            assert "healthcheck" in services[target] or target in jobs, f"{name} waits on {target} health"
    needs = {
        "web": {"migrate"},
        "handler": {"topics"},
        "profiles": {"seed"},
        "bidder": {"topics", "profiles"},
        "auction": {"topics"},
        "outcomes": {"topics", "migrate"},
    }
    for role, wanted in needs.items():
        assert wanted <= set(services[role]["depends_on"]), role


def test_helios_environment() -> None:
    data = compose()
    env = data["x-helios-env"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["HELIOS_CHANNEL_LAYER"] == "redis"
    assert env["HELIOS_PROFILES_TARGET"] == f"profiles:{settings.HELIOS_PROFILES_PORT}"
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
    for host in ("HELIOS_METRICS_HOST", "HELIOS_HANDLER_HOST", "HELIOS_PROFILES_HOST"):
        assert env[host] == "0.0.0.0"
    # No committed secret key: passed through from the user's environment only.
    assert env["DJANGO_SECRET_KEY"] is None
    for name, service in data["services"].items():
        service_env = service.get("environment") or {}
        assert not any(key.endswith("_PORT") for key in service_env if key.startswith("HELIOS_")), (
            f"{name} moves a port away from the table the healthchecks use"
        )
        if name in (*ROLES, "topics", "migrate", "seed"):
            assert service_env == env, f"{name} uses x-helios-env"


def test_kafka_is_single_node_kraft() -> None:
    kafka = compose()["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key


@pytest.mark.parametrize("role", ["bidder", "profiles"])
def test_healthcheck_command_follows_readiness(role: str) -> None:
    # Runs the compose healthcheck's own command against a real side server on a free port:
    # 200 -> exit 0, 503 (a dependency down) -> non-zero, so compose marks the role unhealthy.
    from pipeline.sideserver import SideServer

    test = compose()["services"][role]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    state = {"up": True}
    server = SideServer("127.0.0.1", 0, {"dependency": lambda: state["up"]}).start()
    try:
        argv = [sys.executable, *(arg.replace(f":{side_port(role)}/", f":{server.port}/") for arg in test[2:])]
        assert subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
        state["up"] = False
        assert subprocess.run(argv, capture_output=True, timeout=30).returncode != 0
    finally:
        server.stop()


# ---------------------------------------------------------------------------------- Prometheus


def test_prometheus_scrapes_every_role_on_its_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    services = compose()["services"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(ROLES)
    for role, job in jobs.items():
        targets: list[tuple[str, int]] = []
        for sd in job.get("dns_sd_configs", []):
            targets += [(name, sd["port"]) for name in sd["names"]]
        for static in job.get("static_configs", []):
            targets += [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in static["targets"]]
        assert targets == [(role, side_port(role))], f"{role}: {targets}"
        assert role in services, "targets are compose service names"
        assert job.get("metrics_path", "/metrics") == "/metrics"


# ---------------------------------------------------------------------------------- Grafana

PROMQL_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
PROMQL_NOT_METRICS = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
PROMQL_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"})
PROMQL_KEYWORDS |= {"unless", "offset", "inf", "nan"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def promql_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, labels."""
    expr = PROMQL_STRINGS.sub('""', expr.replace("$__rate_interval", "1m").replace("$__interval", "1m"))
    expr = PROMQL_NOT_METRICS.sub(" ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def spec_metric(name: str) -> str:
    """The SPEC name of an exposed series (a histogram's _bucket/_sum/_count belong to it)."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in SPEC_METRICS:
            return name.removesuffix(suffix)
    return name


def test_promql_metric_extraction() -> None:
    assert promql_metrics(
        'histogram_quantile(0.99, sum by (le) (rate(request_processing_duration_seconds_bucket{endpoint="/bid"}[$__rate_interval])))'
    ) == {"request_processing_duration_seconds_bucket"}
    assert promql_metrics('sum(rate(a_total{result="won"}[5m])) / sum without (x) (b) > bool 0.5') == {"a_total", "b"}
    assert promql_metrics("max by (service) (circuit_breaker_state) offset 5m") == {"circuit_breaker_state"}


def dashboard_panels() -> Iterator[dict[str, Any]]:
    dashboard = json.loads((DEPLOY / "grafana" / "helios-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_dashboard_queries_only_spec_metrics() -> None:
    used: set[str] = set()
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            names = {spec_metric(name) for name in promql_metrics(target["expr"])}
            unknown = names - SPEC_METRICS
            assert not unknown, f"panel {panel['title']!r} queries {sorted(unknown)}, not in SPEC §9"
            assert names, f"panel {panel['title']!r}: no metric in {target['expr']!r}"
            used |= names
    missing = DASHBOARD_REQUIRED - used
    assert not missing, f"the dashboard lacks panels for {sorted(missing)}"


def test_dashboard_is_importable_and_provisioned() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "helios-dashboard.json").read_text())
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard_panels():
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]

    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "helios.yml").read_text())["providers"][0]
    grafana = compose()["services"]["grafana"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"]}
    mounted = Path(mounts["./deploy/grafana/helios-dashboard.json"])
    assert mounted.parent == Path(provider["options"]["path"]), "the provider reads the mounted dashboard"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert compose()["services"]["prometheus"]["volumes"][0].startswith("./deploy/prometheus/prometheus.yml:")


# ---------------------------------------------------------------------------------- Kubernetes


def k8s_from_files() -> list[dict[str, Any]]:
    """The documents of the files kustomization.yaml lists, with its namespace applied."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / resource).read_text()):
            if doc:
                docs.append(doc)
    return docs


def k8s_from_kubectl() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the files themselves are checked by the 'files' variant")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(params=["files", "kubectl-kustomize"])
def k8s_docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return k8s_from_files() if request.param == "files" else k8s_from_kubectl()


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def resolve_port(port: int | str, container: dict[str, Any]) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"{container['name']}: no container port named {port!r}"
    return int(named[port])


def assert_hardened_pod(name: str, pod: dict[str, Any]) -> None:
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True, name
    assert security["runAsUser"] == NON_ROOT_UID, name
    assert pod.get("enableServiceLinks") is False, f"{name}: service links would inject HELIOS_*_PORT=tcp://..."
    for container in pod["containers"]:
        csec = container["securityContext"]
        assert csec["readOnlyRootFilesystem"] is True, name
        assert csec["allowPrivilegeEscalation"] is False, name
        assert csec["capabilities"]["drop"] == ["ALL"], name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
        assert {ref.get("configMapRef", ref.get("secretRef", {})).get("name") for ref in container["envFrom"]} == {
            "helios-config",
            "helios-secrets",
        }


def test_k8s_deployments_probe_real_ports(k8s_docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s_docs, "Deployment")
    assert set(deployments) == set(ROLES)
    for role, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert_hardened_pod(role, pod)
        (container,) = pod["containers"]
        ports = {resolve_port(p["containerPort"], container) for p in container["ports"]}
        assert ports == listening_ports(role), f"{role} declares {ports}"
        assert container["args"] == (["web"] if role == "web" else role_args(role))
        probes = {
            kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe") if kind in container
        }
        assert {"livenessProbe", "readinessProbe"} <= set(probes), role
        for kind, probe in probes.items():
            port = resolve_port(probe["httpGet"]["port"], container)
            assert port == probe_port(role), f"{role} {kind} on {port}, the probes are answered on {probe_port(role)}"
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz", role
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz", role
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == side_port(role)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_services_target_real_ports(k8s_docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(k8s_docs, "Deployment")
    services = by_kind(k8s_docs, "Service")
    assert set(services) == set(ROLES)
    for role, service in services.items():
        deployment = deployments[role]
        selector = service["spec"]["selector"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items(), role
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        targets = {}
        for port in service["spec"]["ports"]:
            target = resolve_port(port.get("targetPort", port["port"]), container)
            assert target in listening_ports(role), f"service {role} targets {target}"
            targets[port["name"]] = target
        if role != "web":
            assert targets["metrics"] == side_port(role), f"service {role}: the metrics port is named 'metrics'"
    assert {p["port"] for p in services["handler"]["spec"]["ports"]} >= {settings.HELIOS_HANDLER_PORT}
    assert {p["port"] for p in services["web"]["spec"]["ports"]} == {WEB_PORT}
    grpc = [p for p in services["profiles"]["spec"]["ports"] if p["port"] == settings.HELIOS_PROFILES_PORT]
    assert grpc and grpc[0].get("appProtocol") == "grpc"


def test_k8s_jobs_migrate_and_create_topics(k8s_docs: list[dict[str, Any]]) -> None:
    jobs = by_kind(k8s_docs, "Job")
    commands = {name: job["spec"]["template"]["spec"]["containers"][0]["args"][:2] for name, job in jobs.items()}
    assert sorted(commands.values()) == [["manage.py", "kafka_topics"], ["manage.py", "migrate"]]
    for name, job in jobs.items():
        assert_hardened_pod(name, job["spec"]["template"]["spec"])


def test_k8s_config_and_secret_split(k8s_docs: list[dict[str, Any]]) -> None:
    config = by_kind(k8s_docs, "ConfigMap")["helios-config"]["data"]
    secret = by_kind(k8s_docs, "Secret")["helios-secrets"]["stringData"]
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL"} <= set(secret)
    assert not {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(config), "secrets stay out of the ConfigMap"
    assert config["DJANGO_DEBUG"] == "false"
    assert config["HELIOS_PROFILES_TARGET"] == f"profiles:{settings.HELIOS_PROFILES_PORT}"
    for host in ("HELIOS_METRICS_HOST", "HELIOS_HANDLER_HOST", "HELIOS_PROFILES_HOST"):
        assert config[host] == "0.0.0.0"
    assert not [key for key in config if key.startswith("HELIOS_") and key.endswith("_PORT")]
    # The template's key is the development key, which production settings refuse (SPEC §10): a
    # forgotten placeholder stops the pods instead of running with a published key.
    assert secret["DJANGO_SECRET_KEY"] == settings.DEV_SECRET_KEY
    assert "REPLACE_ME" in secret["DATABASE_URL"]


def test_k8s_images_are_one_image(k8s_docs: list[dict[str, Any]]) -> None:
    images = {
        container["image"]
        for doc in k8s_docs
        if doc["kind"] in ("Deployment", "Job")
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1, images
    assert all(doc["metadata"].get("namespace", "helios") == "helios" for doc in k8s_docs if doc["kind"] != "Namespace")


def test_the_readmes_commands_run_manage_py_in_a_development_environment() -> None:
    """Settings refuse to start without DJANGO_DEBUG=true or a real secret key: a README shell block
    that runs manage.py itself sets DJANGO_DEBUG first (the make targets set it)."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    assert blocks
    for block in blocks:
        lines = block.splitlines()
        for n, line in enumerate(lines):
            if re.match(r"\s*(\S*python\S*|\S*daphne)\s", line) and "manage.py" in line:
                assert any("DJANGO_DEBUG=true" in earlier for earlier in lines[: n + 1]), line
