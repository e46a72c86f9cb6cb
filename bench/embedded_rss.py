"""Embedded mode's memory under steady load: RSS after 1 minute vs after N minutes at R bids/s.

    .venv/bin/python bench/embedded_rss.py --rate 200 --minutes 10

Starts `manage.py runembedded` on a fresh SQLite file and free ports, drives it with
`manage.py simulate`, samples the process's RSS every 10 s, prints the table and writes
bench/results/embedded_rss.json. Target (issue "Embedded mode"): RSS(10 min) <= 1.2 x RSS(1 min).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

from pipeline.processes import free_port  # noqa: E402 - needs sys.path first


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="helios-rss-"))
    web, handler, grpc = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{workdir / 'helios.sqlite3'}",
        HELIOS_PUBLIC_API="true",
        HELIOS_WEB_PORT=str(web),
        HELIOS_HANDLER_PORT=str(handler),
        HELIOS_PROFILES_PORT=str(grpc),
        HELIOS_LOG_LEVEL="WARNING",
    )
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
    log = open(workdir / "embedded.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [PYTHON, "manage.py", "runembedded"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    samples: list[tuple[float, float]] = []
    try:
        wait_http(f"http://127.0.0.1:{web}/healthz")
        duration_s = args.minutes * 60
        load = subprocess.Popen(
            [PYTHON, "manage.py", "simulate", "--rate", str(args.rate), "--duration", str(duration_s), "--json",
             "--url", f"http://127.0.0.1:{handler}/bid"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        started = time.monotonic()
        while load.poll() is None:
            time.sleep(10)
            samples.append((round(time.monotonic() - started), rss_mib(server.pid)))
            print(f"{samples[-1][0]:>5} s  RSS {samples[-1][1]:7.1f} MiB", flush=True)
        summary = json.loads(load.stdout.read().strip().splitlines()[-1]) if load.stdout else {}
    finally:
        server.terminate()
        server.wait(60)
    at_1min = next(rss for t, rss in samples if t >= 60)
    at_end = samples[-1][1]
    result = {
        "rate_per_s": args.rate,
        "minutes": args.minutes,
        "rss_mib_at_1_min": at_1min,
        "rss_mib_at_end": at_end,
        "ratio": round(at_end / at_1min, 3),
        "simulator": summary,
        "samples": samples,
    }
    out = REPO / "bench" / "results" / "embedded_rss.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"RSS after 1 min {at_1min:.1f} MiB, after {args.minutes:g} min {at_end:.1f} MiB: ratio {result['ratio']}")
    print(f"simulator: {summary}")


if __name__ == "__main__":
    main()
