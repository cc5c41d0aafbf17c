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
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk (apt-get)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null \
      || echo "bench: wrk install failed; using the Python load generator" >&2
  else
    echo "bench: wrk not installed; using the Python load generator (sudo apt-get install wrk)" >&2
  fi
fi
case " $* " in *" --baseline"*)  # the instructions section counts with valgrind
  if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "bench: installing valgrind (apt-get)" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind) >/dev/null \
        || echo "bench: valgrind install failed; the instructions rows are not measured" >&2
    else
      echo "bench: valgrind not installed; the instructions rows are not measured" >&2
    fi
  fi;;
esac
if ! ls "$here"/.cache/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar >/dev/null 2>&1; then
  command -v npm >/dev/null || { echo "bench: npm is required to fetch WireMock" >&2; exit 2; }
  npm install --no-audit --no-fund --prefix "$here/.cache/wiremock" wiremock >/dev/null
fi
exec "$py" "$here/run.py" "$@"
