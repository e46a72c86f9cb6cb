#!/bin/sh
# The image's entry point. `exec` keeps the role as PID 1 so it receives SIGTERM itself and shuts
# down cleanly (SPEC §1).
#   manage.py ARGS...                        -> python manage.py ARGS...
#   web [DAPHNE ARGS...]                     -> daphne on $HELIOS_WEB_HOST:$HELIOS_WEB_PORT (0.0.0.0:8000),
#                                               /metrics on $HELIOS_METRICS_HOST:$HELIOS_WEB_METRICS_PORT (9004)
#   handler|bidder|auction|outcomes          -> python manage.py runkafka ROLE
#   profiles [ARGS...]                       -> python manage.py runprofiles ARGS...
#   anything else                            -> run as given (python, sh, daphne, ...)
set -e
case "$1" in
  manage.py)
    exec python "$@" ;;
  web)
    shift
    exec daphne -b "${HELIOS_WEB_HOST:-0.0.0.0}" -p "${HELIOS_WEB_PORT:-8000}" \
      -e "tcp:port=${HELIOS_WEB_METRICS_PORT:-9004}:interface=${HELIOS_METRICS_HOST:-0.0.0.0}" \
      "$@" helios_site.asgi:application ;;
  handler|bidder|auction|outcomes)
    exec python manage.py runkafka "$@" ;;
  profiles)
    shift
    exec python manage.py runprofiles "$@" ;;
  *)
    exec "$@" ;;
esac
