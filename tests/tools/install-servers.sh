#!/usr/bin/env bash
# Installs the servers the replica-set tests run (tests/state/test_replicas.py): Debian's
# postgresql (a private cluster per test module, started as the `postgres` user on a free port:
# tests/support/postgres.py) and haproxy (the load balancer in front of the replicas:
# tests/support/haproxy.py). Nothing needs Docker, and no system service is started or enabled.
# Idempotent: a second run installs nothing. Run as root (apt-get); CI runs it from .ci/run.
set -euo pipefail

missing=()
# Debian's postgresql puts initdb and pg_ctl under /usr/lib/postgresql/<version>/bin
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-servers.sh: ${missing[*]} missing; run this script as root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # a package's own service is not started when installed: the tests run their own servers
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
initdb=$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -1)
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
echo "install-servers.sh: PostgreSQL $("$initdb" --version | awk '{print $3}'), HAProxy $("$haproxy" -v | head -1 | awk '{print $3}') ready"
