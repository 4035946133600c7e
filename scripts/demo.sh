#!/usr/bin/env bash
# `make demo`: the AWS ALB mTLS scenario end to end, on loopback only.
#
#   curl ─TLS + client cert─► nginx (the ALB stand-in) ─HTTP + X-Amzn-Mtls-Clientcert─► data plane 1 | 2 ─► echo upstream
#
# Starts `portcullis up` (a control plane on SQLite in .portcullis/demo + two data planes, each on its own proxy
# port), scripts/echo-upstream.py and nginx; mints a demo PKI with the openssl CLI; imports
# examples/alb-mtls.yaml with the demo CA; runs a tour with curl and prints what was expected and what came back;
# changes the configuration and rolls it back, timing how long both data planes take to serve it.
# Everything keeps running until Ctrl-C, which stops exactly the processes this script started (by PID).
# DEMO_EXIT=1 stops after the tour (for tests and CI). Only files under .portcullis/demo are written.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${PORTCULLIS_BIN:-.build/debug/portcullis}
[ -x "$BIN" ] || { echo "no portcullis binary: run 'make demo' (or swift build --product portcullis)" >&2; exit 1; }
DEMO=${PORTCULLIS_DEMO_DIR:-./.portcullis/demo}
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)  # nginx needs absolute paths
PKI="$DEMO/pki"
NGINX_DIR="$DEMO/nginx"
PIDS="$DEMO/pids"
mkdir -p "$PKI" "$NGINX_DIR/tmp"
bold() { printf '\033[1m%s\033[0m\n' "$*"; }
say() { printf '\n'; bold "== $*"; }
# Every PORTCULLIS_* variable the caller set would leak into `portcullis up` and its children; keep only ours.
for v in $(env | sed -n 's/^\(PORTCULLIS_[A-Z_]*\)=.*/\1/p'); do
  case "$v" in PORTCULLIS_BIN|PORTCULLIS_DEMO_DIR) ;; *) unset "$v" ;; esac
done

# --- processes: recorded by PID, stopped by PID ------------------------------------------------------------------
STARTED=()
alive() { kill -0 "$1" 2>/dev/null; }
# The command line of a PID, to tell our processes from an unrelated one that reused the number.
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }
stop_pid() {  # SIGTERM, bounded wait, SIGKILL
  local pid=$1
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  if [ ${#STARTED[@]} -gt 0 ]; then
    echo
    bold "Stopping what the demo started (PIDs ${STARTED[*]})"
    # Reverse order: nginx, then the data planes and control plane (portcullis up), then the upstream.
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[$i]}"; done
    wait 2>/dev/null || true
  fi
  rm -f "$PIDS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
remember() {  # PID NAME TEXT: TEXT is part of the process's command line (tells it from a reused PID later)
  STARTED+=("$1")
  echo "$1 $2 $3" >>"$PIDS"
}

# A previous demo that was killed without its cleanup (kill -9, a closed terminal) left its PIDs: stop those
# processes if they are still the ones it started (their command line has what was recorded), so the database and
# ports are free.
if [ -f "$PIDS" ]; then
  while read -r pid name text; do
    [ -n "$text" ] || continue
    case "$(cmdline "$pid")" in
      *"$text"*) echo "stopping $name (PID $pid) left over from an earlier demo"; stop_pid "$pid" ;;
    esac
  done <"$PIDS"
  rm -f "$PIDS"
fi

# --- ports: the usual ones when free, others otherwise --------------------------------------------------------------
# Prints PORT (or PORT and PORT+1 for COUNT=2) on 127.0.0.1: the preferred one when free, else a free one.
free_ports() {  # PREFERRED COUNT
  python3 - "$1" "$2" <<'PY'
import random, socket, sys
preferred, count = int(sys.argv[1]), int(sys.argv[2])
def free(port):
    s = socket.socket()
    # As servers bind: a port that only has connections in TIME_WAIT from an earlier run is free.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
candidates = [preferred] + [random.randint(20000, 60000) for _ in range(100)]
for base in candidates:
    if all(free(base + i) for i in range(count)):
        print(" ".join(str(base + i) for i in range(count)))
        sys.exit(0)
sys.exit("no free ports found")
PY
}
ADMIN_PORT=$(free_ports 8001 1)
read -r PROXY1 PROXY2 < <(free_ports 8080 2)
read -r STATUS1 STATUS2 < <(free_ports 8100 2)
ALB_PORT=$(free_ports 8443 1)
UPSTREAM_PORT=$(free_ports 9000 1)
ADMIN="http://127.0.0.1:$ADMIN_PORT"
ALB="https://localhost:$ALB_PORT"

# --- the demo PKI ----------------------------------------------------------------------------------------------------
say "Minting a demo PKI with the openssl CLI in $PKI"
cat >"$PKI/openssl.cnf" <<EOF
[ca]
default_ca = demo_ca
[demo_ca]
database = $PKI/index.txt
new_certs_dir = $PKI/issued
serial = $PKI/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:\$ENV::SAN
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
EOF
rm -rf "$PKI/issued" && mkdir -p "$PKI/issued"
: >"$PKI/index.txt"
echo 1000 >"$PKI/serial"
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
# NAME SUBJECT EXTENSION ISSUER(or -) FROM TO
issue() {
  local name=$1 subject=$2 ext=$3 issuer=$4 from=$5 to=$6
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
  export SAN=${SAN:-unused}  # the [client] section reads it; openssl wants it set for every command
  openssl req -new -config "$PKI/openssl.cnf" -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
  local signer=(-selfsign -keyfile "$PKI/$name.key")
  [ "$issuer" = - ] || signer=(-cert "$PKI/$issuer.pem" -keyfile "$PKI/$issuer.key")
  openssl ca -batch -config "$PKI/openssl.cnf" -in "$PKI/$name.csr" -extensions "$ext" -notext \
    -startdate "$(stamp "$from")" -enddate "$(stamp "$to")" "${signer[@]}" -out "$PKI/$name.pem" 2>/dev/null
  rm -f "$PKI/$name.csr"
  unset SAN
}
issue root "/O=Portcullis Demo/CN=Portcullis Demo Root CA" root - "-1 day" "+10 years"
issue intermediate "/O=Portcullis Demo/CN=Portcullis Demo Issuing CA" intermediate root "-1 day" "+5 years"
SAN=demo-client issue client "/O=Portcullis Demo/CN=demo-client" client intermediate "-1 day" "+30 days"
SAN=demo-client issue expired "/O=Portcullis Demo/CN=demo-client" client intermediate "-30 days" "-1 day"
issue unknown-ca "/CN=Somebody Else's CA" root - "-1 day" "+1 year"
SAN=demo-client issue unknown "/CN=demo-client" client unknown-ca "-1 day" "+30 days"
issue server-ca "/O=Portcullis Demo/CN=ALB stand-in server CA" root - "-1 day" "+1 year"
issue server "/CN=localhost" server server-ca "-1 day" "+1 year"
# What curl presents: the leaf and its intermediate, as a client with a chain does.
for c in client expired; do cat "$PKI/$c.pem" "$PKI/intermediate.pem" >"$PKI/$c-chain.pem"; done
printf '   %-13s %s\n' "root CA" "$(openssl x509 -in "$PKI/root.pem" -noout -subject)" \
  "intermediate" "$(openssl x509 -in "$PKI/intermediate.pem" -noout -subject)" \
  "client" "$(openssl x509 -in "$PKI/client.pem" -noout -subject -enddate | paste -sd' ')" \
  "expired" "$(openssl x509 -in "$PKI/expired.pem" -noout -enddate)" \
  "unknown CA" "$(openssl x509 -in "$PKI/unknown.pem" -noout -issuer)"

# --- the echo upstream and portcullis up -----------------------------------------------------------------------------
say "Starting the echo upstream and portcullis up (a control plane + 2 data planes)"
python3 -u scripts/echo-upstream.py "$UPSTREAM_PORT" >"$DEMO/upstream.log" 2>&1 &
remember $! echo-upstream "echo-upstream.py $UPSTREAM_PORT"
UP_LOG="$DEMO/up.log"
"$BIN" up --data-planes 2 --db "$DEMO/portcullis.db" --cluster-socket "$DEMO/cluster.sock" --state-dir "$DEMO" \
  --admin-listen "127.0.0.1:$ADMIN_PORT" --proxy-listen "127.0.0.1:$PROXY1" --proxy-port-per-data-plane \
  --status-listen "127.0.0.1:$STATUS1" --log-level notice >"$UP_LOG" 2>&1 &
UP=$!
remember $UP portcullis-up "$DEMO/cluster.sock"
for _ in $(seq 1 600); do
  grep -q "Ctrl-C (SIGINT)" "$UP_LOG" 2>/dev/null && break
  alive "$UP" || { cat "$UP_LOG"; echo "portcullis up exited" >&2; exit 1; }
  sleep 0.1
done
grep -q "Ctrl-C (SIGINT)" "$UP_LOG" || { cat "$UP_LOG"; echo "portcullis up did not start within 60 s" >&2; exit 1; }
grep -q "upstream listening" "$DEMO/upstream.log" || sleep 0.5
sed -n '/portcullis up:/,/database/p' "$UP_LOG" | sed 's/^/   /'
export PORTCULLIS_ADMIN_URL="$ADMIN"

# --- the scenario ----------------------------------------------------------------------------------------------------
say "Importing examples/alb-mtls.yaml through the admin API (POST /config), with the demo's CAs, upstream and consumer"
# The example's placeholder CA becomes the demo root; the intermediate is added next to it (nginx forwards only the
# leaf, see README); the service points at the echo upstream; the consumer is demo-client.
python3 - examples/alb-mtls.yaml "$DEMO/alb-mtls.yaml" "$PKI/root.pem" "$PKI/intermediate.pem" "$UPSTREAM_PORT" <<'PY'
import re, sys
source, target, root, intermediate, port = sys.argv[1:]
doc = open(source).read()
def indent(pem):
    return "\n".join("      " + line for line in open(pem).read().strip().splitlines())
def replace(old, new, pattern=False):
    global doc
    doc, n = (re.subn(old, lambda _: new, doc, count=1) if pattern else (doc.replace(old, new, 1), doc.count(old)))
    if n == 0:
        sys.exit("examples/alb-mtls.yaml changed: cannot find %r" % old)
replace(r"      -----BEGIN CERTIFICATE-----\n(?:      .*\n)*?      -----END CERTIFICATE-----", indent(root), True)
second = "  - id: 7c3f0a4e-0000-4000-8000-000000000002\n    cert: |\n%s\n    tags: [alb-mtls-demo]\n" % indent(intermediate)
replace("\nservices:", "\n" + second + "\nservices:")
replace('ca_certificates: ["7c3f0a4e-0000-4000-8000-000000000001"]',
        'ca_certificates: ["7c3f0a4e-0000-4000-8000-000000000001", "7c3f0a4e-0000-4000-8000-000000000002"]')
replace("http://127.0.0.1:9000", "http://127.0.0.1:%s" % port)
replace("username: client.example.com", "username: demo-client")
open(target, "w").write(doc)
PY
curl -sS --noproxy '*' -o "$DEMO/import.json" -w '   POST /config -> %{http_code}\n' \
  -H 'Content-Type: application/yaml' -H 'X-Portcullis-Comment: make demo: ALB scenario' \
  --data-binary @"$DEMO/alb-mtls.yaml" "$ADMIN/config"
curl -s --noproxy '*' "$ADMIN/routes/mtls/plugins" | python3 -c '
import json, sys
c = json.load(sys.stdin)["data"][0]["config"]
keys = ("certificate_header_name", "certificate_header_format", "secure_source", "trusted_sources", "ca_certificates")
print("   header-cert-auth on /mtls:", json.dumps({k: c[k] for k in keys}))'

# --- nginx, the ALB stand-in -----------------------------------------------------------------------------------------
say "Starting nginx as the ALB stand-in on 127.0.0.1:$ALB_PORT (TLS, client certificate optional, not verified)"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user $(id -un);"  # as root nginx would switch its workers to nobody
cat >"$NGINX_DIR/nginx.conf" <<EOF
# Written by scripts/demo.sh. nginx plays AWS ALB in mTLS passthrough mode: it asks for a client certificate,
# does not verify it, and forwards it URL-encoded in X-Amzn-Mtls-Clientcert (only the leaf: see README).
$USER_LINE
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log notice;
events { worker_connections 256; }
http {
    access_log $NGINX_DIR/access.log;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    upstream portcullis {
        server 127.0.0.1:$PROXY1;  # data plane 1
        server 127.0.0.1:$PROXY2;  # data plane 2
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$ALB_PORT ssl;
        server_name localhost;
        ssl_certificate $PKI/server.pem;
        ssl_certificate_key $PKI/server.key;
        ssl_verify_client optional_no_ca;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
        # Replaces whatever the client sent under this name; empty (not sent) without a certificate.
        proxy_set_header X-Amzn-Mtls-Clientcert \$ssl_client_escaped_cert;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # optional_no_ca still refuses some certificates itself (400 for an expired one); ALB in passthrough
        # mode forwards every certificate, so nginx does too: its "certificate error" (495) goes upstream.
        error_page 495 = @passthrough;
        location / {
            proxy_pass http://portcullis;
        }
        location @passthrough {
            proxy_pass http://portcullis;
        }
    }
}
EOF
NGINX=$(command -v nginx || echo /usr/sbin/nginx)  # /usr/sbin is not on a Debian user's PATH
"$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" &
remember $! nginx "$NGINX_DIR/nginx.conf"
for _ in $(seq 1 100); do
  curl -s --noproxy '*' -o /dev/null --cacert "$PKI/server-ca.pem" "$ALB/echo" && break
  alive "${STARTED[-1]}" || { cat "$NGINX_DIR/error.log"; echo "nginx did not start" >&2; exit 1; }
  sleep 0.1
done

# --- the tour --------------------------------------------------------------------------------------------------------
say "The tour"
PASS=0
FAIL=0
ROWS=()
# REQUEST EXPECTED GOT: one row of the table.
row() {
  local mark="✓"
  if [ "$2" = "$3" ]; then PASS=$((PASS + 1)); else mark="✗"; FAIL=$((FAIL + 1)); fi
  ROWS+=("$(printf '%-70s %-24s %-24s %s' "$1" "$2" "$3" "$mark")")
}
alb() {  # PATH CURL-OPTIONS… -> prints the status; the body goes to $DEMO/last.json
  local path=$1; shift
  curl -sS --noproxy '*' --max-time 10 --cacert "$PKI/server-ca.pem" -o "$DEMO/last.json" -w '%{http_code}' \
    "$@" "$ALB$path"
}
seen() {  # HEADER: what the echo upstream saw under that name in the last answer
  python3 - "$DEMO/last.json" "$1" <<'PY'
import json, sys
try:
    headers = json.load(open(sys.argv[1])).get("headers", [])
except (OSError, ValueError):
    headers = []
print(",".join(v for k, v in headers if k.lower() == sys.argv[2].lower()) or "-")
PY
}
row "GET /echo, no certificate" "200" "$(alb /echo)"
row "GET /mtls, no certificate" "401" "$(alb /mtls)"
got=$(alb /mtls --cert "$PKI/client-chain.pem" --key "$PKI/client.key" -H "X-Consumer-Username: admin")
row "GET /mtls, demo-client cert (+ forged X-Consumer-Username: admin)" "200 demo-client" "$got $(seen X-Consumer-Username)"
row "GET /mtls, expired cert" "401" "$(alb /mtls --cert "$PKI/expired-chain.pem" --key "$PKI/expired.key")"
row "GET /mtls, cert from an unknown CA" "401" "$(alb /mtls --cert "$PKI/unknown.pem" --key "$PKI/unknown.key")"
FORGED=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe="+=/"))' "$PKI/client.pem")
row "GET /mtls, header forged without TLS cert, through nginx" "401" "$(alb /mtls -H "X-Amzn-Mtls-Clientcert: $FORGED")"
got=$(curl -sS --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
  -H "X-Amzn-Mtls-Clientcert: $FORGED" "http://127.0.0.1:$PROXY1/mtls" || echo "no connection")
row "GET /mtls, forged header straight to data plane 1 from 127.0.0.2" "401" "$got"
got=$(curl -sS --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' \
  -H "X-Amzn-Mtls-Clientcert: $FORGED" "http://127.0.0.1:$PROXY2/mtls")
row "GET /mtls, the same header to data plane 2 from 127.0.0.1 (trusted)" "200" "$got"

# A change through the admin API, then a rollback; both timed until both data planes answer accordingly.
BEFORE=$(curl -s --noproxy '*' "$ADMIN/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["configuration_version"])')
propagation() {  # EXPECTED-STATUS then a command to run first; prints "STATUS-ON-DP1/STATUS-ON-DP2 MS"
  local expected=$1; shift
  python3 - "$expected" "$PROXY1" "$PROXY2" "$@" <<'PY'
import http.client, subprocess, sys, time
expected, ports, command = int(sys.argv[1]), sys.argv[2:4], sys.argv[4:]
def status(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=2)
        c.request("GET", "/v2/hello")
        return c.getresponse().status
    except OSError:
        return 0
subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
start = time.monotonic()
seen = [0, 0]
while time.monotonic() - start < 10:
    seen = [status(p) for p in ports]
    if seen == [expected, expected]:
        break
    time.sleep(0.001)
print("%d/%d %.0f" % (seen[0], seen[1], (time.monotonic() - start) * 1000))
PY
}
read -r got ms < <(propagation 200 curl -sS --noproxy '*' -f -X POST "$ADMIN/services/echo-svc/routes" \
  -H 'X-Portcullis-Comment: make demo: a new route' -d name=v2 -d 'paths[]=/v2')
row "POST /services/echo-svc/routes /v2, then GET /v2 on both DPs" "200/200" "$got"
CHANGE_MS=$ms
read -r got ms < <(propagation 404 "$BIN" snapshots rollback "$BEFORE")
row "portcullis snapshots rollback $BEFORE, then GET /v2 on both DPs" "404/404" "$got"
ROLLBACK_MS=$ms

printf '   %-70s %-24s %-24s\n' "request" "expected" "got"
for r in "${ROWS[@]}"; do echo "   $r"; done
echo
echo "   the new route was served by both data planes ${CHANGE_MS} ms after the admin API answered;"
echo "   the rollback, ${ROLLBACK_MS} ms after the command returned."
echo "   $PASS passed, $FAIL failed"
"$BIN" snapshots list --size 4 | sed 's/^/   /'

say "What the data planes counted (GET /metrics on their status ports) and logged (access logs)"
python3 - "$STATUS1" "$STATUS2" "$DEMO" <<'PY'
import collections, re, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
requests, auth = collections.Counter(), collections.Counter()
for port in sys.argv[1:3]:
    text = opener.open("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
    for name, labels, value in re.findall(r'^(portcullis_dp_\w+)\{([^}]*)\} (\S+)$', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name == "portcullis_dp_requests_total" and float(value):
            requests["%s %s" % (labels["route"], labels["status_class"])] += int(float(value))
        elif name == "portcullis_dp_header_cert_auth_total" and float(value):
            auth[labels["reason"]] += int(float(value))
print("   requests by route and status class:", ", ".join("%s=%d" % kv for kv in sorted(requests.items())))
print("   header-cert-auth decisions by reason:", ", ".join("%s=%d" % kv for kv in sorted(auth.items())))
lines = []
for n in (1, 2):
    try:
        lines += [l for l in open("%s/dp-%d/access.log" % (sys.argv[3], n)) if '"route":"mtls"' in l]
    except OSError:
        pass
if lines:
    print("   an access log line of /mtls:", lines[-1].strip())
PY

say "Running"
cat <<EOF
   ALB stand-in   $ALB  (nginx; curl --cacert $PKI/server-ca.pem --cert $PKI/client-chain.pem --key $PKI/client.key $ALB/mtls)
   data planes    http://127.0.0.1:$PROXY1  http://127.0.0.1:$PROXY2  (status: http://127.0.0.1:$STATUS1/status  http://127.0.0.1:$STATUS2/status)
   metrics        http://127.0.0.1:$STATUS1/metrics  http://127.0.0.1:$STATUS2/metrics  $ADMIN/metrics
   access logs    $DEMO/dp-1/access.log  $DEMO/dp-2/access.log
   admin API      $ADMIN  ($BIN snapshots list --admin-url $ADMIN)
   files          $DEMO  (PKI, nginx.conf, logs, SQLite)
EOF
if [ "${DEMO_EXIT:-0}" = "1" ] || [ "$FAIL" -ne 0 ]; then
  [ "$FAIL" -eq 0 ] || { echo "   the tour failed: see $UP_LOG and $NGINX_DIR/error.log" >&2; exit 1; }
  exit 0
fi
echo "   Ctrl-C stops everything the demo started."
while alive "$UP"; do sleep 1; done
echo "portcullis up exited; see $UP_LOG" >&2
exit 1
