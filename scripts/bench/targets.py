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
from verdicts import FEATURES, LITELLM, MANAGED, OBSERVE_OFF, OBSERVE_ON, PORTKEY, STATIC, THIN

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
    light: bool = False  # requests and streams only: no soak and no open-streams cell (a shorter run)


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


def gateway_anthropic_request(kind: str, upstream: int) -> Request:
    slug = "qwq-32b" if kind == "json" else f"qwq-32b-{kind}"
    body: dict[str, object] = {
        "model": slug,
        "system": MESSAGES[0]["content"],
        "messages": MESSAGES[1:],
        "max_tokens": 256,
        "temperature": 0.6,
    }
    if kind != "json":
        body["stream"] = True
    headers = {**JSON_HEADERS, "x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
    return Request("/v1/messages", _dump(body), headers, b"message_stop")


def gateway_responses_request(kind: str, upstream: int) -> Request:
    """`store: false`: like the other surfaces' rows, nothing is written per request."""
    slug = "qwq-32b" if kind == "json" else f"qwq-32b-{kind}"
    body: dict[str, object] = {
        "model": slug,
        "instructions": MESSAGES[0]["content"],
        "input": MESSAGES[1]["content"],
        "max_output_tokens": 256,
        "temperature": 0.6,
        "store": False,
    }
    if kind != "json":
        body["stream"] = True
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {GATEWAY_KEY}"}
    return Request("/v1/responses", _dump(body), headers, b"response.completed")


# Limits that never trigger in a run (a few million requests at most): the gate does all its work
# (admission against the store, reservation, settlement) and always admits.
NEVER_TRIGGERING = "--rpm 1000000000 --tpm 1000000000000"


@dataclass(frozen=True)
class Setup:
    """How one gateway row runs: its state store, its key and its settings."""

    store: str = "default"
    """`default` (SQLite in the run's directory), `off` (`STATE_URL=off`), `redis` (a `redis-server` in
    the contender's process group, so its CPU counts in the row)."""
    key: str = "static"
    """`static` (`API_KEYS`), `managed` (made by `qwq-gateway keys create` as the contender starts) or
    `limited` (managed, with rpm and tpm limits that never trigger)."""
    env: tuple[tuple[str, str], ...] = ()
    workers: int = 1


def gateway(
    name: str,
    checkout: Path,
    setup: Setup,
    request: Callable[[str, int], Request],
    cores: str = "0",
    light: bool = False,
) -> Contender:
    """A row of the gateway of `checkout` (its own `.venv`)."""
    binary = checkout / ".venv" / "bin" / "qwq-gateway"
    key_files: dict[int, Path] = {}

    def env(port: int, up: int, wd: Path) -> dict[str, str]:
        values = {
            "API_KEYS": GATEWAY_KEY,
            "MODELS_FILE": str(_gateway_models(wd, up)),
            "LOG_LEVEL": "info",  # every request writes its access line
            "POOL_MAX_CONNECTIONS": "2048",  # the open-streams cell holds 1,000 upstream connections
            "DATA_DIR": str(wd),  # the default state store (SQLite): the run's own, not the checkout's
            **dict(setup.env),
        }
        if setup.store == "off":
            values["STATE_URL"] = "off"
        return values

    def argv(port: int, up: int, wd: Path) -> list[str]:
        script = ""
        if setup.store == "redis":
            redis_port = free_port()
            script += (
                f"redis-server --port {redis_port} --save '' --appendonly no --dir {wd} "
                f">{wd / f'redis-{redis_port}.log'} 2>&1 & "
                f"until redis-cli -p {redis_port} ping >/dev/null 2>&1; do sleep 0.05; done; "
                f"export STATE_URL=redis://127.0.0.1:{redis_port}/0; "
            )
        if setup.key != "static":
            key_files[port] = wd / f"key-{port}.json"
            limits = NEVER_TRIGGERING if setup.key == "limited" else ""
            script += f"{binary} keys create --name bench {limits} > {key_files[port]} && "
        workers = f" --workers {setup.workers}" if setup.workers > 1 else ""
        return ["sh", "-c", f"{script}exec {binary} --port {port}{workers}"]

    def make(kind: str, up: int) -> Request:
        plain = request(kind, up)
        if not key_files:
            return plain
        key = json.loads(next(iter(key_files.values())).read_text())["key"]
        headers = {
            k: v.replace(GATEWAY_KEY, key) if v.endswith(GATEWAY_KEY) else v for k, v in plain.headers.items()
        }
        return Request(plain.path, plain.body, headers, plain.end)

    return Contender(name, argv, env, make, cores=cores, light=light)


def gateway_contenders(checkout: Path, label: str) -> list[Contender]:
    """The gateway of `checkout` on each surface, as deployed by default (SQLite store, metrics on,
    access log on), and with two worker processes."""
    default = Setup()
    return [
        gateway(f"{label} /qwq-32b", checkout, default, gateway_slug_request),
        # Two worker processes need two cores: both, so the second shares core 1 with wrk and nginx.
        gateway(
            f"{label} /qwq-32b --workers 2",
            checkout,
            Setup(workers=2),
            gateway_slug_request,
            cores="0,1",
            light=True,
        ),
        gateway(f"{label} /v1/chat/completions", checkout, default, gateway_openai_request, light=True),
        gateway(f"{label} /v1/messages", checkout, default, gateway_anthropic_request, light=True),
        gateway(f"{label} /v1/responses", checkout, default, gateway_responses_request, light=True),
    ]


def feature_contenders(checkout: Path) -> list[Contender]:
    """What the features cost, all on `/qwq-32b`:
    - observability: metrics off and text logs, then metrics on and JSON logs;
    - keys and accounting: a static key with no state store, then a managed key accounted in SQLite and
      in Redis;
    - features on: a managed key with rpm and tpm limits that never trigger, usage accounting and
      metrics, on SQLite and on Redis (against the managed-key rows, the price of limits)."""
    metrics_on = (("METRICS", "1"),)
    rows = [
        gateway(
            OBSERVE_OFF,
            checkout,
            Setup(env=(("METRICS", "0"), ("LOG_FORMAT", "text"))),
            gateway_slug_request,
            light=True,
        ),
        gateway(
            OBSERVE_ON,
            checkout,
            Setup(env=(("METRICS", "1"), ("LOG_FORMAT", "json"))),
            gateway_slug_request,
            light=True,
        ),
        gateway(STATIC, checkout, Setup(store="off", env=metrics_on), gateway_slug_request, light=True),
    ]
    for store, label in (("default", "SQLite"), ("redis", "Redis")):
        managed = Setup(store=store, key="managed", env=metrics_on)
        limited = Setup(store=store, key="limited", env=metrics_on)
        rows.append(gateway(MANAGED.format(label), checkout, managed, gateway_slug_request, light=True))
        rows.append(gateway(FEATURES.format(label), checkout, limited, gateway_slug_request, light=True))
    return rows


STREAMING_REFERENCE = "reference (streaming response, bytes passed through)"


def thin_request(kind: str, upstream: int) -> Request:
    plain = direct_request(kind, upstream)
    return Request(plain.path, plain.body, {**plain.headers, "Authorization": f"Bearer {GATEWAY_KEY}"})


def references() -> list[Contender]:
    """The two yardsticks, served as the gateway is (uvicorn, uvloop, httptools, one process) with the
    project's own Python and packages (Starlette, uvicorn and aiohttp of the same versions)."""
    python = str(ROOT / ".venv" / "bin" / "python")
    uvicorn = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]

    def argv(module: str) -> Callable[[int, int, Path], list[str]]:
        return lambda port, up, wd: [python, "-m", "uvicorn", f"{module}:app", "--port", str(port), *uvicorn]

    def env(port: int, up: int, wd: Path) -> dict[str, str]:
        return {"REF_UPSTREAM": f"http://127.0.0.1:{up}", "REF_KEY": GATEWAY_KEY, "PYTHONPATH": str(BENCH)}

    return [
        Contender(THIN, argv("thin_reference"), env, thin_request),
        Contender(STREAMING_REFERENCE, argv("reference"), env, direct_request, light=True),
    ]


def contenders(baseline: Path | None = None) -> list[Contender]:
    """`baseline`: another checkout of the gateway (with its own `.venv`), measured in the same run."""
    return [
        *references(),
        *gateway_contenders(ROOT, "qwq-gateway"),
        *(gateway_contenders(baseline, "baseline") if baseline else []),
        *feature_contenders(ROOT),
        Contender(
            LITELLM,
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
            light=True,
        ),
        Contender(
            PORTKEY,
            lambda port, up, wd: ["node", str(PORTKEY_JS), f"--port={port}", "--headless"],
            lambda port, up, wd: {"NODE_ENV": "production"},
            portkey_request,
            light=True,
        ),
    ]
