#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test, and NSS's
# certutil (libnss3-tools), with which the test makes Chromium trust the
# local stack's CA, if missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v certutil >/dev/null 2>&1 || need+=(libnss3-tools)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
command -v chromium >/dev/null && command -v certutil >/dev/null
