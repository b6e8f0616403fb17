#!/usr/bin/env bash
# Starts moto's server (DynamoDB and KMS emulation, with the KMS operation infra/moto_server.py
# adds) on a free port of 127.0.0.1 and prints its URL; `infra/moto.sh stop PIDFILE` stops it.
# Used by infra/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-start}" in
  start)
    pidfile=${2:?usage: moto.sh start PIDFILE}
    port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    .venv/bin/python infra/moto_server.py -H 127.0.0.1 -p "$port" >"${pidfile%.pid}.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
        echo "http://127.0.0.1:$port"
        exit 0
      fi
      sleep 0.2
    done
    echo "moto_server did not start; see ${pidfile%.pid}.log" >&2
    exit 1
    ;;
  stop)
    pidfile=${2:?usage: moto.sh stop PIDFILE}
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
esac
