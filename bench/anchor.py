"""The Go anchor of the intake benchmark (bench/anchors/): built with the machine's Go, run as a
process beside Helios's handler on the same broker and topic.

The Go toolchain: $GO, else `go` on the PATH, else /usr/local/go/bin/go. The binary goes to
bench/anchors/bin/anchor (not in git); `go build` is incremental, so a rebuild is cheap.
"""

import os
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

from common import REPO, kafka_bootstrap, log, wait_until

ANCHOR_DIR = REPO / "bench" / "anchors"
BINARY = ANCHOR_DIR / "bin" / "anchor"
BATCH_TIMEOUT = "2ms"
DESCRIPTION = f"Go net/http + segmentio/kafka-go (batch timeout {BATCH_TIMEOUT}, acks=all), bench/anchors/main.go"


def go_binary() -> str:
    found = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(found).exists():
        raise RuntimeError("no Go toolchain: install Go or set GO=/path/to/go")
    return found


def go_version() -> str:
    return subprocess.run([go_binary(), "version"], capture_output=True, text=True, check=True).stdout.strip()


def build() -> Path:
    """`go build` of bench/anchors (modules from the Go module proxy, pinned by go.sum)."""
    env = {**os.environ, "GOFLAGS": os.environ.get("GOFLAGS", "-mod=mod")}
    subprocess.run([go_binary(), "build", "-o", str(BINARY), "."], cwd=ANCHOR_DIR, env=env, check=True)
    return BINARY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Anchor:
    """The anchor's process: `start()` builds and starts it, `stop()` ends it (by its pid)."""

    def __init__(self, topic: str, workdir: Path) -> None:
        self.topic = topic
        self.log_path = workdir / "anchor.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> None:
        build()
        self.port = _free_port()
        args = [str(BINARY), "-addr", f"127.0.0.1:{self.port}", "-brokers", kafka_bootstrap(), "-topic", self.topic]
        args += ["-batch-timeout", BATCH_TIMEOUT]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        if not wait_until(lambda: _healthy(self.port), timeout_s):
            self.stop()
            raise RuntimeError(f"the Go anchor did not answer /healthz in {timeout_s} s: {self.log_path}")
        log(f"Go anchor on :{self.port} (pid {self.proc.pid})")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bid"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
