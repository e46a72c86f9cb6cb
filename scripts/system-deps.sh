#!/usr/bin/env bash
# Debian packages the test suite uses beyond the services (those are scripts/services.sh's):
# docker-compose validates docker-compose.yml (no engine needed); wrk drives the overload test. Installs only what is missing.
set -euo pipefail
packages=(docker-compose wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[system-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
