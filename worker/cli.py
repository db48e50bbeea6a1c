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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("keys", "usage"):  # the state store's commands (worker/manage_cli.py)
        from worker.manage_cli import main as manage

        return manage(argv)
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
        # The gateway reads neither the client's address nor the scheme, so uvicorn's rewriting of
        # them from X-Forwarded-* headers would be work on every request for nothing.
        proxy_headers=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
