"""Objects named by a dotted path in the settings, attributes of attributes too
(`campaigns.ledger.store.Ledger.from_settings`), which Django's `import_string` does not resolve."""

import importlib
from typing import Any


def import_path(path: str) -> Any:
    """The object at `path`: the longest importable module prefix, then attributes. ImportError
    when nothing of it resolves."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for name in parts[cut:]:
                target = getattr(target, name)
        except AttributeError as exc:
            raise ImportError(f"{path}: {exc}") from exc
        return target
    raise ImportError(f"no module in {path!r}")
