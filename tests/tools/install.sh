#!/usr/bin/env bash
# Installs what the test suite needs beyond the Python packages of the `test` extra: the S3 clients
# of the recipe tests (rclone, the AWS SDK for JavaScript), headless Chromium for the dashboard
# tests, the npm AGCOD client libraries, and PostgreSQL and HAProxy for the replica-set tests.
# Idempotent (a second run installs nothing); needs root for apt-get on a machine that lacks
# rclone, node/npm, chromium, postgresql or haproxy. The README's test command and
# .ci/run start with it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-s3-clients.sh"
bash "$here/install-browser.sh"
bash "$here/install-agcod-clients.sh"
bash "$here/install-servers.sh"
