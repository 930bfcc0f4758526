"""Helper of tests/dissect/test_tunnels.py: real curl through a tiny SOCKS5 / HTTP CONNECT proxy, captured.

Run as ``unshare -n python tunnel_clients.py OUT.pcap`` (root): inside a network namespace of its own it
brings up the loopback, starts ``dumpcap`` on it, an HTTP server (the "pool"), and a proxy that speaks SOCKS5
(no authentication, CONNECT by name or IPv4) and HTTP CONNECT and sends every target to that server; then it
runs ``curl --socks5-hostname`` and ``curl -p -x`` to ``pool.supportxmr.com`` and ``curl --socks5-hostname``
to ``www.example.com``. Nothing leaves the namespace, which ends with the process. Ports are ephemeral.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time


class Pool(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a short JSON body."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        body = b'{"status":"ok"}\n'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server name
        """Quiet."""


def recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


class Proxy(socketserver.BaseRequestHandler):
    """SOCKS5 or HTTP CONNECT by the first byte; every target is the local pool server."""

    target: tuple[str, int] = ("127.0.0.1", 0)

    def handle(self) -> None:
        conn = self.request
        first = recv_exact(conn, 1)
        if first == b"\x05":
            n = recv_exact(conn, 1)[0]
            recv_exact(conn, n)
            conn.sendall(b"\x05\x00")
            _ver, _cmd, _rsv, atyp = recv_exact(conn, 4)
            if atyp == 3:
                recv_exact(conn, recv_exact(conn, 1)[0])
            else:
                recv_exact(conn, 4 if atyp == 1 else 16)
            recv_exact(conn, 2)
            conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
        else:
            head = first
            while not head.endswith(b"\r\n\r\n"):
                head += recv_exact(conn, 1)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        upstream = socket.create_connection(self.target)
        relay(conn, upstream)


def shut(s: socket.socket) -> None:
    """Shut a socket down both ways, if it is still open."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                shut(s)

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    b.close()


def wait_for_capture(out: str, past: int = 24) -> None:
    """Knock on a closed port until the capture file is longer than ``past`` bytes (24: the pcap file
    header). dumpcap says it is capturing before it is (the file is not even there yet), and the
    first curl must not go unseen; at the end, the knock is written after everything before it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1).close()
        except OSError:
            pass  # refused: the RST is what we want to see
        if os.path.exists(out) and os.path.getsize(out) > past:
            return
        time.sleep(0.02)
    raise SystemExit("dumpcap captured nothing within 60 s")


def main(out: str) -> None:
    """Capture the three curl sessions into ``out``."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    dump = subprocess.Popen(
        ["dumpcap", "-q", "-P", "-i", "lo", "-f", "tcp", "-w", out],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert dump.stderr is not None
    for line in dump.stderr:  # dumpcap says when it listens
        if "Capturing on" in line:
            break
    wait_for_capture(out)
    pool = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pool)
    Proxy.target = ("127.0.0.1", pool.server_address[1])
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Proxy)
    for server in (pool, proxy):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    pport, port = proxy.server_address[1], pool.server_address[1]
    for args in (
        ["--socks5-hostname", f"127.0.0.1:{pport}", f"http://pool.supportxmr.com:{port}/"],
        ["-p", "-x", f"http://127.0.0.1:{pport}", f"http://pool.supportxmr.com:{port}/"],
        ["--socks5-hostname", f"127.0.0.1:{pport}", f"http://www.example.com:{port}/"],
    ):
        subprocess.run(["curl", "-sS", "--max-time", "20", "-o", os.devnull, *args], check=True)
    pool.shutdown()
    proxy.shutdown()
    wait_for_capture(out, os.path.getsize(out))
    dump.send_signal(signal.SIGINT)  # dumpcap writes what it holds, then exits
    dump.wait(timeout=30)
    print(pport, port)


if __name__ == "__main__":
    main(sys.argv[1])
