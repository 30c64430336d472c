#!/usr/bin/env bash
# System packages the tests need beyond PyPI (a real PostgreSQL for the restore drill's data
# checks). Installs only what is missing; needs root (CI runs as root), else says what to install.
set -euo pipefail
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them with apt-get, or run as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
