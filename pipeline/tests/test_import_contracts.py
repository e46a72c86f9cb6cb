"""The import contracts (pyproject.toml, checked by `lint-imports`) see every package of the project.

import-linter analyses only its `root_packages`, and refuses one that does not exist; so an app
added later (campaigns/) must be added there too, or the layers contract (where it is an optional
layer) would silently not look at it.
"""

import tomllib

from conftest import REPO

NOT_APPLICATION_CODE = {"tests"}


def test_every_top_level_package_is_a_root_package_of_the_contracts() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")} - NOT_APPLICATION_CODE
    assert packages - set(config["root_packages"]) == set(), "add them to [tool.importlinter] root_packages"
