#!/usr/bin/env bash
# The mocksrv benchmark (issue 6) in one command; see docs/benchmark.md.
# Installs what it needs if missing: wrk (apt, when root), the WireMock jar (npm, into bench/.cache/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x "$root/.venv/bin/python" ]; then py="$root/.venv/bin/python"; else py="$(command -v python3)"; fi
fi
"$py" -c 'import mocksrv, moto, boto3' 2>/dev/null || {
  echo "bench: $py cannot import mocksrv/moto/boto3; run the README set-up first" >&2; exit 2; }
command -v taskset >/dev/null || echo "bench: taskset missing (util-linux): servers will not be pinned" >&2
command -v java >/dev/null || { echo "bench: java (17+) is required for WireMock" >&2; exit 2; }
# apt_install TOOL WITHOUT: install the Debian package TOOL if it is missing and we are root;
# otherwise say what the bench does WITHOUT it
apt_install() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing $1 (apt-get)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1") >/dev/null \
      || echo "bench: $1 install failed; $2" >&2
  else
    echo "bench: $1 not installed; $2 (sudo apt-get install $1)" >&2
  fi
}
apt_install wrk "using the Python load generator"
# the instructions (with --baseline) and observability sections count with valgrind
apt_install valgrind "the instructions and observability rows are not measured"
if ! ls "$here"/.cache/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar >/dev/null 2>&1; then
  command -v npm >/dev/null || { echo "bench: npm is required to fetch WireMock" >&2; exit 2; }
  npm install --no-audit --no-fund --prefix "$here/.cache/wiremock" wiremock >/dev/null
fi
exec "$py" "$here/run.py" "$@"
