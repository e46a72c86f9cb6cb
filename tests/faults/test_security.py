"""SPEC §10-§11 as a user checks them: `check --deploy` clean with the production environment that
docs/production.md documents, start-up refusing a missing or development secret key, HTTPS
redirects that spare probes and scrapers, the security headers, and no secret in the repository.

Settings are read once per process, so each case runs `manage.py` in a subprocess with its own
environment, as a deployment would.
"""

import json
import os
import re
import secrets
import subprocess
import sys

import pytest

from conftest import REPO
from helios_site.settings import DEV_SECRET_KEY

PRODUCTION_DOC = REPO / "docs" / "production.md"


def documented_production_env() -> dict[str, str]:
    """The first ```env block of docs/production.md, with a fresh secret key."""
    match = re.search(r"^```env\n(.*?)^```", PRODUCTION_DOC.read_text(), re.M | re.S)
    assert match, "docs/production.md must show the production environment in an ```env block"
    env = dict(line.split("=", 1) for line in match.group(1).splitlines() if line.strip())
    assert env["DJANGO_SECRET_KEY"].startswith("<"), "the doc shows a placeholder, never a key"
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def manage(*args: str, env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    # Only the variables under test decide: none inherited from the developer's shell.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELIOS_")) and k not in drop}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=documented_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_is_clean_without_a_proxy_header_too():
    """Direct TLS (no proxy in front) is a production setup as well."""
    env = documented_production_env()
    del env["HELIOS_PROXY_SSL_HEADER"]
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("key", [None, "", "   ", DEV_SECRET_KEY], ids=["unset", "empty", "blank", "development"])
def test_production_refuses_to_start_without_a_real_secret_key(key):
    env = {"DJANGO_DEBUG": "false", "DJANGO_ALLOWED_HOSTS": "helios.example.com"}
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false" in result.stderr


def test_development_still_starts_with_the_development_key():
    result = manage("check", env={"DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_debug_is_off_unless_asked_for():
    # Nothing set: production behaviour, so the development key is refused...
    result = manage("check", env={})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false" in result.stderr
    # ...and with a real key, DEBUG is off.
    show = "from django.conf import settings; print('DEBUG', settings.DEBUG)"
    result = manage("shell", "-c", show, env={"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_malformed_proxy_ssl_header_is_refused():
    env = {**documented_production_env(), "HELIOS_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "HELIOS_PROXY_SSL_HEADER" in result.stderr


# Runs inside a production-configured process: what a browser and a probe would see.
PROBE = r"""
import json
from django.test import Client
client = Client(HTTP_HOST="helios.example.com")
out = {}
for path in ("/healthz", "/readyz", "/api/health", "/metrics", "/api/outcomes/", "/admin/login/"):
    r = client.get(path)
    out["http " + path] = [r.status_code, r.headers.get("Location")]
for path in ("/api/outcomes/", "/admin/login/"):
    r = client.get(path, HTTP_X_FORWARDED_PROTO="https")
    cookies = {name: bool(morsel["secure"]) for name, morsel in r.cookies.items()}
    out["https " + path] = [r.status_code, dict(r.headers), cookies]
print("RESULT " + json.dumps(out))
"""


def test_https_redirect_spares_probes_and_responses_carry_the_security_headers():
    env = {**documented_production_env(), "HELIOS_CHANNEL_LAYER": "memory", "DATABASE_URL": "sqlite:///:memory:"}
    result = manage("shell", "-c", PROBE, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.split("RESULT ", 1)[1])
    # Probes and Prometheus speak plain HTTP to the pod: answered, not redirected.
    assert out["http /healthz"] == [200, None]
    assert out["http /readyz"] == [200, None]
    assert out["http /api/health"] == [200, None]
    # ...Prometheus on the web role's metrics port (helios_site/asgi.py): never on the public one.
    assert out["http /metrics"] == [404, None]
    # Everything else over plain HTTP goes to HTTPS.
    assert out["http /api/outcomes/"] == [301, "https://helios.example.com/api/outcomes/"]
    assert out["http /admin/login/"] == [301, "https://helios.example.com/admin/login/"]
    # Over HTTPS (as the proxy reports it): served, with the security headers.
    status, headers, cookies = out["https /admin/login/"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert cookies == {"csrftoken": True}  # the login form's CSRF cookie: HTTPS only
    assert out["https /api/outcomes/"][0] in (401, 403)  # no anonymous API in production


# --- no secret in the repository ---

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[0-9a-zA-Z]{20,}"),
    "OpenAI-style key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "Django secret key": re.compile(
        r"""SECRET_KEY["']?\s*[:=]\s*["']?(?!helios-development-secret-key-not-for-production)[^\s"'<>$]{30,}"""
    ),
}
SECRET_FILE_NAMES = re.compile(r"(^|/)(\.env(\..+)?|id_(rsa|dsa|ecdsa|ed25519)|.+\.(pem|key|p12|pfx|jks))$")


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


def test_no_secret_in_the_repository():
    files = tracked_files()
    assert len(files) > 50  # really the repository
    found = [name for name in files if SECRET_FILE_NAMES.search(name)]
    for name in files:
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{name}: {kind}" for kind, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    assert not found, found


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("-----BEGIN RSA " + "PRIVATE KEY-----", "private key"),
        ("-----BEGIN OPENSSH " + "PRIVATE KEY-----", "private key"),
        ("AKIA" + "IOSFODNN7EXAMPLE", "AWS access key id"),
        ("ghp_" + "a" * 36, "GitHub token"),
        ("SECRET_KEY = '" + "k" * 50 + "'", "Django secret key"),
        ("DJANGO_SECRET_KEY: " + "x" * 40, "Django secret key"),
    ],
)
def test_the_secret_patterns_catch_what_they_are_for(sample, kind):
    assert SECRET_PATTERNS[kind].search(sample)


@pytest.mark.parametrize(
    "sample",
    [
        f'DEV_SECRET_KEY = "{DEV_SECRET_KEY}"',
        "SECRET_KEY = env.str('DJANGO_SECRET_KEY', default=DEV_SECRET_KEY)",
        "DJANGO_SECRET_KEY=<50+ random characters>",
        "DJANGO_SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')\"",
    ],
)
def test_the_secret_patterns_leave_placeholders_alone(sample):
    assert not SECRET_PATTERNS["Django secret key"].search(sample)
