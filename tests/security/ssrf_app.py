"""A deliberately vulnerable app, run on an instance with `keyless run --instance-id ...`:
GET /fetch?url=U fetches U with a plain GET (no headers of the caller's choosing) and returns what
came back -- the classic server-side request forgery.

On EC2, 169.254.169.254 is the instance's own metadata service; under `keyless run` that address
is the loopback endpoint in AWS_EC2_METADATA_SERVICE_ENDPOINT, so the app maps the one onto the
other, as the instance's network would. It never sends anything to 169.254.169.254 itself.

Prints "listening <port>" once ready; stops when its stdin closes.
"""

from __future__ import annotations

import http.server
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

LINK_LOCAL = "169.254.169.254"


def resolve(url: str) -> str | None:
    """The URL as the instance's network would route it; None for anything off loopback."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname == LINK_LOCAL:
        imds = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "").rstrip("/")
        if not imds.startswith("http://127.0.0.1:"):
            return None
        return imds + parts.path + (f"?{parts.query}" if parts.query else "")
    return url if parts.hostname == "127.0.0.1" else None


class FetchForMe(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        asked = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("url", [""])[0]
        target = resolve(asked)
        if target is None:
            status, body = 400, b"not fetching that"
        else:
            try:
                with urllib.request.urlopen(target, timeout=5) as upstream:
                    status, body = 200, upstream.read()
            except urllib.error.HTTPError as exc:
                status, body = 502, f"upstream said {exc.code}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FetchForMe)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    print(f"listening {app.server_address[1]}", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    app.shutdown()


if __name__ == "__main__":
    main()
