#!/usr/bin/env bash
# `make demo`: runs the control plane on its embedded SQLite default and walks through the ALB mTLS scenario:
# a demo PKI is minted, examples/alb-mtls.yaml is imported with the demo CA, then the history is shown, changed,
# diffed and rolled back. The control plane keeps running until Ctrl-C (DEMO_EXIT=1 stops after the tour).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${PORTCULLIS_BIN:-.build/debug/portcullis}
STATE=${PORTCULLIS_DEMO_DIR:-./.portcullis}
DEMO="$STATE/demo"
mkdir -p "$DEMO"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Minting a demo PKI in $DEMO (client CA + a client certificate for client.example.com)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -keyout "$DEMO/ca.key" -out "$DEMO/ca.pem" -subj "/O=Portcullis Demo/CN=Portcullis Demo Client CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$DEMO/client.key" \
  -out "$DEMO/client.csr" -subj "/CN=client.example.com" 2>/dev/null
openssl x509 -req -in "$DEMO/client.csr" -CA "$DEMO/ca.pem" -CAkey "$DEMO/ca.key" -CAcreateserial -days 7 \
  -out "$DEMO/client.pem" \
  -extfile <(printf "subjectAltName=DNS:client.example.com\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE") 2>/dev/null
python3 - "$DEMO/ca.pem" examples/alb-mtls.yaml "$DEMO/alb-mtls.yaml" <<'PY'
import sys, re
ca = open(sys.argv[1]).read().strip()
doc = open(sys.argv[2]).read()
block = "\n".join("      " + l for l in ca.splitlines())
doc = re.sub(r"      -----BEGIN CERTIFICATE-----\n(?:      .*\n)*?      -----END CERTIFICATE-----", block, doc, count=1)
open(sys.argv[3], "w").write(doc)
PY
openssl x509 -in "$DEMO/client.pem" -noout -subject -ext subjectAltName | sed 's/^/   /'

say "Starting the control plane (SQLite at $STATE/portcullis.db)"
LOG="$DEMO/control-plane.log"
start() {
  "$BIN" control-plane --db "$STATE/portcullis.db" --cluster-socket "$STATE/cluster.sock" --admin-listen "$1" >"$LOG" 2>&1 &
  CP=$!
  for _ in $(seq 1 100); do
    if grep -q "admin API listening on" "$LOG" 2>/dev/null; then return 0; fi
    if ! kill -0 "$CP" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}
if ! start "${PORTCULLIS_ADMIN_LISTEN:-127.0.0.1:8001}"; then
  echo "   127.0.0.1:8001 is busy; using a free port instead"
  start "127.0.0.1:0" || { cat "$LOG"; exit 1; }
fi
trap 'kill "$CP" 2>/dev/null; wait "$CP" 2>/dev/null || true' EXIT INT TERM
ADMIN="http://$(grep -o 'admin API listening on [^ ]*' "$LOG" | head -1 | awk '{print $5}')"
export PORTCULLIS_ADMIN_URL="$ADMIN"
echo "   admin API: $ADMIN"

say "Importing the ALB scenario (declarative, atomic): portcullis config import $DEMO/alb-mtls.yaml"
"$BIN" config import "$DEMO/alb-mtls.yaml"
say "Importing it again with --check-hash: nothing changes"
"$BIN" config import "$DEMO/alb-mtls.yaml" --check-hash

say "The Kong-compatible admin API"
curl -s "$ADMIN/routes/mtls/plugins" | python3 -c 'import json,sys; p=json.load(sys.stdin)["data"][0]; print("   plugin", p["name"], "on route mtls:", json.dumps({k: p["config"][k] for k in ("certificate_header_name","certificate_header_format","secure_source","trusted_sources")}))'
curl -s -o /dev/null -w "   POST /services with a bad host -> %{http_code}\n" -d name=broken -d host='bad host' "$ADMIN/services"
curl -s -d name=broken -d host='bad host' "$ADMIN/services" | sed 's/^/   /'; echo

say "A change: map the demo client by a manual subject-name mapping"
curl -s -X POST "$ADMIN/consumers" -d username=demo-partner >/dev/null
curl -s -X POST "$ADMIN/consumers/demo-partner/header-cert-auth" -d subject_name=partner.example.net \
  -H "X-Portcullis-Comment: map partner certificate" >/dev/null
sleep 0.2
"$BIN" snapshots list --size 5

LATEST=$(curl -s "$ADMIN/snapshots?size=2" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d[0]["version"], d[1]["version"])')
NEW=${LATEST% *}; OLD=${LATEST#* }
say "What changed between version $OLD and $NEW: portcullis snapshots diff $OLD $NEW"
"$BIN" snapshots diff "$OLD" "$NEW" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("   added:", json.dumps(d["added"]), "\n   summary:", d["summary"])'

IMPORTED=$(curl -s "$ADMIN/snapshots?size=50" | python3 -c 'import json,sys; print([s["version"] for s in json.load(sys.stdin)["data"] if s["comment"]=="declarative import"][0])')
say "One-call rollback to the imported version: portcullis snapshots rollback $IMPORTED"
"$BIN" snapshots rollback "$IMPORTED"
curl -s "$ADMIN/consumers" | python3 -c 'import json,sys; print("   consumers now:", [c["username"] for c in json.load(sys.stdin)["data"]])'

say "Done. Files: $DEMO (PKI, scenario, log)."
echo "   Try: curl $ADMIN/status  |  $BIN snapshots list --admin-url $ADMIN  |  $BIN config export --admin-url $ADMIN"
if [ "${DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo "   The control plane keeps running; Ctrl-C stops it."
wait "$CP"
