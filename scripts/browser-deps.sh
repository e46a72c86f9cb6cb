#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (tests/browser/, driven by Playwright's Python
# package with executable_path=/usr/bin/chromium; `playwright install` downloads are never used).
# Fonts give the screenshots legible text. Idempotent: installs only what is missing.
set -euo pipefail
packages=(chromium fonts-dejavu-core fonts-liberation)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[browser-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
