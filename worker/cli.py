"""`qwq-gateway`: serve the gateway with uvicorn on the configured host and port."""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
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


def http_protocol() -> str:
    """httptools' parser with the gateway's limits on request heads (worker/web/protocol.py); uvicorn's
    pure-Python h11 where httptools is missing, which bounds only the head's size. Named by its import
    path: uvicorn hands it to each worker process it spawns."""
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    return "worker.web.protocol:GuardedHttpToolsProtocol"


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
        from worker.limits.deployment import check_exact
        from worker.state import check_config, state_url

        table = check_config(settings)
        check_exact(table, bool(state_url(settings)), args.workers, os.environ, sys.platform)
    except SettingsError as exc:
        print(f"qwq-gateway: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    with metrics_directory(args.workers if settings.metrics else 1):
        serve(uvicorn, args, settings)
    return 0


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """With several worker processes, a fresh directory where each keeps its metric values, so that a
    scrape of any one of them reports the sum over all (prometheus-client's multiprocess mode); removed
    when the server stops. An operator's own `PROMETHEUS_MULTIPROC_DIR` is used as it is."""
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="qwq-gateway-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def server_logging(uvicorn: Any, log_format: str) -> dict[str, Any]:
    """uvicorn's own logging set-up, with every formatter JSON when `LOG_FORMAT=json`: the supervisor of
    `--workers N` writes lines too, before any app exists to configure them (`worker.observe.jsonlog`)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": "worker.observe.jsonlog.JsonFormatter"}
    return dict(config)


def serve(uvicorn: Any, args: argparse.Namespace, settings: Settings) -> None:
    uvicorn.run(
        "worker.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop=fastest("uvloop"),
        http=http_protocol(),
        # Client limits (docs/deploying.md#client-limits): uvicorn's own knobs; the head's time, size
        # and header count are held by the protocol class above, the body's time by the app.
        h11_max_incomplete_event_size=settings.max_header_bytes,
        limit_concurrency=settings.max_connections or None,
        timeout_keep_alive=int(settings.client_keepalive_timeout),
        access_log=False,  # the gateway logs every request itself, including 499s
        **proxy_options(settings),
        log_level=settings.log_level,
        log_config=server_logging(uvicorn, settings.log_format),
        # A backstop only: the app ends every open request SHUTDOWN_GRACE seconds after SIGTERM
        # (worker/web/shutdown.py); uvicorn's own cut, later, drops connections without an answer.
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 3,
    )


if __name__ == "__main__":
    raise SystemExit(main())
