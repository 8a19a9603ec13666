#!/usr/bin/env bash
# Installs the system packages the repository needs, from Debian's archive, only when missing:
#   - always: cmake, make, g++, python3, autoconf, automake, libtool — `pnpm install` builds AWS's
#     Lambda runtime interface client (aws-lambda-ric, used by the Lambda tests and the demo)
#     from source, libcurl included — and redis-server, where the demo's two orders instances
#     keep their shared rate limit and the rate-limit tests keep theirs (on 127.0.0.1);
#   - with --tests: prometheus and promtool, which the telemetry tests run for real.
# Without apt-get (not Debian/Ubuntu) it names what is missing and stops.
set -euo pipefail

packages=()
need() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  local known
  for known in "${packages[@]}"; do [ "$known" = "$2" ] && return 0; done
  packages+=("$2")
}
need cmake cmake
need make make
need g++ g++
need python3 python3
need autoreconf autoconf
need automake automake
need libtoolize libtool
need redis-server redis-server
if [ "${1:-}" = "--tests" ]; then
  need prometheus prometheus
  need promtool prometheus
fi
[ ${#packages[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${packages[*]} — install them with your package manager" >&2
  exit 1
fi
as_root=""
if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi
echo "== installing from Debian's archive: ${packages[*]}"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
