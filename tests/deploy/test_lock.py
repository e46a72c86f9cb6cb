"""requirements.lock: every package the project installs, transitive ones included, pinned with
hashes, in step with requirements*.txt; `make venv` (and so CI) installs from it. The image's
requirements-runtime.lock: requirements.txt's closure, at the same versions."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[normalized(match.group(1))] = match.group(2)
    return found


def lock_entries(lock: str = "requirements.lock") -> list[list[str]]:
    """The lock's requirements, each with its continuation lines."""
    entries: list[list[str]] = []
    for line in (REPO / lock).read_text().splitlines():
        if PIN.match(line):
            entries.append([line])
        elif line.startswith("    --hash=") and entries:
            entries[-1].append(line)
    return entries


def test_every_requirement_is_locked_at_its_pinned_version():
    locked = pins(REPO / "requirements.lock")
    for source in ("requirements.txt", "requirements-dev.txt"):
        for name, version in pins(REPO / source).items():
            assert locked.get(name) == version, f"{source}: {name}=={version}, lock: {locked.get(name)} (run make lock)"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-runtime.lock"])
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    entries = lock_entries(lock)
    assert len(entries) > 60, "transitive dependencies are locked too"
    for entry in entries:
        assert "==" in entry[0] and any(line.strip().startswith("--hash=sha256:") for line in entry[1:]), entry[0]


def test_the_runtime_lock_holds_requirements_txt_at_the_dev_locks_versions() -> None:
    runtime, locked = pins(REPO / "requirements-runtime.lock"), pins(REPO / "requirements.lock")
    assert pins(REPO / "requirements.txt").items() <= runtime.items(), "run make lock"
    assert {name: locked.get(name) for name in runtime} == runtime  # one version of each package
    assert "pytest" not in runtime and "playwright" not in runtime  # dev tools stay out of the image


def test_make_venv_installs_from_the_lock():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert recipe.splitlines()[0].split() == ["requirements.lock"]
    assert "--require-hashes -r requirements.lock" in recipe
    assert "make venv" in (REPO / ".ci" / "run").read_text()
