#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a virtual environment, by default .build/venv, when it is missing or at
# another version: IntegrationTests/SchemathesisTests runs it against a live control plane (make test calls this).
set -euo pipefail
VERSION=4.32.5
VENV=${1:-.build/venv}
if "$VENV/bin/st" --version 2>/dev/null | grep -qx "st, version $VERSION"; then exit 0; fi
# Debian's interpreter (python3-venv), not whatever python3 comes first on PATH.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
echo "installing schemathesis $VERSION into $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
"$VENV/bin/st" --version
