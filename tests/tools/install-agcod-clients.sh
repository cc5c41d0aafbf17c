#!/usr/bin/env bash
# Installs the three npm AGCOD client libraries that tests/agcod/test_client_libraries.py runs against mocksrv,
# into tests/tools/agcod-clients/ (git-ignored). Idempotent: nothing is fetched when the pinned
# versions are there. The fourth library (PyPI agcod) comes with the `test` extra.
set -euo pipefail
cd "$(dirname "$0")"
DEST=agcod-clients
PACKAGES=(amazon-gc@1.0.5 amazon-incentives-api@0.2.0 agcod@1.0.4)

installed() {
    local spec name version
    for spec in "${PACKAGES[@]}"; do
        name=${spec%@*} version=${spec##*@}
        [ -f "$DEST/node_modules/$name/package.json" ] || return 1
        grep -q "\"version\": *\"$version\"" "$DEST/node_modules/$name/package.json" || return 1
    done
}

if installed; then
    echo "agcod clients: already installed in tests/tools/$DEST"
    exit 0
fi
if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "agcod clients: npm is missing (as root: apt-get install -y nodejs npm)" >&2
        exit 1
    fi
fi
mkdir -p "$DEST"
[ -f "$DEST/package.json" ] || echo '{"name": "mocksrv-agcod-clients", "private": true}' > "$DEST/package.json"
npm install --prefix "$DEST" --no-audit --no-fund --loglevel=error "${PACKAGES[@]}"
installed
echo "agcod clients: installed in tests/tools/$DEST"
