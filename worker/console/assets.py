"""Serves the console's static files from the package, with headers that keep a hostile page out.

The files are read once at start-up (a few tens of kilobytes): a request is a dictionary look-up,
never a disk read, and no path from the URL ever reaches the file system, so `..` and friends cannot
escape the folder. Every answer carries a strict Content-Security-Policy (scripts only from this
origin, no inline script, no framing), `nosniff` and `X-Frame-Options`, so even text a model wrote
that slipped into the page as markup could neither run nor load anything.
"""

from __future__ import annotations

from importlib import resources

from worker.web.asgi import Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # The files change with the installed package only; revalidating each time keeps an upgrade visible.
    (b"cache-control", b"no-cache"),
]
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".png": b"image/png",
    ".svg": b"image/svg+xml",
}


def load_static() -> dict[str, tuple[bytes, bytes]]:
    """`{relative name: (content type, bytes)}` for every file of known type under `static/`."""
    files: dict[str, tuple[bytes, bytes]] = {}
    root = resources.files("worker.console").joinpath("static")
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
                continue
            kind = _TYPES.get("." + entry.name.rsplit(".", 1)[-1])
            if kind is not None:
                files[prefix + entry.name] = (kind, entry.read_bytes())
    return files


class StaticAssets:
    """`GET /` and `GET /console/<name>`: the console's files; anything else under `/console/` is 404."""

    PREFIX = "/console/"

    def __init__(self) -> None:
        self.files = load_static()

    def lookup(self, path: str) -> tuple[bytes, bytes] | None:
        if path in ("/", "/console", self.PREFIX):
            return self.files.get("index.html")
        if path.startswith(self.PREFIX):
            return self.files.get(path[len(self.PREFIX) :])
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.lookup(scope["path"])
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            status, kind, body = 405, b"text/plain; charset=utf-8", b"Only GET and HEAD are served here\n"
            extra = [(b"allow", b"GET, HEAD")]
        elif found is None:
            status, kind, body, extra = 404, b"text/plain; charset=utf-8", b"Not found\n", []
        else:
            status, (kind, body), extra = 200, found, []
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
