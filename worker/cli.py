"""`qwq-gateway`: serve the gateway with uvicorn on the configured host and port."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from worker.config.settings import SettingsError, load_settings


def fastest(module: str) -> str:
    """uvloop's event loop and httptools' parser when installed (uvicorn[standard] brings both), else
    uvicorn's pure-Python choices. Named explicitly so a missing wheel shows up as "auto" in one place."""
    return module if importlib.util.find_spec(module) is not None else "auto"


def http_protocol() -> str:
    """httptools' parser with the gateway's limits on request heads (worker/web/protocol.py); uvicorn's
    pure-Python h11 where httptools is missing, which bounds only the head's size. Named by its import
    path: uvicorn hands it to each worker process it spawns."""
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    return "worker.web.protocol:GuardedHttpToolsProtocol"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qwq-gateway", description="Serve the QwQ-32B edge gateway.")
    parser.add_argument("--host", help="listen address (default: HOST setting)")
    parser.add_argument("--port", type=int, help="listen port (default: PORT setting)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        # Build once here so that a bad configuration stops start-up with its message, not a traceback.
        from worker.state import check_config

        check_config(settings)
    except SettingsError as exc:
        print(f"qwq-gateway: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(
        "worker.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop=fastest("uvloop"),
        http=http_protocol(),
        # Client limits (docs/deploying.md#client-limits): uvicorn's own knobs; the head's time, size
        # and header count
        # are held by the protocol class above, the body's time by the app.
        h11_max_incomplete_event_size=settings.max_header_bytes,
        limit_concurrency=settings.max_connections or None,
        timeout_keep_alive=int(settings.client_keepalive_timeout),
        access_log=False,  # the gateway logs every request itself, including 499s
        # The gateway reads neither the client's address nor the scheme, so uvicorn's rewriting of
        # them from X-Forwarded-* headers would be work on every request for nothing.
        proxy_headers=False,
        log_level=settings.log_level,
        # A backstop only: the app ends every open request SHUTDOWN_GRACE seconds after SIGTERM
        # (worker/web/shutdown.py); uvicorn's own cut, later, drops connections without an answer.
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 3,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
