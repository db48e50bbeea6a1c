"""The contenders: how each is started against the fake upstream, and the requests each is sent.

Every contender gets the same conversation and the same upstream answers (nginx, `upstream.py`):
`json` for plain requests, `sse64`/`sse512` for streams and `hold` for streams that stay open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from load import Request
from procs import free_port

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
PEERS_PY = BENCH / ".venv-peers" / "bin" / "python"
PORTKEY_JS = BENCH / "node-peers" / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
GATEWAY_KEY = "bench-key"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]
JSON_HEADERS = {"Content-Type": "application/json"}
KINDS = ("json", "sse64", "sse512", "hold")


def _dump(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def openai_body(model: str, stream: bool) -> bytes:
    body: dict[str, object] = {"model": model, "messages": MESSAGES, "max_tokens": 256, "temperature": 0.6}
    if stream:
        body["stream"] = True
    return _dump(body)


@dataclass
class Contender:
    name: str
    argv: Callable[[int, int, Path], list[str]]  # (own port, upstream port, workdir) -> command
    env: Callable[[int, int, Path], dict[str, str]]
    request: Callable[[str, int], Request]  # (kind, upstream port) -> request
    note: str = ""
    startup_timeout: float = 60
    cores: str = "0"  # taskset's list: every contender gets core 0 alone, unless it runs several workers


def direct_request(kind: str, upstream: int) -> Request:
    return Request(f"/{kind}/v1/chat/completions", openai_body(kind, kind != "json"), JSON_HEADERS)


def _gateway_models(workdir: Path, upstream: int) -> Path:
    lines = []
    for kind in KINDS:
        slug = "qwq-32b" if kind == "json" else f"qwq-32b-{kind}"
        lines += [
            f"[models.{slug}]",
            f"[[models.{slug}.targets]]",
            'adapter = "openai"',
            f'base_url = "http://127.0.0.1:{upstream}/{kind}/v1"',
            'model = "Qwen/QwQ-32B"',
            "",
        ]
    path = workdir / "gateway-models.toml"
    path.write_text("\n".join(lines))
    return path


def gateway_slug_request(kind: str, upstream: int) -> Request:
    slug = "qwq-32b" if kind == "json" else f"qwq-32b-{kind}"
    body: dict[str, object] = {"messages": MESSAGES, "max_tokens": 256, "temperature": 0.6}
    if kind != "json":
        body["stream"] = True
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {GATEWAY_KEY}"}
    return Request(f"/{slug}", _dump(body), headers)


def gateway_openai_request(kind: str, upstream: int) -> Request:
    slug = "qwq-32b" if kind == "json" else f"qwq-32b-{kind}"
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {GATEWAY_KEY}"}
    return Request("/v1/chat/completions", openai_body(slug, kind != "json"), headers)


def _litellm_config(workdir: Path, upstream: int) -> Path:
    lines = ["model_list:"]
    for kind in KINDS:
        lines += [
            f"  - model_name: bench-{kind}",
            "    litellm_params:",
            "      model: openai/Qwen/QwQ-32B",
            f"      api_base: http://127.0.0.1:{upstream}/{kind}/v1",
            "      api_key: bench-upstream-key",
        ]
    path = workdir / "litellm.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


LITELLM_KEY = "sk-bench-master-key"


def litellm_request(kind: str, upstream: int) -> Request:
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {LITELLM_KEY}"}
    return Request("/v1/chat/completions", openai_body(f"bench-{kind}", kind != "json"), headers)


def portkey_request(kind: str, upstream: int) -> Request:
    headers = {
        **JSON_HEADERS,
        "Authorization": "Bearer bench-upstream-key",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://127.0.0.1:{upstream}/{kind}/v1",
    }
    return Request("/v1/chat/completions", openai_body("Qwen/QwQ-32B", kind != "json"), headers)


def gateway_contenders(checkout: Path, label: str) -> list[Contender]:
    """The gateway of the checkout at `checkout` (its own `.venv`), on both of its main routes."""
    binary = str(checkout / ".venv" / "bin" / "qwq-gateway")

    def env(port: int, up: int, wd: Path) -> dict[str, str]:
        return {
            "API_KEYS": GATEWAY_KEY,
            "MODELS_FILE": str(_gateway_models(wd, up)),
            "LOG_LEVEL": "info",
            "POOL_MAX_CONNECTIONS": "2048",  # the open-streams cell holds 1,000 upstream connections
            "DATA_DIR": str(wd),  # the default state store (SQLite): the run's own, not the checkout's
        }

    return [
        Contender(
            f"{label} /qwq-32b", lambda port, up, wd: [binary, "--port", str(port)], env, gateway_slug_request
        ),
        # Two worker processes need two cores: both, so the second shares core 1 with wrk and nginx.
        Contender(
            f"{label} /qwq-32b --workers 2",
            lambda port, up, wd: [binary, "--port", str(port), "--workers", "2"],
            env,
            gateway_slug_request,
            cores="0,1",
        ),
        Contender(
            f"{label} /v1/chat/completions",
            lambda port, up, wd: [binary, "--port", str(port)],
            env,
            gateway_openai_request,
        ),
    ]


def observe_contenders(checkout: Path) -> list[Contender]:
    """The price of observability, measured in the same run: `/qwq-32b` with metrics off and text logs,
    then with metrics on and JSON logs (docs/operations.md). The report prints their ratio."""
    binary = str(checkout / ".venv" / "bin" / "qwq-gateway")

    def env(metrics: str, log_format: str) -> Callable[[int, int, Path], dict[str, str]]:
        return lambda port, up, wd: {
            "API_KEYS": GATEWAY_KEY,
            "MODELS_FILE": str(_gateway_models(wd, up)),
            "LOG_LEVEL": "info",
            "POOL_MAX_CONNECTIONS": "2048",
            "METRICS": metrics,
            "LOG_FORMAT": log_format,
        }

    argv: Callable[[int, int, Path], list[str]] = lambda port, up, wd: [binary, "--port", str(port)]  # noqa: E731
    return [
        Contender(OBSERVE_OFF, argv, env("0", "text"), gateway_slug_request),
        Contender(OBSERVE_ON, argv, env("1", "json"), gateway_slug_request),
    ]


OBSERVE_OFF = "observe off (no metrics, text logs) /qwq-32b"
OBSERVE_ON = "observe on (metrics, JSON logs) /qwq-32b"


def accounting_contenders(checkout: Path) -> list[Contender]:
    """The cost of managed keys and usage accounting: `/qwq-32b` with a static key and no state store,
    then with a managed key (created by `qwq-gateway keys create` as the contender starts) accounted in
    SQLite, then in Redis (a `redis-server` in the contender's process group, so its CPU counts too)."""
    binary = str(checkout / ".venv" / "bin" / "qwq-gateway")
    keys: dict[str, Path] = {}

    def env(store: str) -> Callable[[int, int, Path], dict[str, str]]:
        def make(port: int, up: int, wd: Path) -> dict[str, str]:
            url = {"off": "off", "sqlite": f"sqlite:///{wd / f'bench-{port}.db'}"}.get(store, "")
            values = {
                "API_KEYS": GATEWAY_KEY,
                "MODELS_FILE": str(_gateway_models(wd, up)),
                "LOG_LEVEL": "info",
                "POOL_MAX_CONNECTIONS": "2048",
                "DATA_DIR": str(wd),
            }
            if url:
                values["STATE_URL"] = url
            return values

        return make

    def argv(store: str) -> Callable[[int, int, Path], list[str]]:
        def make(port: int, up: int, wd: Path) -> list[str]:
            serve = f"exec {binary} --port {port}"
            if store == "off":
                return ["sh", "-c", serve]
            keys[store] = wd / f"key-{store}-{port}.json"
            create = f"{binary} keys create --name bench > {keys[store]}"
            if store == "sqlite":
                return ["sh", "-c", f"{create} && {serve}"]
            redis_port = free_port()
            redis = (
                f"redis-server --port {redis_port} --save '' --appendonly no --dir {wd} "
                f">{wd / f'redis-{redis_port}.log'} 2>&1 & "
                f"until redis-cli -p {redis_port} ping >/dev/null 2>&1; do sleep 0.05; done; "
                f"export STATE_URL=redis://127.0.0.1:{redis_port}/0; "
            )
            return ["sh", "-c", f"{redis}{create} && {serve}"]

        return make

    def request(store: str) -> Callable[[str, int], Request]:
        def make(kind: str, upstream: int) -> Request:
            plain = gateway_slug_request(kind, upstream)
            if store == "off":
                return plain
            key = json.loads(keys[store].read_text())["key"]
            return Request(plain.path, plain.body, {**plain.headers, "Authorization": f"Bearer {key}"})

        return make

    return [
        Contender("qwq-gateway static key, no store", argv("off"), env("off"), request("off")),
        Contender("qwq-gateway managed key, SQLite", argv("sqlite"), env("sqlite"), request("sqlite")),
        Contender("qwq-gateway managed key, Redis", argv("redis"), env("redis"), request("redis")),
    ]


def contenders(baseline: Path | None = None) -> list[Contender]:
    """`baseline`: another checkout of the gateway (with its own `.venv`), measured in the same run."""
    uvicorn_fast = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return [
        Contender(
            "reference (Starlette+aiohttp)",
            lambda port, up, wd: [
                str(PEERS_PY),
                "-m",
                "uvicorn",
                "reference:app",
                "--port",
                str(port),
                *uvicorn_fast,
            ],
            lambda port, up, wd: {"REF_UPSTREAM": f"http://127.0.0.1:{up}", "PYTHONPATH": str(BENCH)},
            direct_request,
        ),
        *gateway_contenders(ROOT, "qwq-gateway"),
        *accounting_contenders(ROOT),
        *(gateway_contenders(baseline, "baseline") if baseline else []),
        *observe_contenders(ROOT),
        Contender(
            "LiteLLM proxy",
            lambda port, up, wd: [
                str(BENCH / ".venv-peers" / "bin" / "litellm"),
                "--config",
                str(_litellm_config(wd, up)),
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            lambda port, up, wd: {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_LOG": "ERROR",
                "LITELLM_MASTER_KEY": LITELLM_KEY,
            },
            litellm_request,
            startup_timeout=180,
        ),
        Contender(
            "Portkey gateway (Node)",
            lambda port, up, wd: ["node", str(PORTKEY_JS), f"--port={port}", "--headless"],
            lambda port, up, wd: {"NODE_ENV": "production"},
            portkey_request,
        ),
    ]
