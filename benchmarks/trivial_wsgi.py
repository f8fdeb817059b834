"""The bridge's floor: a trivial WSGI app on waitress, configured like ``lightbox bridge``.

``python -m benchmarks.trivial_wsgi PORT THREADS`` answers every request with a
small JSON body at once, so the bridge's figures can be read against what
waitress and the HTTP client alone cost on this machine in the same run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status":"ok"}'


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the body (if any) and answer 200 with a small JSON document."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def main(argv: list[str]) -> int:
    """Serve until killed."""
    import waitress

    port, threads = int(argv[0]), int(argv[1])
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=threads,
                                    ident="floor", channel_request_lookahead=5)
    print("ready", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
