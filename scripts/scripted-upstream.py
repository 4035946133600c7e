#!/usr/bin/env python3
"""An upstream that answers with exact bytes, for the proxy's response-framing tests (127.0.0.1 only, standard
library only). Prints "upstream listening on 127.0.0.1:PORT" once bound (port 0 = OS-assigned).

Each connection reads request heads (requests carry no body) and answers by path:

  /chunked   200, chunked with a chunk extension and a trailer field; keep-alive
  /close     200 with neither length nor chunks: the body ends with the connection
  /lf        200 whose head lines end in a lone LF; keep-alive
  /named     200 whose Connection field names X-Private (which must not be forwarded); keep-alive
  /early     103 Early Hints, then 200; keep-alive
  /extra     200 with Content-Length 2 followed by bytes that belong to no response
  /invalid   a status line that is not one, then close
  /badchunk  200 chunked whose first chunk size is not hex, then close
  /split     200 whose head is sent a few bytes at a time; keep-alive
  /__stats   {"connections": C, "requests": R} (sent directly, not through the proxy)
"""
import json
import socket
import sys
import threading
import time

LOCK = threading.Lock()
STATS = {"connections": 0, "requests": 0}

ANSWERS = {
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: chunked\r\n\r\n"
                b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    "/close": b"HTTP/1.1 200 OK\r\nX-Up: close\r\n\r\nthe body ends with the connection",
    "/lf": b"HTTP/1.1 200 OK\nContent-Length: 2\nX-Up: lf\n\nok",
    "/named": b"HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: secret\r\nX-Public: ok\r\n"
              b"Content-Length: 2\r\n\r\nok",
    "/early": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: early\r\n\r\nafter",
    "/extra": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "/invalid": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "/badchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    "/split": b"HTTP/1.1 200 OK\r\nX-Up: split\r\nContent-Length: 5\r\n\r\nsplit",
}
CLOSING = {"/close", "/invalid", "/badchunk"}


def serve(conn):
    with LOCK:
        STATS["connections"] += 1
    buffer = b""
    try:
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1].decode("latin-1").split("?")[0]
            with LOCK:
                STATS["requests"] += 1
                stats = json.dumps(STATS).encode()
            if path == "/__stats":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(stats), stats))
                return
            answer = ANSWERS.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            if path == "/split":
                for i in range(0, len(answer), 7):
                    conn.sendall(answer[i:i + 7])
                    time.sleep(0.01)
            else:
                conn.sendall(answer)
            if path in CLOSING:
                return
    finally:
        conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    print("upstream listening on 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
