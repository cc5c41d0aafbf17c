#!/usr/bin/env bash
# Installs the non-pip S3 clients the client-recipe tests run (tests/promotions/test_recipes_*.py):
# rclone (Debian; nodejs + npm too if absent), and the AWS SDK for JavaScript v3 (npm, into
# tests/tools/node_modules, git-ignored).
# Idempotent: a second run installs nothing. Run as root (apt-get); CI runs it from .ci/run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

missing=()
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-s3-clients.sh: ${missing[*]} missing; run this script as root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d "$here/node_modules/@aws-sdk/lib-storage" ] || [ ! -d "$here/node_modules/@aws-sdk/client-s3" ]; then
    # the committed package-lock.json pins the versions (npm ci installs exactly those)
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "install-s3-clients.sh: rclone $(rclone version 2>/dev/null | head -1 | awk '{print $2}'), @aws-sdk/client-s3 ready"
