#!/usr/bin/env bash
# Writes docs/configuration.md from the built binary's own help: every command, flag and PORTCULLIS_* variable.
# Run after changing an option: `swift build --product portcullis && scripts/gen-config-docs.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PORTCULLIS_BIN:-.build/debug/portcullis}
OUT=docs/configuration.md
mkdir -p docs
{
  echo "# Configuration reference"
  echo
  echo "Generated from \`portcullis help <command>\` by \`scripts/gen-config-docs.sh\`; do not edit by hand."
  echo "Every option also reads \`PORTCULLIS_<OPTION>\` from the environment (\`--admin-listen\` →"
  echo "\`PORTCULLIS_ADMIN_LISTEN\`); a flag on the command line wins. Durations are in the unit each help line names."
  for cmd in up control-plane data-plane config snapshots verify; do
    echo
    echo "## \`portcullis $cmd\`"
    echo
    echo '```'
    "$BIN" help "$cmd" 2>&1 | sed -e 's/[[:space:]]*$//'
    echo '```'
  done
  for sub in "config import" "config export" "snapshots list" "snapshots show" "snapshots diff" "snapshots rollback"; do
    echo
    echo "### \`portcullis $sub\`"
    echo
    echo '```'
    # shellcheck disable=SC2086
    "$BIN" help $sub 2>&1 | sed -e 's/[[:space:]]*$//'
    echo '```'
  done
} > "$OUT"
echo "wrote $OUT"
