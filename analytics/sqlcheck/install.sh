#!/usr/bin/env bash
# Installs chdb (ClickHouse in-process, current engine) for check.py, unless
# python3 can already import it. Idempotent; safe to call from `make test`.
set -euo pipefail
PY=${PYTHON:-python3}
if "$PY" -c 'import chdb' >/dev/null 2>&1; then
	exit 0
fi
echo "installing chdb (current ClickHouse engine, for the analytics SQL check)..." >&2
"$PY" -m pip install -q chdb
"$PY" -c 'import chdb' >/dev/null
