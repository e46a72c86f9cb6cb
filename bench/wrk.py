"""wrk, as the benchmarks run it: one closed-loop run with a Lua script, and the figures of its report.

The Lua scripts (bench/*.lua) print their latency percentiles as `pNN: X ms` lines in `done()`.
"""

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import REPO


def run_wrk(
    url: str, lua: Path, *, threads: int, connections: int, seconds: int, script_args: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Runs wrk; returns (its report, the command as shown in the results)."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    if script_args:
        args += ["--", *script_args]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout
    shown = [*args[:6], "-s", str(lua.relative_to(REPO)), f"<handler>{urlsplit(url).path}"]
    return out, " ".join(shown + (["--", *script_args] if script_args else []))


def wrk_figures(out: str) -> dict[str, Any]:
    """The Lua script's percentiles, and wrk's own requests/s, socket errors and non-2xx count."""
    result: dict[str, Any] = {}
    for name, value in re.findall(r"^p([\d.]+): ([\d.]+) ms$", out, re.MULTILINE):
        result[f"p{name.replace('.', '_')}_ms"] = float(value)
    requests = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["requests_per_s"] = float(requests.group(1)) if requests else None
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)) if errors else {}
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    return result
