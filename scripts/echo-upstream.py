#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the proxy integration tests (127.0.0.1 only, standard library only).

Prints "upstream listening on 127.0.0.1:PORT" once bound (port 0 = OS-assigned), then answers every request by
reading its whole body (Content-Length or chunked) and replying according to the query string:

  (default)                 200 JSON echo: method, path (with query), headers, body length and SHA-256,
                            whether the body came chunked, the connection number, the HTTP version
  mode=slow&ms=N            the echo, after sleeping N ms
  mode=stall&ms=N           sleeps N ms before reading the body at all (the proxy's writes back up), then the echo
  mode=big&bytes=N[&chunked=1]  N bytes of a fixed pattern, Content-Length or chunked, written in 64 KiB pieces
  mode=status&code=N        status N with a small JSON body and an X-Upstream-Error header
  mode=hop                  the echo, plus hop-by-hop headers the proxy must remove
  mode=close                the echo with "Connection: close", then closes
  mode=early                200, chunked, its head sent before the request body is read; then {"body_length": N}
  mode=dropnext             the echo, keep-alive; the next request on this connection is read and the connection
                            closed without an answer (an upstream closing an idle keep-alive connection as it is reused)

GET /__stats (sent directly, not through the proxy) answers {"connections": C, "requests": R}.

With `--tls CERT KEY` (after the port) it serves HTTPS with that PEM certificate and key; the handshake runs in
the connection's thread, so a client that fails it (a proxy refusing the certificate) stalls nobody else.
"""
import hashlib
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATS = {"connections": 0, "requests": 0}
PATTERN = bytes(range(256)) * 256  # 64 KiB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add 40 ms per response.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with LOCK:
            STATS["connections"] += 1
            self.connection_number = STATS["connections"]

    def log_message(self, *args):
        pass

    def read_body(self):
        digest = hashlib.sha256()
        length = 0
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 65536))
                    if not piece:
                        raise ConnectionError("body cut short")
                    digest.update(piece)
                    remaining -= len(piece)
                    length += len(piece)
                self.rfile.readline(16)
        else:
            remaining = int(self.headers.get("Content-Length", "0") or "0")
            while remaining:
                piece = self.rfile.read(min(remaining, 65536))
                if not piece:
                    raise ConnectionError("body cut short")
                digest.update(piece)
                remaining -= len(piece)
                length += len(piece)
        return length, digest.hexdigest(), chunked

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        if self.path == "/__stats":
            with LOCK:
                stats = dict(STATS)
            self.send_json(200, stats)
            return
        if getattr(self, "drop_next", False):
            self.close_connection = True
            return
        with LOCK:
            STATS["requests"] += 1
        query = parse_qs(urlsplit(self.path).query)
        mode = query.get("mode", [""])[0]
        if mode == "stall":
            time.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
        if mode == "early":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            length, _, _ = self.read_body()
            body = json.dumps({"body_length": length}).encode()
            self.wfile.write(b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
            return
        length, sha, chunked = self.read_body()
        echo = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": length,
            "body_sha256": sha,
            "chunked": chunked,
            "connection": self.connection_number,
            "version": self.request_version,
        }
        if mode == "slow":
            time.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
            self.send_json(200, echo)
        elif mode == "big":
            total = int(query.get("bytes", ["0"])[0])
            as_chunks = query.get("chunked", ["0"])[0] == "1"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if as_chunks:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(total))
            self.end_headers()
            remaining = total
            while remaining:
                piece = PATTERN[: min(remaining, len(PATTERN))]
                if as_chunks:
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                remaining -= len(piece)
            if as_chunks:
                self.wfile.write(b"0\r\n\r\n")
        elif mode == "status":
            code = int(query.get("code", ["500"])[0])
            self.send_json(code, {"upstream": "error", "code": code}, [("X-Upstream-Error", "yes")])
        elif mode == "hop":
            self.send_json(200, echo, [("Connection", "X-Hop-Response"), ("X-Hop-Response", "1"),
                                       ("Keep-Alive", "timeout=5"), ("Proxy-Authenticate", "Basic"),
                                       ("Upgrade", "h2c"), ("X-End-To-End", "kept")])
        elif mode == "dropnext":
            self.drop_next = True
            self.send_json(200, echo)
        elif mode == "close":
            self.close_connection = True
            self.send_json(200, echo, [("Connection", "close")])
        else:
            self.send_json(200, echo)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TLSServer(Server):
    context = None

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if len(sys.argv) > 4 and sys.argv[2] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        TLSServer.context = context
        server = TLSServer(("127.0.0.1", port), Handler)
    else:
        server = Server(("127.0.0.1", port), Handler)
    print("upstream listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
