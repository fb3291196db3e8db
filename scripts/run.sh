#!/usr/bin/env bash
# `make run`: migrate, load the demo, serve. Embedded PostgreSQL unless DATABASE_URL is set;
# a Celery worker and beat when a broker (REDIS_URL or CELERY_BROKER_URL) is set, otherwise
# tasks run in-process.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL is not set: starting the embedded PostgreSQL (data in var/pgdata)..."
  DATABASE_URL="$(python -m netboard.embedded_pg start 2>/dev/null)"
  export DATABASE_URL
fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
HOST="${NETBOARD_HOST:-127.0.0.1}"
PORT="${NETBOARD_PORT:-8000}"

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

  NETboard is starting at http://${HOST}:${PORT}/
  Demo login: demo-clinician / netboard-demo  (also demo-reader, demo-coordinator,
  demo-auditor, demo-admin; same password). API docs: http://${HOST}:${PORT}/api/v1/docs/
  Stop with Ctrl-C; \`make stop-embedded\` stops the embedded database.

MSG
python manage.py runserver "${HOST}:${PORT}"
