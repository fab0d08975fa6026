"""A pipelined-request flood against an HTTP port, as a separate process.

    python tests/support/flood.py HOST PORT SECONDS CONNECTIONS

Each of CONNECTIONS threads, until SECONDS have passed, opens a connection and tries to
send 20 MB of ``GET /x HTTP/1.1`` back to back (every other connection first sends a
request the server answers only after a database look-up, so the flood waits behind a
pending request), reconnecting whenever the server cuts it. Prints one JSON line:
connections made, how many the server cut, how many took all 20 MB, the most bytes one
connection got through. Runs in its own process, at the lowest CPU priority, so that what
the measuring test sees is the server's event loop, not an attacker's machine sharing its
two cores with the server (a real attacker's CPU is elsewhere).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

REQUEST = b"GET /x HTTP/1.1\r\n\r\n"
FLOOD = REQUEST * (20_000_000 // len(REQUEST))
# Answered after an asynchronous credentials check (the line does not exist: 401).
PENDING = b"GET /live/nobody/nothing/1.ts HTTP/1.1\r\nHost: x\r\n\r\n"


def flood_once(host: str, port: int, pending: bool, deadline: float) -> tuple[bool | None, int]:
    """(cut by the server, bytes it accepted) for one connection; None: the time ran out
    before the server either cut it or took everything."""
    sent = 0
    with socket.create_connection((host, port), timeout=5) as sock:
        view = memoryview(PENDING + FLOOD if pending else FLOOD)
        try:
            while sent < len(view) and time.monotonic() < deadline:
                sent += sock.send(view[sent : sent + (1 << 16)])
        except (ConnectionResetError, BrokenPipeError):
            return True, sent
        except TimeoutError:
            return False, sent  # the server stopped reading (paused): not cut, not through
        if sent < len(view):
            return None, sent
        # All of it went into the kernel; was it cut afterwards?
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            while sock.recv(1 << 16):
                pass
            return True, sent
        except (ConnectionResetError, BrokenPipeError):
            return True, sent
        except TimeoutError:
            return (False if time.monotonic() < deadline else None), sent


def main() -> None:
    host, port, seconds, connections = (
        sys.argv[1],
        int(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    os.nice(19)
    deadline = time.monotonic() + seconds
    stats = {"connections": 0, "cut": 0, "through": 0, "max_accepted": 0, "refused": 0}
    lock = threading.Lock()

    def worker(index: int) -> None:
        while time.monotonic() < deadline:
            try:
                cut, sent = flood_once(host, port, index % 2 == 1, deadline)
            except OSError:
                with lock:
                    stats["refused"] += 1
                time.sleep(0.01)
                continue
            if cut is None:
                continue  # the flood's time ran out on this one
            with lock:
                stats["connections"] += 1
                stats["cut"] += cut
                stats["through"] += sent == len(FLOOD) + (len(PENDING) if index % 2 else 0)
                stats["max_accepted"] = max(stats["max_accepted"], sent)
            time.sleep(0.005)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
