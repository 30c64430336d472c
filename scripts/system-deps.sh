#!/usr/bin/env bash
# System packages the tests need beyond PyPI: a real PostgreSQL (the restore drill's data checks,
# and the metadata DB of `make cluster`), Redis (the Celery broker of `make cluster`) and Debian's
# Chromium (the browser test drives it through Playwright: Playwright's own browser download does
# not work here), Pango, HarfBuzz's subsetter and a font for WeasyPrint (every report PDF is its
# HTML printed) and poppler-utils (the report tests turn each PDF's first page into a PNG with
# pdftoppm). Installs only what is missing; needs root (CI runs as root), else says what to install.
set -euo pipefail
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
has_lib 'libpango-1\.0\.so\.0' || need+=(libpango-1.0-0)
has_lib 'libpangoft2-1\.0\.so\.0' || need+=(libpangoft2-1.0-0)
# WeasyPrint subsets fonts with HarfBuzz; without it, fontTools stamps each subset with the wall
# clock and the same report prints different PDF bytes a second later.
has_lib 'libharfbuzz-subset\.so\.0' || need+=(libharfbuzz-subset0)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them with apt-get, or run as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The packages' own services (the distribution's redis-server, postgresql clusters) must not be
# started by the install: `make cluster` runs its own on free loopback ports.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
