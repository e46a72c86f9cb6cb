"""`make run` as a newcomer types it: no DJANGO_DEBUG, no secret key in the environment."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, free_port
from tests.e2e.harness import http_get, wait_for


@pytest.mark.e2e
def test_make_run_starts_in_debug_with_the_development_key_and_says_how_to_log_in(tmp_path: Path):
    closed = free_port()
    ports = {"web": free_port(), "handler": free_port(), "profiles": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELIOS_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'helios.sqlite3'}",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed}",
        REDIS_URL=f"redis://127.0.0.1:{closed}/0",
        HELIOS_WEB_PORT=str(ports["web"]),
        HELIOS_HANDLER_PORT=str(ports["handler"]),
        HELIOS_PROFILES_PORT=str(ports["profiles"]),
    )
    log = tmp_path / "make-run.log"
    with open(log, "ab") as out:
        # -o venv: the shared virtualenv is used as it is (never reinstalled by a test).
        proc = subprocess.Popen(
            ["make", "-s", "-o", "venv", "run"], cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        wait_for(lambda: "Press Ctrl-C to stop." in log.read_text(), 120, "the banner of make run")
        assert http_get(ports["web"], "/healthz")[0] == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    text = log.read_text()
    assert "make admin" in text, text[-3000:]  # how to get an admin login
    assert "DJANGO_SECRET_KEY must be set" not in text
