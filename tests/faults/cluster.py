"""A 3-node Kafka cluster (KRaft, each node broker + controller) of a test's own, from the same
Maven jars scripts/services.sh resolves, on free ports and data dirs under the test's tmp dir.

It never touches the shared single node (9092/9093): its nodes are separate processes with their
own ports and storage, killed by pid.
"""

import base64
import logging
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from conftest import REPO, free_port

KAFKA_TEMPLATES = REPO / "scripts" / "kafka"
READY_TIMEOUT_S = 180.0


def kafka_libs() -> Path:
    """The broker classpath services.sh resolved (it resolves it on `up`; the shared node runs)."""
    pom = (KAFKA_TEMPLATES / "pom.xml").read_text()
    version = pom.split("<kafka.version>", 1)[1].split("</kafka.version>", 1)[0]
    cache = Path(os.environ.get("HELIOS_CACHE_DIR") or Path.home() / ".cache" / "helios")
    libs = cache / f"kafka-{version}" / "libs"
    if not (libs.is_dir() and any(libs.glob("kafka_2.13-*.jar"))):
        pytest.fail(f"no Kafka jars in {libs}: run `scripts/services.sh up kafka` once to resolve them")
    return libs


def _cluster_id() -> str:
    while (text := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return text


NODE_CONFIG = """\
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
"""


class KafkaCluster:
    """Three KRaft nodes; `start()` formats and starts them and waits until all three are brokers."""

    def __init__(self, workdir: Path, nodes: int = 3, heap: str = "512m") -> None:
        self.workdir = workdir
        self.libs = kafka_libs()
        self.heap = heap
        self.ids = list(range(1, nodes + 1))
        self.ports = {n: free_port() for n in self.ids}
        self.controllers = {n: free_port() for n in self.ids}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.cluster_id = _cluster_id()

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.ports[n]}" for n in self.ids)

    def config(self, node: int) -> Path:
        return self.workdir / f"node{node}.properties"

    def log(self, node: int) -> Path:
        return self.workdir / f"node{node}.log"

    def _java(self, node: int, *args: str, heap: str) -> list[str]:
        return [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:ParallelGCThreads=1",
            "-XX:ConcGCThreads=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_TEMPLATES / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.workdir / f'node{node}-logs'}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def _write_configs(self) -> None:
        voters = ",".join(f"{n}@127.0.0.1:{self.controllers[n]}" for n in self.ids)
        for n in self.ids:
            text = NODE_CONFIG.format(
                node=n,
                voters=voters,
                port=self.ports[n],
                controller=self.controllers[n],
                data=self.workdir / f"node{n}-data",
            )
            self.config(n).write_text(text)

    def start(self) -> "KafkaCluster":
        self._write_configs()
        for n in self.ids:
            with open(self.log(n), "ab") as out:
                subprocess.run(
                    self._java(
                        n,
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        self.cluster_id,
                        "-c",
                        str(self.config(n)),
                        heap="256m",
                    ),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=120,
                )
        for n in self.ids:
            self.start_node(n)
        self.wait_brokers(len(self.ids))
        return self

    def start_node(self, node: int) -> None:
        out = open(self.log(node), "ab")  # noqa: SIM115 - handed to the child
        self.procs[node] = subprocess.Popen(
            self._java(node, "kafka.Kafka", str(self.config(node)), heap=self.heap),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def admin(self) -> AdminClient:
        quiet = logging.getLogger("tests.kafka_cluster")
        quiet.propagate = False
        return AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "reconnect.backoff.max.ms": 500,
                "socket.connection.setup.timeout.ms": 1000,
            },
            logger=quiet,
        )

    def wait_brokers(self, count: int, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until `count` brokers are in the cluster metadata."""
        admin = self.admin()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = self.log(node).read_text(errors="replace")[-3000:]
                    pytest.fail(f"kafka node {node} exited with {proc.returncode}:\n{tail}")
            try:
                if len(admin.list_topics(timeout=2).brokers) >= count:
                    return
            except KafkaException:
                pass
            time.sleep(0.5)
        pytest.fail(f"the Kafka cluster did not list {count} brokers in {timeout_s} s (logs in {self.workdir})")

    def kill(self, node: int) -> None:
        """kill -9: no controlled shutdown, no flush."""
        proc = self.procs.pop(node)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def leader_of(self, topic: str, partition: int = 0) -> int:
        metadata = self.admin().list_topics(topic, timeout=10)
        return int(metadata.topics[topic].partitions[partition].leader)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()
