#!/usr/bin/env bash
# `make run`: migrate, load the demo, serve. Embedded PostgreSQL unless DATABASE_URL is set;
# a Celery worker and beat when a broker (REDIS_URL or CELERY_BROKER_URL) is set, otherwise
# tasks run in-process.
#
#     bash scripts/run.sh                    # serve on HOST:PORT (default 127.0.0.1:8000)
#     bash scripts/run.sh --print-address    # only check HOST and PORT and print HOST:PORT
set -euo pipefail
cd "$(dirname "$0")/.."

# Where to serve. NETBOARD_HOST and NETBOARD_PORT, the earlier names, still work when HOST and
# PORT are unset.
HOST="${HOST:-${NETBOARD_HOST:-127.0.0.1}}"
PORT="${PORT:-${NETBOARD_PORT:-8000}}"
if ! [[ "$PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((PORT > 65535)); then
  echo "PORT must be a whole number from 1 to 65535; got '${PORT}'." >&2
  exit 2
fi
# runserver and the printed URL want an IPv6 address in brackets.
ADDRESS="$HOST"
if [[ "$HOST" == *:* && "$HOST" != \[* ]]; then ADDRESS="[$HOST]"; fi
if [ "${1:-}" = "--print-address" ]; then
  echo "${ADDRESS}:${PORT}"
  exit 0
fi

if [ -z "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL is not set: starting the embedded PostgreSQL (data in var/pgdata)..."
  DATABASE_URL="$(python -m netboard.embedded_pg start 2>/dev/null)"
  export DATABASE_URL
fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"

python manage.py check_database
python manage.py migrate --noinput
python manage.py load_demo
# Anything stale (new rules version, changed NETBOARD_RULES) is recomputed now; with a broker,
# Celery beat does the same every minute.
python manage.py sweep_stale

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${CELERY_BROKER_URL:-}${REDIS_URL:-}" ]; then
  echo "Broker configured: starting a Celery worker and beat."
  celery -A netboard worker --loglevel=INFO --concurrency=2 &
  pids+=($!)
  celery -A netboard beat --loglevel=INFO --schedule=var/celerybeat-schedule &
  pids+=($!)
else
  echo "No broker configured: scoring tasks run in-process."
fi

cat <<MSG

  NETboard is starting at http://${ADDRESS}:${PORT}/
  Demo login: demo-clinician / netboard-demo  (also demo-reader, demo-coordinator,
  demo-auditor, demo-admin; same password). API docs: http://${ADDRESS}:${PORT}/api/v1/docs/
  Stop with Ctrl-C; \`make stop-embedded\` stops the embedded database.

MSG
python manage.py runserver "${ADDRESS}:${PORT}"
