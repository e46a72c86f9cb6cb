#!/usr/bin/env bash
# Every benchmark in turn, then docs/benchmarks.md from their results (`make bench` runs this).
#
#   BENCH_QUICK=1             a smoke run: every benchmark shortened (figures not comparable)
#   BENCH_PROFILE=0           skip the py-spy flame graphs (on by default)
#   BENCH_EMBEDDED_MINUTES=N  length of the embedded-mode RSS run (default 10; 1.5 when quick)
#   BENCH_ONLY="intake e2e"   a subset of: intake rtb roles e2e embedded
#   HELIOS_BENCH_DATABASE, HELIOS_BENCH_RTB_DATABASE, HELIOS_BENCH_REDIS_DB
#                             the benchmarks' databases (helios_bench_roles, helios_bench_rtb; Redis 12)
#
# The intake benchmark also builds (with the machine's Go: GO=/path/to/go) and runs the Go anchor of
# bench/anchors/, alternated with Helios's handler; the ratio of the two is a row of the table. The rtb
# benchmark runs /openrtb2/bid (closed and open loop) alternated with the intake's /bid on one handler.
#
# Expects the local services up (make services-up) and their URLs in the environment (the
# Makefile's SERVICES_ENV). A failed benchmark does not stop the others; the exit status says.
set -uo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
PY=${HELIOS_PYTHON:-$REPO/.venv/bin/python}
case ${BENCH_QUICK:-} in "" | 0 | false | no) QUICK=0 ;; *) QUICK=1 ;; esac
if [[ $QUICK == 1 ]]; then MINUTES=${BENCH_EMBEDDED_MINUTES:-1.5}; else MINUTES=${BENCH_EMBEDDED_MINUTES:-10}; fi
PROFILE=()
[[ ${BENCH_PROFILE:-1} != 0 ]] && PROFILE=(--profile)
ONLY=${BENCH_ONLY:-intake rtb roles e2e embedded}

bash bench/deps.sh "$PY" || exit 1
bash scripts/services.sh status || { echo "[bench] the local services are not up: make services-up" >&2; exit 1; }

failed=()
run() { # name, command...
  local name=$1; shift
  [[ " $ONLY " == *" $name "* ]] || return 0
  echo "[bench] ---- $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$@" || failed+=("$name")
}

run intake "$PY" bench/intake.py "${PROFILE[@]}"
run rtb "$PY" bench/rtb_bid.py "${PROFILE[@]}"
run roles "$PY" bench/roles.py "${PROFILE[@]}"
run e2e "$PY" bench/e2e.py "${PROFILE[@]}"
# Embedded mode needs none of the services: keep their URLs out of its environment.
run embedded env -u DATABASE_URL -u REDIS_URL -u KAFKA_BOOTSTRAP_SERVERS -u HELIOS_CHANNEL_LAYER \
  "$PY" bench/embedded_rss.py --rate 200 --minutes "$MINUTES"

"$PY" bench/report.py || failed+=(report)
if ((${#failed[@]})); then
  echo "[bench] failed: ${failed[*]}" >&2
  exit 1
fi
