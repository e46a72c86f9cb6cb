"""Role processes started as a user starts them, for the end-to-end tests and the benchmarks.

Each role is its own OS process (`manage.py runkafka <role>`, `runprofiles`, daphne for the web
role) on ports of its own, so that several platforms can run side by side; each logs to
`<workdir>/<role>.log`. Standard library only: the benchmarks use it without Django.
"""

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# role -> the environment variable of its metrics side server's port (the web role: its own port)
ROLE_PORT_ENV = {
    "web": "HELIOS_WEB_PORT",
    "handler": "HELIOS_HANDLER_METRICS_PORT",
    "bidder": "HELIOS_BIDDER_METRICS_PORT",
    "auction": "HELIOS_AUCTION_METRICS_PORT",
    "outcomes": "HELIOS_OUTCOMES_METRICS_PORT",
    "profiles": "HELIOS_PROFILES_METRICS_PORT",
}
# Start order: what a role needs is up before it.
PIPELINE = ("profiles", "outcomes", "auction", "bidder", "handler", "web")


def free_port(count: int = 1) -> int:
    """A port free now, with the `count - 1` after it free too (a handler's workers take the metrics
    ports after its own)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(_bindable(port + i) for i in range(1, count)):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_get(port: int, path: str, timeout_s: float = 2) -> tuple[int, str]:
    """(status, body) of a GET on 127.0.0.1; raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def http_status(port: int, path: str) -> int:
    """The status of a GET on 127.0.0.1, 0 when nothing answers."""
    try:
        return http_get(port, path)[0]
    except OSError:
        return 0


class RoleProcesses:
    """Role processes on fresh ports. `env` is the environment every role gets, with the ports set
    over it; `manage` the script run as manage.py (the benchmarks' A/B experiments patch it)."""

    def __init__(self, workdir: Path, env: Mapping[str, str], *, manage: str = "manage.py") -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.manage = manage
        self.ports = {role: free_port(4 if role == "handler" else 1) for role in ROLE_PORT_ENV}
        self.handler_port = free_port()
        self.handler_ports: dict[str, int] = {"handler": self.handler_port}
        self.grpc_port = free_port()
        self.env = {
            **env,
            "HELIOS_HANDLER_PORT": str(self.handler_port),
            "HELIOS_PROFILES_PORT": str(self.grpc_port),
            "HELIOS_PROFILES_TARGET": f"127.0.0.1:{self.grpc_port}",
            **{ROLE_PORT_ENV[role]: str(port) for role, port in self.ports.items()},
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        out = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        # The commands are this repository's own (manage.py, daphne), not input from outside.
        proc = subprocess.Popen(args, cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        self.procs[name] = proc
        return proc

    def _command(self, role: str) -> list[str]:
        if role == "web":
            daphne = str(Path(sys.executable).with_name("daphne"))
            return [daphne, "-b", "127.0.0.1", "-p", str(self.ports["web"]), "helios_site.asgi:application"]
        args = ["runprofiles"] if role == "profiles" else ["runkafka", role]
        return [sys.executable, self.manage, *args]

    def start(self, role: str, timeout_s: float = 60) -> subprocess.Popen[bytes]:
        """Starts a role and waits until it is healthy (the handler: until it also reached Kafka)."""
        proc = self._spawn(role, self._command(role), self.env)
        self.wait_http(self.ports[role], "/healthz", timeout_s, role, proc)
        if role == "handler":
            self.wait_http(self.handler_port, "/healthz", timeout_s, "handler to reach Kafka", proc)
        return proc

    def start_all(self, *, web: bool = False) -> None:
        for role in PIPELINE:
            if role != "web" or web:
                self.start(role)

    def start_extra(self, role: str, index: int, timeout_s: float = 90) -> subprocess.Popen[bytes]:
        """Another process of a role on its own metrics port: a consumer role joins the same
        consumer group; another handler listens on a port of its own (`handler_ports[name]`)."""
        name, port = f"{role}#{index}", free_port()
        self.ports[name] = port
        env = {**self.env, ROLE_PORT_ENV[role]: str(port)}
        if role == "handler":
            self.handler_ports[name] = free_port()
            env["HELIOS_HANDLER_PORT"] = str(self.handler_ports[name])
        proc = self._spawn(name, self._command(role), env)
        self.wait_http(port, "/healthz", timeout_s, name, proc)
        if role == "handler":
            self.wait_http(self.handler_ports[name], "/healthz", timeout_s, f"{name} to reach Kafka", proc)
        return proc

    def wait_http(self, port: int, path: str, timeout_s: float, what: str, proc: subprocess.Popen[bytes]) -> None:
        """Waits for a 200 from `path`; fails at once if the process exits meanwhile."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; see {self.workdir}")
            if http_status(port, path) == 200:
                return
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what} to be healthy; see {self.workdir}")

    def kill(self, role: str) -> None:
        """kill -9: no chance to finish, commit or flush."""
        proc = self.procs.pop(role)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self, role: str, timeout_s: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s`; the exit code, None if it had to be killed."""
        proc = self.procs.pop(role, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None

    def stop_all(self) -> dict[str, int | None]:
        """Stops every role, the last started first (the web role and the handler first); returns
        their exit codes."""
        order = list(reversed(PIPELINE))
        names = sorted(self.procs, key=lambda name: order.index(name.split("#")[0]))
        return {name: self.stop(name) for name in names}

    def log(self, role: str) -> str:
        return (self.workdir / f"{role}.log").read_text(errors="replace")
