#!/usr/bin/env bash
# Tools the benchmarks need, installed only when missing (idempotent):
#   wrk      the HTTP load generator of bench/intake.py (Debian package `wrk`)
#   py-spy   the sampling profiler behind the flame graphs (pip, into the project's venv; pinned
#            like requirements-dev.txt)
#
#   bash bench/deps.sh [python]      python defaults to .venv/bin/python
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
PY=${1:-$REPO/.venv/bin/python}
PY_SPY_VERSION=0.4.3

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else echo "[bench] need root to run: $*" >&2; exit 1
  fi
}

if ! command -v wrk >/dev/null; then
  echo "[bench] installing wrk (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

if [[ "$("$PY" -m pip show py-spy 2>/dev/null | sed -n 's/^Version: //p')" != "$PY_SPY_VERSION" ]]; then
  echo "[bench] installing py-spy==$PY_SPY_VERSION"
  "$PY" -m pip install -q "py-spy==$PY_SPY_VERSION"
fi

echo "[bench] wrk: $(command -v wrk); py-spy: $("$(dirname "$PY")/py-spy" --version)"
