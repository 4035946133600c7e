"""Shared pieces of the proxy benchmarks (python3 standard library only).

Processes started here listen on 127.0.0.1 only, are tracked by PID and stopped by PID; every wait is bounded.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(explicit):
    if explicit:
        return explicit
    release = os.path.join(ROOT, ".build", "release", "portcullis")
    debug = os.path.join(ROOT, ".build", "debug", "portcullis")
    if os.access(release, os.X_OK):
        return release
    if os.access(debug, os.X_OK):
        log("WARNING: using the DEBUG build; figures are not representative (run `make bench`)")
        return debug
    sys.exit("no portcullis binary: run `swift build -c release --product portcullis` first")


def require_tools(*names):
    missing = [n for n in names if shutil.which(n) is None and not os.access(f"/usr/sbin/{n}", os.X_OK)]
    if missing:
        sys.exit(f"missing tools: {', '.join(missing)} (`make bench` installs them: scripts/ensure-packages.sh)")


def tool(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


def wait_port(port, proc, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{what} exited early (status {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class Process:
    """One child process, its output in a log file, stopped by PID (SIGTERM, then SIGKILL after a grace time)."""

    def __init__(self, name, args, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL,
                                     env=env)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, grace=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Client:
    """Keep-alive HTTP/1.1 to one 127.0.0.1 port."""

    def __init__(self, port, timeout=120):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                h = dict(headers or {})
                if body is not None:
                    h.setdefault("Content-Type", "application/json")
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, dict(r.getheaders()), data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


# --- the fixed upstream and the reference proxies -------------------------------------------------------------

ORIGIN_BODY = "hello from the origin, a small fixed body\n"


def nginx_origin_conf(workdir, port):
    return f"""
worker_processes 1;
daemon off;
user root;
pid {workdir}/origin.pid;
error_log {workdir}/origin-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp-origin;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        large_client_header_buffers 4 32k;
        location / {{
            default_type text/plain;
            return 200 "{ORIGIN_BODY.strip()}\\n";
        }}
    }}
}}
"""


def nginx_proxy_conf(workdir, port, origin_port, master=True):
    """nginx as Kong runs it: 1 worker, upstream keepalive, the X-Forwarded-* headers Kong sets."""
    return f"""
worker_processes 1;
daemon off;
master_process {"on" if master else "off"};
user root;
pid {workdir}/nginx-proxy.pid;
error_log {workdir}/nginx-proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp-proxy;
    proxy_temp_path {workdir}/tmp-proxy-up;
    keepalive_requests 100000000;
    large_client_header_buffers 4 32k;
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 64;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Path $request_uri;
            proxy_buffering on;
        }}
    }}
}}
"""


def haproxy_conf(port, origin_port):
    return f"""
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend be
backend be
    server origin 127.0.0.1:{origin_port}
"""


def start_nginx(name, workdir, conf, port, prefix=None):
    path = os.path.join(workdir, f"{name}.conf")
    with open(path, "w") as f:
        f.write(conf)
    for d in ("tmp-origin", "tmp-proxy", "tmp-proxy-up"):
        os.makedirs(os.path.join(workdir, d), exist_ok=True)
    args = (prefix or []) + [tool("nginx"), "-p", workdir, "-c", path, "-e", os.path.join(workdir, f"{name}-error.log")]
    p = Process(name, args, workdir)
    wait_port(port, p.proc, name, timeout=120)
    return p


def start_haproxy(workdir, port, origin_port):
    path = os.path.join(workdir, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(haproxy_conf(port, origin_port))
    p = Process("haproxy", [tool("haproxy"), "-f", path, "-db"], workdir)
    wait_port(port, p.proc, "haproxy")
    return p


# --- Portcullis: a control plane and one data plane -----------------------------------------------------------

class Portcullis:
    """`portcullis control-plane` plus `portcullis data-plane --workers W` on 127.0.0.1, in `workdir`."""

    def __init__(self, binary, workdir, workers=1, dp_prefix=None, log_level="warning"):
        self.binary = binary
        self.workdir = workdir
        self.admin_port = free_port()
        self.proxy_port = free_port()
        self.status_port = free_port()
        sock_dir = os.path.join(workdir, "cluster")
        os.makedirs(sock_dir, mode=0o700, exist_ok=True)
        self.socket = os.path.join(sock_dir, "cluster.sock")
        self.cp = Process("control-plane", [
            binary, "control-plane", "--db", os.path.join(workdir, "p.db"),
            "--admin-listen", f"127.0.0.1:{self.admin_port}", "--cluster-socket", self.socket,
            "--log-level", log_level], workdir)
        wait_port(self.admin_port, self.cp.proc, "control plane")
        self.admin = Client(self.admin_port)
        self.dp = None
        self.start_data_plane(workers, dp_prefix, log_level)

    def start_data_plane(self, workers, prefix=None, log_level="warning"):
        self.dp = Process("data-plane", (prefix or []) + [
            self.binary, "data-plane", "--cluster-socket", self.socket,
            "--proxy-listen", f"127.0.0.1:{self.proxy_port}", "--status-listen", f"127.0.0.1:{self.status_port}",
            "--cache-dir", os.path.join(self.workdir, "dp-cache"), "--workers", str(workers),
            # The published figures were measured without an access log.
            "--access-log", "off", "--log-level", log_level], self.workdir)
        wait_port(self.status_port, self.dp.proc, "data plane", timeout=300)
        self.status = Client(self.status_port, timeout=30)

    def load(self, document):
        status, headers, body = self.admin.request("POST", "/config", json.dumps(document).encode())
        if status != 201:
            sys.exit(f"POST /config failed: {status} {body[:300]!r}")
        return int(headers.get("X-Portcullis-Config-Version") or json.loads(body)["version"])

    def wait_version(self, version, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                _, _, body = self.status.request("GET", "/status")
                v = json.loads(body).get("config_version")
                if v is not None and v >= version:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(f"the data plane did not apply version {version} within {timeout} s")

    def stop(self):
        if self.dp is not None:
            self.dp.stop(grace=120)
        self.cp.stop()


def bench_document(origin_port, filler_routes=0):
    """One service on the fixed upstream with the measured route `/bench`, plus optional filler routes."""
    services = [{"name": "origin", "url": f"http://127.0.0.1:{origin_port}",
                 "routes": [{"name": "bench", "paths": ["/bench"], "strip_path": False}]}]
    per = 100
    for s in range((filler_routes + per - 1) // per):
        n = min(per, filler_routes - s * per)
        services.append({"name": f"filler-{s}", "url": f"http://127.0.0.1:{origin_port}",
                         "routes": [{"name": f"f-{s}-{r}", "paths": [f"/f{s}/r{r}"]} for r in range(n)]})
    return {"_format_version": "3.0", "services": services}


# --- wrk ------------------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def wrk(url, threads=1, connections=32, duration=10, headers=None, timeout=None):
    """Runs wrk once; returns rps, p50/p90/p99 (ms), requests, non-2xx/3xx and socket errors."""
    args = [tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout or duration + 60).stdout
    result = {"rps": 0.0, "p50": None, "p90": None, "p99": None, "requests": 0, "non2xx": 0, "errors": 0,
              "raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.MULTILINE)
        if m:
            result[f"p{pct}"] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        result["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["errors"] = sum(int(g) for g in m.groups())
    return result


def certificate_header(size=1500):
    """An ALB-style url-encoded PEM of about `size` bytes (its content is not verified by a plain route)."""
    import base64
    import hashlib
    raw = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(256))
    b64 = base64.b64encode(raw).decode().replace("/", "%2F").replace("=", "%3D")
    head, tail = "-----BEGIN%20CERTIFICATE-----%0A", "-----END%20CERTIFICATE-----%0A"
    lines, at = [], 0
    while len(head) + sum(len(x) for x in lines) + len(tail) < size and at < len(b64):
        lines.append(b64[at:at + 64] + "%0A")
        at += 64
    return head + "".join(lines) + tail


def mint_client_chain(workdir):
    """A root CA, an intermediate and a client leaf (P-256, clientAuth) minted with the openssl CLI in `workdir`.

    Returns (root PEM, the ALB header value: the leaf and intermediate PEMs URL-encoded as ALB sends them, with
    `+`, `=` and `/` left unescaped)."""
    import subprocess
    import urllib.parse
    d = os.path.join(workdir, "pki")
    os.makedirs(d, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    with open(os.path.join(d, "ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:client.bench.example\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    for name in ("root", "int", "leaf"):
        run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
    run("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=Bench Root CA", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "root.pem")
    run("req", "-new", "-key", "int.key", "-subj", "/CN=Bench Intermediate CA", "-out", "int.csr")
    run("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
        "-days", "30", "-extfile", "ca.ext", "-out", "int.pem")
    run("req", "-new", "-key", "leaf.key", "-subj", "/CN=client.bench.example", "-out", "leaf.csr")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial",
        "-days", "30", "-extfile", "leaf.ext", "-out", "leaf.pem")

    def read(name):
        with open(os.path.join(d, name)) as f:
            return f.read()
    chain = read("leaf.pem") + read("int.pem")
    return read("root.pem"), urllib.parse.quote(chain, safe="+=/")


def hca_route(origin_port, root_pem):
    """The pieces of a declarative document for `/mtls`: the origin behind header-cert-auth (ALB header,
    loopback as the trusted source, no consumer lookup, revocation skipped)."""
    ca_id = "7c3f0a4e-0000-4000-8000-0000000000b1"
    service = {"name": "origin-mtls", "url": f"http://127.0.0.1:{origin_port}/bench",
               "routes": [{"name": "mtls", "paths": ["/mtls"], "plugins": [{
                   "name": "header-cert-auth", "config": {
                       "ca_certificates": [ca_id], "certificate_header_name": "X-Amzn-Mtls-Clientcert",
                       "certificate_header_format": "url_encoded", "secure_source": True,
                       "trusted_sources": ["127.0.0.1/32"], "skip_consumer_lookup": True,
                       "revocation_check_mode": "SKIP"}}]}]}
    return {"id": ca_id, "cert": root_pem}, service

