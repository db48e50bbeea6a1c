"""Would compiled code make the gateway cheaper? The request path compiled with Cython, against itself.

Copies `worker/` and `schemas/` to a temporary folder, compiles the modules a request passes through
(`worker/web`, `routing`, `upstreams`, `dialects`, `surfaces`, `core`, `observe`, `answer`) to C
extensions with Cython, and serves that copy (`PYTHONPATH`) beside the checkout's pure-Python gateway,
measured turn about (`interleave.py`). `--sync-only` compiles only the modules without `async def` or
`await` (parsing, validation, rendering, the IR), leaving the coroutines and async generators to the
interpreter.

Cython (pinned below) is installed with pip into `scripts/bench/.cython`, ignored by git: it is not a
dependency of the gateway. It compiles with `annotation_typing=False`, because otherwise it turns
annotations such as `list[...]` into exact type checks that refuse values the Python code accepts (a
tuple where a sequence is read). mypyc, the other compiler that reads these type hints, cannot build
this code: it does not implement async generators, the shape of the gateway's answer path.

Usage (needs wrk, nginx and gcc, as `scripts/bench.sh`):
`.venv/bin/python scripts/bench/compiled_cost.py [--sync-only] [--rounds N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import interleaved
from targets import ROOT

CYTHON = "cython==3.1.8"
CYTHON_DIR = ROOT / "scripts" / "bench" / ".cython"
REQUEST_PATH = ("web", "routing", "upstreams", "dialects", "surfaces", "core", "observe", "answer")


def install_cython() -> None:
    if not (CYTHON_DIR / "Cython").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(CYTHON_DIR), CYTHON]
        subprocess.run(pip, check=True)


def modules(root: Path, sync_only: bool) -> list[Path]:
    found = []
    for package in REQUEST_PATH:
        for path in sorted((root / "worker" / package).rglob("*.py")):
            if path.name == "__init__.py":
                continue
            text = path.read_text()
            if sync_only and ("async def" in text or "await " in text):
                continue
            found.append(path)
    return found


def compile_module(root: Path, path: Path) -> None:
    name = ".".join(path.relative_to(root).with_suffix("").parts)
    source = path.with_suffix(".c")
    cython = [sys.executable, "-m", "cython", "-3", "-X", "annotation_typing=False", "--module-name", name]
    env = {"PYTHONPATH": str(CYTHON_DIR), "PATH": "/usr/bin:/bin"}
    subprocess.run([*cython, "-o", str(source), str(path)], check=True, env=env, capture_output=True)
    target = path.with_name(path.stem + str(sysconfig.get_config_var("EXT_SUFFIX")))
    include = sysconfig.get_paths()["include"]
    gcc = ["gcc", "-shared", "-fPIC", "-O2", f"-I{include}", str(source), "-o", str(target)]
    subprocess.run(gcc, check=True, capture_output=True)


def build(root: Path, sync_only: bool) -> int:
    """A compiled copy of the gateway in `root` (for PYTHONPATH); how many modules were compiled."""
    shutil.copytree(ROOT / "worker", root / "worker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "schemas", root / "schemas")
    chosen = modules(root, sync_only)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda path: compile_module(root, path), chosen))
    probe = (
        "import worker.routing.router as m, worker.dialects.validation as v; print(m.__file__, v.__file__)"
    )
    where = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(root)},
        cwd=root,  # not the checkout's folder, whose `worker` would be found first
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    expected = [not sync_only, True]  # the router holds coroutines; validation does not
    if [path.startswith(str(root)) and path.endswith(suffix) for path in where] != expected:
        raise SystemExit(f"the compiled copy is not the one imported: {where}")
    return len(chosen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sync-only", action="store_true", help="compile only modules without coroutines")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    install_cython()
    root = Path(tempfile.mkdtemp(prefix="qwq-compiled-"))
    try:
        count = build(root, args.sync_only)
        setups = {"pure Python": {}, "Cython-compiled": {"PYTHONPATH": str(root)}}
        cells = interleaved(setups, args.rounds, args.seconds, args.connections)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    kind = "modules without coroutines" if args.sync_only else "modules"
    print(
        f"\n/qwq-32b, {args.connections} connections, {args.rounds} alternating rounds of {args.seconds:g} s;"
    )
    print(f"{count} {kind} of the request path compiled with {CYTHON}\n")
    print("| | req/s (median) | CPU ms/request (median) |\n|---|---|---|")
    for name in setups:
        print(f"| {name} | {cells.median_rate(name):,.0f} | {cells.median_cpu(name):.3f} |")
    cpu_ratio = cells.median_cpu("Cython-compiled") / cells.median_cpu("pure Python")
    print(f"\ncompiled / pure Python: CPU per request {cpu_ratio:.2f}x")
    print(
        json.dumps({"modules": count, "rates": cells.rates, "cpu_ms": cells.cpu_ms, "cpu_ratio": cpu_ratio})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
