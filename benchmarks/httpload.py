"""HTTP load from a second process: ``python -m benchmarks.httpload URL SECONDS CONCURRENCY``.

Each of CONCURRENCY threads sends GET requests on its own keep-alive
connection for SECONDS and counts the answers; prints one JSON line with
requests per second and the status codes seen. Knows nothing of LightBox.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def worker(host: str, port: int, path: str, until: float, counts: Counter[int],
           lock: threading.Lock) -> None:
    """Send requests until ``until`` (monotonic), reconnecting when the server closes."""
    local: Counter[int] = Counter()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    while time.monotonic() < until:
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            local[resp.status] += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
        except (OSError, http.client.HTTPException):
            local[0] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.close()
    with lock:
        counts.update(local)


def main(argv: list[str]) -> int:
    """Run the load and print the result."""
    url, seconds, concurrency = argv[0], float(argv[1]), int(argv[2])
    u = urlsplit(url)
    counts: Counter[int] = Counter()
    lock = threading.Lock()
    start = time.monotonic()
    until = start + seconds
    threads = [threading.Thread(target=worker, args=(u.hostname, u.port, u.path or "/", until,
                                                      counts, lock)) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    total = sum(counts.values())
    ok = sum(n for code, n in counts.items() if 200 <= code < 300)
    print(json.dumps({"url": url, "seconds": round(elapsed, 3), "concurrency": concurrency,
                      "requests": total, "ok": ok, "rps": round(total / elapsed, 1),
                      "ok_rps": round(ok / elapsed, 1),
                      "status": {str(k): v for k, v in sorted(counts.items())}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
