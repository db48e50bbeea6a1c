"""Stage the Cloudflare Worker's sources in `.worker-bundle/` (wrangler.toml's `[build] command`).

Wrangler bundles the folder of `main` as the module root. Staged there: the `worker` package as a real
package (so `import worker.app` works as everywhere else), the vendored schemas inside it as
`worker/schemas/` (where `importlib.resources` finds them, as in an installed wheel), and `entry.py`,
the module wrangler's `main` names, which hands the runtime `worker.entry.Default`. Standard library
only: it runs before anything is installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = '''"""The Worker's main module: the gateway's entry point is `worker.entry.Default`."""

from worker.entry import Default

__all__ = ["Default"]
'''


def stage(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(ROOT / "worker", out / "worker", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    schemas = out / "worker" / "schemas"
    schemas.mkdir()
    for source in [*ROOT.joinpath("schemas").glob("*.json"), ROOT / "schemas" / "__init__.py"]:
        shutil.copy2(source, schemas / source.name)
    (out / "entry.py").write_text(ENTRY)


if __name__ == "__main__":
    stage(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".worker-bundle")
