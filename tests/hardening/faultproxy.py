"""A loopback HTTP proxy in front of a real registry that injects faults.

One request per client connection (the answer says ``Connection: close``), each forwarded on
a fresh upstream connection. A :class:`Fault` applies to requests whose path contains
``match`` (and whose method is ``method``), at most ``times`` times:

- ``cut``: forward the answer's headers and ``arg`` bytes of its body, then close;
- ``status``: answer HTTP ``arg`` (e.g. 500) without asking the registry;
- ``stall``: forward the headers and ``arg`` body bytes, then send nothing (until stopped);
- ``corrupt``: forward the answer with one body byte changed.

Threads only; every wait is bounded, and :meth:`FaultProxy.stop` ends them all.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_STALL = 60.0  # a stalled answer gives up by itself after this long


@dataclass
class Fault:
    kind: str  # cut | status | stall | corrupt
    match: str  # substring of the request path
    arg: int = 0
    times: int | None = 1  # None: every time
    method: str = "GET"
    hits: int = 0


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, fault
    on_request: Callable[[str, str], None] | None = None  # called before each is answered

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True, name="faultproxy")
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def blob_gets(self, digest: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == "GET" and p.endswith(digest))

    # -- serving ---------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.method == method
                    and fault.match in path
                    and (fault.times is None or fault.hits < fault.times)
                ):
                    fault.hits += 1
                    self.requests.append((method, path, fault.kind))
                    return fault
            self.requests.append((method, path, None))
        return None

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            with conn:
                if conn.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS hello: plain HTTP only
                    return
                head, body = _read_message_head(conn)
                if head is None:
                    return
                lines = head.split(b"\r\n")
                method, path, _ = lines[0].decode("latin-1").split(" ", 2)
                length = _content_length(lines)
                while len(body) < length:
                    more = conn.recv(65536)
                    if not more:
                        return
                    body += more
                fault = self._pick(method, path)
                if self.on_request is not None:
                    self.on_request(method, path)
                if fault is not None and fault.kind == "status":
                    conn.sendall(
                        f"HTTP/1.1 {fault.arg} Fault\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n".encode()
                    )
                    return
                headers = [
                    ln
                    for ln in lines[1:]
                    if ln and not ln.lower().startswith((b"connection:", b"keep-alive:"))
                ]
                request = b"\r\n".join([lines[0], *headers, b"Connection: close", b"", b""])
                with socket.create_connection(self.upstream, timeout=10) as up:
                    up.sendall(request + body)
                    self._relay(up, conn, fault, method)
        except OSError:
            return

    def _relay(
        self, up: socket.socket, conn: socket.socket, fault: Fault | None, method: str
    ) -> None:
        rhead, rbody = _read_message_head(up)
        if rhead is None:
            return
        rlines = [
            ln
            for ln in rhead.split(b"\r\n")
            if not ln.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        conn.sendall(b"\r\n".join([*rlines, b"Connection: close", b"", b""]))
        sent = 0
        corrupted = False
        limit = fault.arg if fault is not None and fault.kind in ("cut", "stall") else None
        while True:
            chunk = rbody if rbody else up.recv(65536)
            rbody = b""
            if not chunk:
                break
            if limit is not None and sent + len(chunk) >= limit:
                conn.sendall(chunk[: limit - sent])
                if fault is not None and fault.kind == "stall":
                    self._stop.wait(MAX_STALL)
                return  # cut: close without the rest
            if fault is not None and fault.kind == "corrupt" and not corrupted:
                chunk = chunk[:-1] + bytes([chunk[-1] ^ 0xFF])
                corrupted = True
            conn.sendall(chunk)
            sent += len(chunk)


def _read_message_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _content_length(lines: list[bytes]) -> int:
    for line in lines:
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1].strip() or 0)
    return 0
