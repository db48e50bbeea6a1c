"""`qwq-gateway`: serve the gateway with uvicorn on the configured host and port."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from worker.config.settings import Settings, SettingsError, load_settings


def fastest(module: str) -> str:
    """uvloop's event loop and httptools' parser when installed (uvicorn[standard] brings both), else
    uvicorn's pure-Python choices. Named explicitly so a missing wheel shows up as "auto" in one place."""
    return module if importlib.util.find_spec(module) is not None else "auto"


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's reading of `X-Forwarded-For`/`-Proto`, only from the proxies `FORWARDED_ALLOW_IPS`
    trusts. Without any, the rewriting stays off: a client could name any address it likes, and it
    would be work on every request for nothing."""
    if not settings.forwarded_allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


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
        http=fastest("httptools"),
        access_log=False,  # the gateway logs every request itself, including 499s
        **proxy_options(settings),
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
