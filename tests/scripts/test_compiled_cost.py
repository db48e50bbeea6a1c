"""Which modules scripts/bench/compiled_cost.py compiles: the request path, whole or its synchronous part."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_compiled_cost", ROOT / "scripts/bench/compiled_cost.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compiled_cost = _load()


def names(sync_only: bool) -> set[str]:
    return {str(path.relative_to(ROOT)) for path in compiled_cost.modules(ROOT, sync_only)}


def test_every_module_of_the_request_path_is_compiled_but_package_markers() -> None:
    chosen = names(sync_only=False)
    assert {"worker/routing/router.py", "worker/dialects/validation.py", "worker/web/access_log.py"} <= chosen
    assert {"worker/upstreams/wire/exchange.py", "worker/answer/reasoning.py"} <= chosen  # subfolders too
    assert not any(name.endswith("__init__.py") for name in chosen)
    assert not any(name.startswith(("worker/store/", "worker/limits/", "worker/console/")) for name in chosen)


def test_sync_only_leaves_every_module_with_coroutines_to_the_interpreter() -> None:
    chosen = names(sync_only=True)
    assert "worker/dialects/validation.py" in chosen
    assert "worker/routing/router.py" not in chosen and "worker/answer/reasoning.py" not in chosen
    for name in chosen:
        text = (ROOT / name).read_text()
        assert "async def" not in text and "await " not in text, name
