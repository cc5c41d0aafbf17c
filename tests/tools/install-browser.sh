#!/usr/bin/env bash
# Installs headless Chromium for the dashboard tests (tests/toolkit/test_dashboard.py): Debian's chromium
# package, which Playwright drives (Playwright downloads no browser of its own here).
# Idempotent: a second run installs nothing. Run as root (apt-get); CI runs it from .ci/run.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-browser.sh: chromium missing; run this script as root (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "install-browser.sh: $(chromium --version 2>/dev/null | head -1) ready"
